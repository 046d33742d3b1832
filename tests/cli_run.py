"""Running the ``cskd`` command line in-process, as the tests do."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout


def cli(*argv: str) -> tuple[int, str, str]:
    """``cskd ARGV...`` run in this process: its exit code, stdout and stderr."""
    from cskd.cli import main

    with redirect_stdout(io.StringIO()) as out, redirect_stderr(io.StringIO()) as err:
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()
