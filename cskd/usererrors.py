"""Errors a user can cause and fix, told in one line with exit status 2 (docs/cli.md, Exit status).

The CLI's entry point turns a :class:`UserError`, an ``OSError`` (a read-only or full results folder, a path below a
file, a directory given for a file) and a CSV file that is not what it should be into ``error: ...`` on stderr,
naming the file and what to do, instead of a traceback.
"""

from __future__ import annotations

import errno
import shutil
import sys
from pathlib import Path

#: exit status of a command refused for its input or environment (argparse's own usage errors exit 2 too)
EXIT_USER_ERROR = 2


class UserError(Exception):
    """A problem with the command's input or environment; the message says what is wrong and what to do."""


def os_error_line(error: OSError) -> str:
    """One line for an ``OSError``: the file, what went wrong, and the fix."""
    path = error.filename or ""
    reason = error.strerror or str(error)
    where = f"{path}: " if path else ""
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{where}{reason}: cskd cannot write (or read) there; choose a folder you can write, e.g. --results-dir"
    if error.errno == errno.ENOSPC:
        return f"{where}no space left on the device ({_free_space(path)}): free some space or choose another folder"
    if error.errno == errno.ENOTDIR:
        return f"{where}{reason}: a part of this path is a file, not a folder; choose another path"
    if error.errno == errno.EISDIR:
        return f"{where}is a directory, where a file was expected; name the file"
    if error.errno == errno.ENOENT:
        return f"{where}no such file or folder"
    return f"{where}{reason}"


def _free_space(path: str) -> str:
    """How much space is free on the device holding ``path`` (or its nearest existing parent)."""
    folder = Path(path).absolute() if path else Path.cwd()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return "free space unknown"
    return f"{free / 2**20:.1f} MiB free in {folder}"


def user_error_line(error: BaseException) -> str | None:
    """The one line to tell the user for ``error`` when it is theirs to fix, else None (a bug: let it raise)."""
    if isinstance(error, UserError):
        return str(error)
    if isinstance(error, OSError):
        return os_error_line(error)
    csvfiles = sys.modules.get("cskd.csvfiles")  # imported (with pandas) only by commands that read CSV files
    if csvfiles is not None and isinstance(error, csvfiles.CsvFileError):
        return f"{error}: fix or move the file (a results folder's runs.csv is written by cskd run)"
    return None


class SuiteError(ValueError):
    """A suite file that cannot be used; the message names the file and the key (raised by :mod:`cskd.suite` and
    the modules that read a suite before it is validated)."""
