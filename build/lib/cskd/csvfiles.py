"""Reading and appending the project's CSV files (runs.csv, epoch CSVs, the paper's numbers).

Reading: text columns stay text, whatever they hold (``NA``, ``nan``, ``null``, ``None`` are labels like any other,
never missing values); numeric columns are numbers, an empty field being the only missing value. Records are parsed
one at a time, so a damaged one (a crash in the middle of an append, say) is named with its file and line number and
skipped, and every other row still counts.

Appending: a row is one ``os.write`` of the whole line, under the file's lock, to a file opened for appending; a short
write (full disk) is undone, so no partial line can be left behind by a failed append.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from filelock import FileLock

_INTEGER = re.compile(r"[+-]?\d+")
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # bytes that are not UTF-8, kept by the surrogateescape decoding


class CsvFileError(ValueError):
    """A CSV file that cannot be read at all (no header, required columns missing); the message names the file."""


@dataclass(frozen=True)
class DamagedLine:
    """A record that could not be read: its file, the (1-based) line it starts on, and what is wrong with it."""

    path: Path
    line: int
    problem: str

    def __str__(self) -> str:
        return f"{self.path}, line {self.line}: {self.problem}"


@dataclass(frozen=True)
class CsvTable:
    """The readable rows of a CSV file and the records that were skipped as damaged."""

    frame: pd.DataFrame
    damaged: list[DamagedLine]


def lock_for(path: Path) -> FileLock:
    """The inter-process lock guarding ``path`` (a sibling ``.lock`` file)."""
    return FileLock(str(path) + ".lock")


def read_csv_table(
    path: Path, *, text: Iterable[str], numbers: Iterable[str] = (), required: Iterable[str] = ()
) -> CsvTable:
    """The rows of the CSV file ``path``: columns in ``text`` as strings (``""`` when empty), columns in ``numbers``
    as numbers (NaN when empty; any other non-number makes the record damaged), other columns as numbers when every
    value is one, else as text. Raises :class:`CsvFileError` when the file has no header or lacks a ``required``
    column; a damaged record is listed in :attr:`CsvTable.damaged` and left out."""
    text_columns, number_columns = set(text), set(numbers)
    lines = io.StringIO(path.read_bytes().decode("utf-8", errors="surrogateescape"), newline="").readlines()
    if not lines or not lines[0].strip():
        raise CsvFileError(f"{path} has no header line (an empty file?)")
    header = next(csv.reader([lines[0]]))
    missing = [column for column in required if column not in header]
    if missing:
        raise CsvFileError(f"{path} lacks the columns {missing}: not the expected table (header: {header})")
    rows, damaged = [], []
    for line, record in _records(lines, len(header)):
        problem = record if isinstance(record, str) else _problem(record, header, number_columns)
        if problem:
            damaged.append(DamagedLine(path, line, problem))
        else:
            rows.append(record)
    columns = {name: [row[i] for row in rows] for i, name in enumerate(header)}
    frame = pd.DataFrame({name: _column(v, name, text_columns, number_columns) for name, v in columns.items()})
    return CsvTable(frame, damaged)


def _records(lines: list[str], width: int) -> Iterator[tuple[int, list[str] | str]]:
    """``(line number, fields)`` of every record after the header, or ``(line number, why)`` for one that is not
    valid CSV; blank lines are skipped.

    A record that does not parse into ``width`` fields is returned as it parsed and parsing resumes on its next
    physical line, so an unclosed quote in a damaged record cannot swallow the records after it.
    """
    index = 1
    while index < len(lines):
        if not lines[index].strip():
            index += 1
            continue
        consumed = 0

        def feed(start: int = index) -> Iterator[str]:
            nonlocal consumed
            for line in lines[start:]:
                consumed += 1
                yield line

        try:
            record: list[str] | str = next(csv.reader(feed(), strict=True))
        except csv.Error as error:
            record = f"not valid CSV ({error})"
        yield index + 1, record
        index += consumed if isinstance(record, list) and len(record) == width else 1


def _problem(record: list[str], header: list[str], numbers: set[str]) -> str:
    """What is wrong with ``record`` ("" when nothing)."""
    if len(record) != len(header):
        return f"{len(record)} fields where the header has {len(header)} (a partly written line?)"
    for name, value in zip(header, record, strict=True):
        if _NOT_UTF8.search(value):
            return f"column {name}: bytes that are not UTF-8"
        if name in numbers and value and _number(value) is None:
            return f"column {name}: {value[:40]!r} is not a number"
    return ""


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _column(values: list[str], name: str, text: set[str], numbers: set[str]) -> pd.Series:
    if name in text:
        return pd.Series(values, dtype=object)
    parsed = [math.nan if not v else _number(v) for v in values]
    if name not in numbers and any(p is None for p in parsed):
        return pd.Series(values, dtype=object)  # an undeclared text column
    if values and all(_INTEGER.fullmatch(v) for v in values):
        return pd.Series([int(v) for v in values], dtype="int64")
    return pd.Series(parsed, dtype="float64")


_reported: set[DamagedLine] = set()


def report_damaged(damaged: Iterable[DamagedLine]) -> None:
    """Tell the user, once per process and line, that a damaged record was skipped."""
    for item in damaged:
        if item not in _reported:
            _reported.add(item)
            print(
                f"cskd: warning: {item}; this record is ignored, the other rows count "
                f"(delete the line to silence this warning)",
                file=sys.stderr,
                flush=True,
            )


def append_line(path: Path, line: str, header: str) -> None:
    """Append one CSV ``line`` (ending with its line terminator) to ``path`` under the file's lock, with ``header``
    first when the file is new or empty.

    The bytes go out in one ``os.write`` on a descriptor opened with ``O_APPEND``; a short write is undone by
    truncating the file back to its size before. A file whose last line lacks its terminator (a write torn by a
    crash) gets one first, so the new row starts on a line of its own and the damaged line stays a single record.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with lock_for(path):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            prefix = header if size == 0 else ""
            if size and _last_byte(path, size) not in (b"\n", b"\r"):
                prefix = "\r\n"
            data = (prefix + line).encode("utf-8")
            written = os.write(fd, data)
            if written != len(data):
                os.ftruncate(fd, size)
                raise OSError(f"{path}: only {written} of {len(data)} bytes written (disk full?); the row was undone")
            os.fsync(fd)
        finally:
            os.close(fd)


def _last_byte(path: Path, size: int) -> bytes:
    with path.open("rb") as stream:
        stream.seek(size - 1)
        return stream.read(1)
