"""All command-line code: ``cskd COMMAND`` (:mod:`cskd.cli.main`), one module per command, and the options several
commands share (:mod:`cskd.cli.arguments`). Nothing else in the package imports from here."""

from cskd.cli.main import main

__all__ = ["main"]
