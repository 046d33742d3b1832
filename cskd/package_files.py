"""Where the suites and the paper's numbers are read from, in a checkout and in an installed package alike.

The suite folder is, in order: the ``CSKD_SUITES`` environment variable (a folder of suite files; a suite may also be
given by its path); else the checkout's ``benchmarks/`` (a clone, or ``pip install -e .``); else the copy installed with
the package (``pip install .`` ships ``benchmarks/*.yaml``, ``paper_results.csv``, ``published_results.csv`` and the
teacher
checkpoints the suites name, ``reference/teachers/*.pt``, as package data at ``cskd/benchmarks/`` and
``cskd/reference/teachers/``, so a suite's relative ``../reference/teachers/...`` path holds in both layouts).
"""

from __future__ import annotations

import os
from pathlib import Path

#: the environment variable naming a folder of suite files
SUITES_ENV = "CSKD_SUITES"
_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent / "benchmarks"
_INSTALLED = _PACKAGE / "benchmarks"


def benchmarks_dir() -> Path:
    """The folder of suite files (see the module docstring for the rule)."""
    chosen = os.environ.get(SUITES_ENV)
    if chosen:
        return Path(chosen).expanduser().absolute()
    return _CHECKOUT if _CHECKOUT.is_dir() else _INSTALLED


def shipped_file(name: str) -> Path:
    """A file shipped beside the suites (``paper_results.csv``, ``published_results.csv``): the checkout's, else the
    installed copy (a ``CSKD_SUITES`` folder need not hold them)."""
    for folder in (_CHECKOUT, _INSTALLED):
        if (folder / name).is_file():
            return folder / name
    return _CHECKOUT / name
