"""Leftovers of a killed run, cleaned once when the suite is run again (docs/results.md, Interrupted runs).

A kill can leave a ``runs.csv`` line torn in the middle of its write (later rows then start on a line of their own,
and every read warns about the torn one) and temporary checkpoint or epoch files that were never renamed into place.
:func:`repair_torn_tail` rewrites runs.csv without its torn lines, keeping the original as a backup;
:func:`sweep_run_temporaries` removes a run's temporary files once its lock is held (so never another runner's).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from cskd.atomicfile import atomic_path, sweep_temporaries
from cskd.csvfiles import lock_for, read_csv_table
from cskd.results import FIRST_RUN_COLUMNS, NUMBER_COLUMNS, TEXT_COLUMNS

#: what csvfiles says about a record cut short by a crash (too few fields, or an unclosed quote)
_TORN = ("fields where the header has", "not valid CSV")


def repair_torn_tail(runs_csv: Path) -> str:
    """Rewrite ``runs_csv`` without the lines a crash tore (a record with too few fields or an unclosed quote),
    keeping the original as ``runs.csv.torn-<time>.bak``; what was done, printed ("" when nothing was torn)."""
    if not runs_csv.is_file() or runs_csv.stat().st_size == 0:
        return ""
    with lock_for(runs_csv):
        table = read_csv_table(runs_csv, text=TEXT_COLUMNS, numbers=NUMBER_COLUMNS, required=FIRST_RUN_COLUMNS)
        torn = sorted({d.line for d in table.damaged if any(mark in d.problem for mark in _TORN)})
        if not torn:
            return ""
        lines = runs_csv.read_bytes().splitlines(keepends=True)
        kept = [line for number, line in enumerate(lines, 1) if number not in torn]
        backup = runs_csv.with_name(f"{runs_csv.name}.torn-{datetime.now(UTC):%Y%m%dT%H%M%S}.bak")
        shutil.copy2(runs_csv, backup)
        with atomic_path(runs_csv) as temp:
            temp.write_bytes(b"".join(kept))
    message = (
        f"{runs_csv}: removed {len(torn)} line(s) torn by an interrupted write (line(s) "
        f"{', '.join(map(str, torn))}); the original is kept as {backup}"
    )
    print(message)
    return message


def sweep_run_temporaries(checkpoint: Path, epochs_csv: Path) -> list[Path]:
    """Remove the temporary files a killed writer left for one run (its checkpoint's and epoch CSV's); call with
    the run's lock held. The paths removed."""
    removed = sweep_temporaries(checkpoint.parent, f"{checkpoint.name}*")
    removed += sweep_temporaries(epochs_csv.parent, f"{epochs_csv.name}*")
    return removed
