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
    FULL_PROFILE,
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
from cskd.report.paper import PaperTable, paper_table
from cskd.report.suites import SuiteLike, SuiteView, suite_runs, view_suite
from cskd.report.tables import METRIC_TITLES, data_description, declared_keys, unknown_labels
from cskd.settings import row_scale

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
    def compared(self) -> list[CheckedCell]:
        """The cells that had a result to compare."""
        return [cell for cell in self.cells if cell.outcome != "missing"]

    @property
    def ok(self) -> bool:
        return bool(self.compared) and not self.failures

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
        elif not self.compared:
            verdict = [
                f"FAIL: nothing was compared: none of the {len(self.cells)} expected cells has a successful run in "
                f"the results (wrong results file, or every run failed?)"
            ]
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
    _require_paper_setting(runs, suite, paper)
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


def _require_paper_setting(runs: pd.DataFrame, suite: SuiteView, paper: PaperTable) -> None:
    """Refuse runs that are not of the paper's setting: their numbers are not comparable with the paper's."""
    why = "numbers at another scale or on other data are not comparable with the paper's"
    fix = f"check them against a reference runs.csv of the same profile instead (e.g. reference/results/{suite.name})"
    if suite.profile != FULL_PROFILE:
        raise ReportInputError(
            f"the runs are of profile {suite.profile!r}, a scaled-down version of {paper.title}: {why}; {fix}"
        )
    scales = {row_scale(value, suite.scale) for value in runs.get("scale", pd.Series([""]))}  # hook (issue 18)
    if "cpu" in scales:
        raise ReportInputError(
            f"the runs are CPU-scale (runs.csv column scale, suite key scale), not the setting of "
            f"{paper.title}: {why}; {fix}"
        )
    other = sorted(set(runs["dataset"]) - {"", paper.dataset})
    if other:
        raise ReportInputError(f"the runs are on {', '.join(other)}, {paper.title} on {paper.dataset}: {why}; {fix}")


def _reference_expectations(
    reference: pd.DataFrame, results: pd.DataFrame, profile: str | None, epoch_rule: str
) -> Expected:
    """The reference's successful cells; it must come from the same suite, profile and data as the results."""
    if reference.empty:
        raise ReportInputError("the reference holds no runs (a header only?): there is nothing to compare against")
    suites, reference_suites = set(results["suite"]), set(reference["suite"])
    if suites != reference_suites:
        raise ReportInputError(f"the reference holds suite(s) {sorted(reference_suites)}, the results {sorted(suites)}")
    reference = reference[reference["profile"] == profile]
    if reference.empty:
        raise ReportInputError(f"the reference has no runs of profile {profile!r}")
    _require_accuracies(reference, epoch_rule)
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


def _require_accuracies(reference: pd.DataFrame, epoch_rule: str) -> None:
    """Every successful reference row must hold the accuracies compared: one without is not a reference."""
    ok = reference[reference["status"] == "ok"]
    if ok.empty:
        raise ReportInputError("the reference has no successful run: there is nothing to compare against")
    for metric in METRICS:
        column = f"{epoch_rule}_{metric}"
        lacking = ok[ok[column].isna()]
        if not lacking.empty:
            runs = ", ".join(lacking["run_id"].head(5))
            raise ReportInputError(
                f"the reference's column {column} holds no number for {len(lacking)} successful run(s) ({runs}): "
                f"a reference must hold every accuracy it is compared on"
            )


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
        expected = _reference_expectations(read_runs_csv(Path(against), intact=True), runs, profile, epoch_rule)
    if not expected:
        raise ReportInputError(f"nothing to compare: {description} has no value for any cell of these results")
    cells = [CheckedCell(key, m, value, got.stats(key, m), tolerance) for (key, m), value in expected.items()]
    return CheckResult(description, epoch_rule, profile, tolerance, cells, notes)
