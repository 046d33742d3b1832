"""The glibc allocator settings every ``cskd`` process runs with, however it is started.

glibc's defaults hand large activation buffers back to the OS after each step and fault them in again on the next;
``MALLOC_MMAP_THRESHOLD_=1073741824`` and ``MALLOC_TRIM_THRESHOLD_=4294967296`` keep them, worth 23-55% of CPU
training speed (docs/performance.md, "Allocator"). glibc reads them once, when the process starts, so setting them in
``os.environ`` from Python is too late: a ``cskd`` command started without them replaces itself once (``os.execve``)
with the same command and the settings added. Values the user set are kept; ``CSKD_NO_ALLOCATOR_REEXEC=1`` turns the
re-exec off. ``scripts/env.sh`` exports the same values for the processes it starts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

SETTINGS = {"MALLOC_MMAP_THRESHOLD_": "1073741824", "MALLOC_TRIM_THRESHOLD_": "4294967296"}
#: set in the re-executed process, so that it never re-executes again
DONE_ENV = "CSKD_ALLOCATOR_REEXEC"
OFF_ENV = "CSKD_NO_ALLOCATOR_REEXEC"


def missing_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """The allocator settings absent from ``environ`` (with their values); empty when nothing is to be done."""
    if sys.platform != "linux" or environ.get(DONE_ENV) or environ.get(OFF_ENV):
        return {}
    return {name: value for name, value in SETTINGS.items() if name not in environ}


def reexec_command(argv: Sequence[str]) -> list[str]:
    """The command that runs the same ``cskd`` command again: this interpreter with ``-m cskd`` and the arguments."""
    return [sys.executable, "-m", "cskd", *argv[1:]]


def ensure_allocator_settings(argv: Sequence[str] | None = None) -> None:
    """Re-execute this ``cskd`` command with the allocator settings when any is missing (returns only when none is)."""
    missing = missing_settings(os.environ)
    if missing:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(
            sys.executable, reexec_command(sys.argv if argv is None else argv), {**os.environ, **missing, DONE_ENV: "1"}
        )
