"""Widening a CSV file whose header predates columns added to its schema (runs.csv's recorded settings).

Columns are only ever added at the end of a schema, so an old file is widened by appending the new names to its
header and, to every record that has exactly the old header's fields, as many empty fields: old rows keep every value
byte for byte and read as before, their new columns empty. A damaged record (another field count, invalid CSV) is
kept as it is, still damaged. The new file replaces the old one atomically, under the file's lock.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

from cskd.csvfiles import CsvFileError, lock_for


def header_of(path: Path) -> list[str] | None:
    """The header of ``path`` (None when the file does not exist or is empty)."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    with path.open(newline="", encoding="utf-8", errors="surrogateescape") as stream:
        return next(csv.reader(stream), None)


def widen(path: Path, columns: Sequence[str]) -> bool:
    """Give ``path`` the header ``columns`` when its header is a prefix of them (returns whether it changed); raises
    :class:`~cskd.csvfiles.CsvFileError` when its header is something else."""
    header = header_of(path)
    if header is None or header == list(columns):
        return False
    if header != list(columns[: len(header)]):
        raise CsvFileError(f"{path}: its header is not a version of the expected one (header: {header})")
    added = len(columns) - len(header)
    with lock_for(path):
        text = path.read_bytes().decode("utf-8", errors="surrogateescape")
        lines = io.StringIO(text, newline="").readlines()
        if next(csv.reader([lines[0]])) != header:  # another process widened it meanwhile
            return False
        out = [",".join(columns) + "\r\n"]
        index = 1
        while index < len(lines):
            record, consumed = _record(lines, index)
            if record is None or len(record) != len(header) or not lines[index].strip():
                out.append(lines[index])  # blank or damaged: kept as it is (parsing resumes on the next line)
                index += 1
                continue
            chunk = "".join(lines[index : index + consumed])
            body = chunk.rstrip("\r\n")
            out.append(body + "," * added + chunk[len(body) :])
            index += consumed
        temp = path.with_name(path.name + ".widen.tmp")
        temp.write_bytes("".join(out).encode("utf-8", errors="surrogateescape"))
        os.replace(temp, path)
    return True


def _record(lines: list[str], index: int) -> tuple[list[str] | None, int]:
    """The record starting at ``lines[index]`` and the lines it spans (a damaged one: None and 1 line)."""
    consumed = 0

    def feed() -> object:
        nonlocal consumed
        for line in lines[index:]:
            consumed += 1
            yield line

    try:
        return next(csv.reader(feed(), strict=True)), consumed
    except (csv.Error, StopIteration):
        return None, 1
