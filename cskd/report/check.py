"""``check``: are a suite's results within a tolerance of the paper's numbers or of a reference run?

A compared cell is the mean over seeds of one (teacher, student, method) triple and one metric, in accuracy points.
Against the paper, the expected cells are the positions the suite declares (its pairs x methods, and its teachers)
that the suite's paper table prints (top-1, and top-5 where the table prints it). Against a reference ``runs.csv``
(written by the same suite, e.g. on another machine or an earlier commit), the expected cells are the reference's
successful cells of the same profile, top-1 and top-5, each compared by its mean over the reference's seeds (seeds
are not matched one by one, so a reference with other seeds still compares). An expected cell without a successful
result is a failure named ``missing``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from cskd.report.cells import (
    METRICS,
    CellKey,
    CellTable,
    Stats,
    check_epoch_rule,
    normalise_runs,
    read_runs_csv,
    select_profile,
)
from cskd.report.errors import ReportInputError
from cskd.report.numbers import format_diff, format_stats
from cskd.report.paper import paper_table
from cskd.report.suites import SuiteLike, SuiteView, suite_runs, view_suite
from cskd.report.tables import METRIC_TITLES, data_description, declared_keys, unknown_labels

#: expected mean of each (cell, metric)
Expected = dict[tuple[CellKey, str], float]
#: slack for the floating-point error of a mean, so a difference of exactly the tolerance passes
_EPSILON = 1e-9


@dataclass(frozen=True)
class CheckedCell:
    key: CellKey
    metric: str
    expected: float
    got: Stats
    tolerance: float

    @property
    def difference(self) -> float | None:
        return None if self.got.mean is None else self.got.mean - self.expected

    @property
    def outcome(self) -> str:
        """``pass``, ``FAIL`` (outside the tolerance) or ``missing`` (no successful run)."""
        if self.difference is None:
            return "missing"
        return "pass" if abs(self.difference) <= self.tolerance + _EPSILON else "FAIL"

    @property
    def name(self) -> str:
        return f"{self.key.label} · {METRIC_TITLES[self.metric]}"


@dataclass(frozen=True)
class CheckResult:
    against: str  # what the results were compared with
    epoch_rule: str
    profile: str | None
    tolerance: float
    cells: list[CheckedCell]
    notes: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[CheckedCell]:
        return [cell for cell in self.cells if cell.outcome != "pass"]

    @property
    def ok(self) -> bool:
        return not self.failures

    def render(self) -> str:
        """Every compared cell (expected, got, difference, outcome), then the verdict naming each failed cell."""
        header = ["cell", "expected", "got", "difference", "result"]
        lines = [
            [cell.name, f"{cell.expected:.2f}", format_stats(cell.got), format_diff(cell.difference), cell.outcome]
            for cell in self.cells
        ]
        heading = (
            f"Results ({self.epoch_rule} epoch, profile {self.profile}) against {self.against}, "
            f"tolerance ±{self.tolerance:.2f} points"
        )
        table = tabulate(lines, headers=header, tablefmt="simple", disable_numparse=True)
        if self.ok:
            verdict = [f"PASS: all {len(self.cells)} cells within ±{self.tolerance:.2f} points"]
        else:
            count = f"{len(self.failures)} of {len(self.cells)} cells"
            verdict = [f"FAIL: {count} outside ±{self.tolerance:.2f} points or missing:"]
            verdict += [f"  {cell.name} ({cell.outcome})" for cell in self.failures]
        return "\n".join([heading, *self.notes, "", table, "", *verdict])


def _paper_expectations(suite: SuiteView, runs: pd.DataFrame, notes: list[str]) -> tuple[str, Expected]:
    """The paper's values of the positions the suite declares under the runs' profile; notes on data and labels."""
    if not suite.paper_table:
        raise ReportInputError(
            f"suite {suite.name} reproduces no paper table: check it against a reference runs.csv instead"
        )
    paper = paper_table(suite.paper_table)
    notes.append(data_description(runs, suite.dataset, paper))
    if note := unknown_labels(suite, paper):
        notes.append(note)
    expected = {}
    for key in declared_keys(suite):
        for metric in paper.metrics:
            found = paper.lookup(key, metric)
            if found is not None:
                expected[(found[0], metric)] = found[1]
    return f"the {paper.noun} values ({paper.title})" if paper.published else f"the paper ({paper.title})", expected


def _reference_expectations(
    reference: pd.DataFrame, results: pd.DataFrame, profile: str | None, epoch_rule: str
) -> Expected:
    """The reference's successful cells; it must come from the same suite, profile and data as the results."""
    suites, reference_suites = set(results["suite"]), set(reference["suite"])
    if suites != reference_suites:
        raise ReportInputError(f"the reference holds suite(s) {sorted(reference_suites)}, the results {sorted(suites)}")
    reference = reference[reference["profile"] == profile]
    if reference.empty:
        raise ReportInputError(f"the reference has no runs of profile {profile!r}")
    ours, theirs = (set(frame["data_sha256"]) - {""} for frame in (results, reference))
    if ours and theirs and ours != theirs:
        raise ReportInputError(
            f"the reference was computed on other data (sha256 {sorted(theirs)}, the results {sorted(ours)})"
        )
    cells = CellTable(reference, epoch_rule)
    expected = {}
    for key in cells.cell_keys():
        for metric in METRICS:
            mean = cells.stats(key, metric).mean
            if mean is not None:
                expected[(key, metric)] = mean
    return expected


def check(
    results: pd.DataFrame,
    against: str | Path,
    *,
    tolerance: float = 1.0,
    metric: str = "best",
    suite: SuiteLike | None = None,
    profile: str | None = None,
) -> CheckResult:
    """Compare ``results`` (runs.csv rows) with the paper (``against="paper"``, needs ``suite``) or with a reference
    runs.csv (a path); ``metric``: accuracy at the ``best`` or ``last`` epoch; ``profile``: default the only one."""
    if tolerance < 0:
        raise ReportInputError(f"the tolerance must be >= 0 points, got {tolerance}")
    epoch_rule = check_epoch_rule(metric)
    runs = normalise_runs(results)
    runs, profile = select_profile(suite_runs(suite, runs) if suite is not None else runs, profile)
    if runs.empty:
        raise ReportInputError("there are no runs to check")
    got = CellTable(runs, epoch_rule)
    notes: list[str] = []
    if against == "paper":
        if suite is None:
            raise ReportInputError("checking against the paper needs the suite (its paper table): pass --suite")
        description, expected = _paper_expectations(view_suite(suite, profile), runs, notes)
    else:
        description = f"the reference {against}"
        expected = _reference_expectations(read_runs_csv(Path(against)), runs, profile, epoch_rule)
    if not expected:
        raise ReportInputError(f"nothing to compare: {description} has no value for any cell of these results")
    cells = [CheckedCell(key, m, value, got.stats(key, m), tolerance) for (key, m), value in expected.items()]
    return CheckResult(description, epoch_rule, profile, tolerance, cells, notes)
