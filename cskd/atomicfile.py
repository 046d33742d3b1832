"""Files written whole or not at all: a temporary file beside the target, renamed over it once complete.

A full disk or a kill while writing leaves the previous file (or none) and no partial one (never a 0-byte PNG); the
temporary file is removed when the write fails. Temporary names end in :data:`TEMP_SUFFIX`, so a resume can sweep the
ones a kill left behind (:func:`sweep_temporaries`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: the suffix of every temporary file cskd writes before renaming it into place
TEMP_SUFFIX = ".tmp"


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path to write ``path``'s content to; renamed to ``path`` when the block ends without an error,
    removed when it raises. It ends in ``path``'s own suffix (``.x-<random>.tmp.png``): writers such as matplotlib
    pick the format from the last suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=f"{TEMP_SUFFIX}{path.suffix}")
    os.close(handle)
    temp = Path(name)
    try:
        yield temp
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """``path.write_text(text)`` (UTF-8), whole or not at all."""
    with atomic_path(path) as temp:
        temp.write_text(text, encoding="utf-8")


def sweep_temporaries(folder: Path, pattern: str = "*") -> list[Path]:
    """Remove the temporary files (``*.tmp``, ``*.tmp.*``) matching ``pattern`` directly in ``folder`` that a
    killed writer left; the paths removed."""
    if not folder.is_dir():
        return []
    removed = []
    for path in folder.glob(pattern):
        if path.is_file() and (path.name.endswith(TEMP_SUFFIX) or f"{TEMP_SUFFIX}." in path.name):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
