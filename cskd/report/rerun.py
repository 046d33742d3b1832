"""The noise floor of a report, measured: the same runs trained again, compared run by run and cell by cell.

A run id fixes a run's configuration, seed and data, so two results folders holding the same run ids hold two
trainings of the same experiment; they differ only by what a rerun cannot control (floating-point rounding: the thread
count, the CPU's kernels, a memory layout; docs/noise.md). For the student runs that finished ok in both, with
accuracy x at the report's epoch rule (best or last), the spread is

* per run: |x_rerun(r) - x(r)|, its largest value and its median;
* per cell (pair x method): |mean_rerun - mean| over the cell's common runs, its largest value.

A difference between two methods smaller than these is not a result of the report, whatever its paired interval
says: the same runs, trained again, move by that much.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import pandas as pd

from cskd.report.cells import latest_attempts, normalise_runs
from cskd.report.tables import ReportTable

CELL = ["teacher", "student", "method"]


@dataclass(frozen=True)
class RerunSpread:
    """How far the same runs, trained again in ``source``, are from the report's (points of top-1)."""

    source: str
    runs: int  # student runs ok in both
    run_max: float
    run_median: float
    worst_run: str  # "method seed s (run id)"
    cell_max: float
    worst_cell: str  # "method (student)"


def _students_ok(runs: pd.DataFrame) -> pd.DataFrame:
    runs = latest_attempts(normalise_runs(runs))
    return runs[(runs["kind"] == "student") & (runs["status"] == "ok")]


def rerun_spread(table: ReportTable, rerun: pd.DataFrame, source: str) -> RerunSpread | None:
    """The spread between ``table``'s student runs and the same run ids in ``rerun`` (rows of a runs.csv);
    None when they have no ok student run in common."""
    column = f"{table.epoch_rule}_top1"
    own = _students_ok(table.results.runs).set_index("run_id")
    other = _students_ok(rerun).set_index("run_id")
    common = own.index.intersection(other.index)
    if common.empty:
        return None
    pairs = own.loc[common, [*CELL, "seed", column]].copy()
    pairs["rerun"] = other.loc[common, column].astype(float)
    pairs["moved"] = (pairs["rerun"] - pairs[column].astype(float)).abs()
    worst = pairs["moved"].idxmax()
    cells = pairs.groupby(CELL, sort=False)[[column, "rerun"]].mean()
    cell_moved = (cells["rerun"] - cells[column]).abs()
    teacher, student, method = cell_moved.idxmax()
    return RerunSpread(
        source=source,
        runs=len(pairs),
        run_max=float(pairs["moved"].max()),
        run_median=float(statistics.median(pairs["moved"])),
        worst_run=f"{pairs.loc[worst, 'method']} seed {int(pairs.loc[worst, 'seed'])} ({worst})",
        cell_max=float(cell_moved.max()),
        worst_cell=f"{method} ({teacher + ' -> ' if teacher else ''}{student})",
    )


def rerun_markdown(table: ReportTable, rerun: pd.DataFrame, source: str) -> list[str]:
    """The report's section on its rerun spread (module docstring)."""
    spread = rerun_spread(table, rerun, source)
    lines = ["## Rerun spread: the noise floor, measured", ""]
    if spread is None:
        return [*lines, f"{source} holds none of this report's student runs (no run id in common): no spread.", ""]
    return [
        *lines,
        f"The same {spread.runs} student runs (same run ids: configuration, seed and data) trained again in "
        f"{source} differ from these, at the {table.epoch_rule} epoch, by up to **{spread.run_max:.2f} points** per "
        f"run (median {spread.run_median:.2f}; largest: {spread.worst_run}) and by up to "
        f"**{spread.cell_max:.2f} points** per cell mean (largest: {spread.worst_cell}). A difference between methods "
        "smaller than this is not a result of this report: the same runs, trained again, move by that much "
        "(docs/noise.md).",
        "",
    ]
