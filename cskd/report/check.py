"""``check``: are a suite's results within a tolerance of the paper's numbers or of a reference run?

A compared cell is the mean over seeds of one (teacher, student, method) triple and one metric, in accuracy points.
Against the paper, the expected cells are the positions the suite declares (its pairs x methods, and its teachers) that
the suite's paper table prints (top-1, and top-5 where the table prints it), each compared with our mean at the epoch
its source reports (:mod:`cskd.report.epoch_rules`: last for RepDistiller's values, best for mdistiller's, the
``metric`` asked for where the source does not say), and each line names the rule it used. Against a reference
``runs.csv`` (written by the same suite, e.g. on another machine or an earlier commit), the expected cells are the
reference's successful cells of the same profile, top-1 and top-5, each compared by its mean over the reference's seeds
(seeds are not matched one by one, so a reference with other seeds still compares). An expected cell without a
successful result is a failure named ``missing``.
"""

from __future__ import annotations

import math
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
from cskd.report.epoch_rules import RuleTables, comparison_rule, describe_rule
from cskd.report.errors import ReportInputError
from cskd.report.numbers import format_diff, format_stats
from cskd.report.paper import PaperTable, paper_table
from cskd.report.structure_check import structure_expectations, tolerance_for
from cskd.report.suites import SuiteLike, SuiteView, suite_runs, view_suite
from cskd.report.tables import METRIC_TITLES, data_description, declared_keys, unknown_labels
from cskd.runs_schema import STRUCTURE_TITLES
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
    rule: str = ""  # the epoch our mean was taken at, when it is the reference value's source's (paper comparisons)
    lacking: int = 0  # successful runs of the cell without a value of this metric (a structure metric not recorded)

    @property
    def difference(self) -> float | None:
        return None if self.got.mean is None else self.got.mean - self.expected

    @property
    def outcome(self) -> str:
        """``pass``, ``FAIL`` (outside the tolerance) or ``missing`` (no successful run, or a successful run that
        lacks the value)."""
        if self.difference is None or self.lacking:
            return "missing"
        return "pass" if abs(self.difference) <= self.tolerance + _EPSILON else "FAIL"

    @property
    def name(self) -> str:
        return f"{self.key.label} · {METRIC_TITLES.get(self.metric) or STRUCTURE_TITLES[self.metric]}"

    def verdict(self) -> str:
        """The failure's line: its cell and outcome; for a structure metric also its column, value, reference value
        and tolerance (each metric has its own scale, so the accuracy heading's tolerance is not its)."""
        line = f"{self.name} ({self.outcome})"
        if self.metric in METRICS:
            return line
        if self.lacking:
            return (
                f"{line}: {self.metric} not recorded by {self.lacking} successful run(s), reference {self.expected:.4g}"
            )
        if self.got.mean is None:
            return f"{line}: {self.metric} has no successful run, reference {self.expected:.4g}"
        return (
            f"{line}: {self.metric} {self.got.mean:.4g}, reference {self.expected:.4g}, "
            f"difference {self.difference:+.3g} outside ±{self.tolerance:.3g}"
        )


@dataclass(frozen=True)
class CheckResult:
    against: str  # what the results were compared with
    epoch_rule: str
    profile: str | None
    tolerance: float
    cells: list[CheckedCell]
    notes: list[str] = field(default_factory=list)
    unchecked: list[CellKey] = field(default_factory=list)  # cells of the results with no expected value
    partial: bool = False  # the user asked for a subset: unchecked cells are listed, not a failure

    @property
    def failures(self) -> list[CheckedCell]:
        return [cell for cell in self.cells if cell.outcome != "pass"]

    @property
    def compared(self) -> list[CheckedCell]:
        """The cells that had a result to compare."""
        return [cell for cell in self.cells if cell.outcome != "missing"]

    @property
    def ok(self) -> bool:
        return bool(self.compared) and not self.failures and (self.partial or not self.unchecked)

    def render(self) -> str:
        """Every compared cell (expected, got, difference, outcome), then the verdict naming each failed cell."""
        ruled = any(cell.rule for cell in self.cells)
        header = ["cell", "expected", "got", *(["epoch"] if ruled else []), "difference", "result"]
        lines = [
            [
                cell.name,
                f"{cell.expected:.2f}",
                format_stats(cell.got),
                *([cell.rule] if ruled else []),
                format_diff(cell.difference),
                cell.outcome,
            ]
            if cell.metric in METRICS
            else [  # a structure metric (docs/structure.md), on its own scale and tolerance
                cell.name,
                f"{cell.expected:.4g}",
                _structure_value(cell),
                *([""] if ruled else []),
                "—" if cell.difference is None else f"{cell.difference:+.3g} (±{cell.tolerance:.3g})",
                cell.outcome,
            ]
            for cell in self.cells
        ]
        epoch = (
            f"each at its source's epoch rule, {self.epoch_rule} where the source states none"
            if ruled
            else f"{self.epoch_rule} epoch"
        )
        heading = (
            f"Results ({epoch}; profile {self.profile}) against {self.against}, tolerance ±{self.tolerance:.2f} points"
        )
        table = tabulate(lines, headers=header, tablefmt="simple", disable_numparse=True)
        unchecked = []
        if self.unchecked:
            consequence = "not compared (--partial)" if self.partial else "not compared, so the check fails"
            unchecked = ["", f"{len(self.unchecked)} cell(s) of the results have no expected value: {consequence}:"]
            unchecked += [f"  {key.label}" for key in self.unchecked]
        if self.ok:
            verdict = [f"PASS: all {len(self.cells)} cells within ±{self.tolerance:.2f} points"]
            if structure := sum(cell.metric not in METRICS for cell in self.cells):
                verdict[0] += f" ({structure} of them structure metrics, each within its own tolerance)"
            if self.unchecked:
                verdict[0] += f" ({len(self.unchecked)} cell(s) of the results not compared, --partial)"
        elif not self.compared:
            verdict = [
                f"FAIL: nothing was compared: none of the {len(self.cells)} expected cells has a successful run in "
                f"the results (wrong results file, or every run failed?)"
            ]
        elif self.failures:
            count = f"{len(self.failures)} of {len(self.cells)} cells"
            verdict = [f"FAIL: {count} outside ±{self.tolerance:.2f} points or missing:"]
            verdict += [f"  {cell.verdict()}" for cell in self.failures]
        else:
            verdict = [
                f"FAIL: {len(self.unchecked)} cell(s) of the results were not compared (listed above): give a "
                f"reference that holds them, or pass --partial to check only the cells it holds"
            ]
        return "\n".join([heading, *self.notes, "", table, *unchecked, "", *verdict])


def _structure_value(cell: CheckedCell) -> str:
    """A structure cell's mean, its number of runs, and how many successful runs lack the value."""
    if cell.got.mean is None:
        return "—"
    lacking = f", {cell.lacking} without it" if cell.lacking else ""
    return f"{cell.got.mean:.4g} (n={cell.got.n}{lacking})"


def _paper_expectations(suite: SuiteView, runs: pd.DataFrame, notes: list[str]) -> tuple[str, Expected, PaperTable]:
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
    description = f"the {paper.noun} values ({paper.title})" if paper.published else f"the paper ({paper.title})"
    return description, expected, paper


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
    partial: bool = False,
) -> CheckResult:
    """Compare ``results`` (runs.csv rows) with the paper (``against="paper"``, needs ``suite``; ``"published"``: the
    same, for a suite whose table is of published_results.csv) or with a reference runs.csv (a path); ``metric``:
    accuracy at the ``best`` or ``last`` epoch (for a printed value, where its source states no epoch rule);
    ``profile``: default the only one.

    A cell of the results with no expected value is listed in :attr:`CheckResult.unchecked` and fails the check
    unless ``partial`` (the user asked to check a subset)."""
    if not math.isfinite(tolerance) or tolerance < 0:
        raise ReportInputError(f"the tolerance must be a finite number >= 0 points, got {tolerance}")
    epoch_rule = check_epoch_rule(metric)
    runs = normalise_runs(results)
    runs, profile = select_profile(suite_runs(suite, runs) if suite is not None else runs, profile)
    if runs.empty:
        raise ReportInputError("there are no runs to check")
    notes: list[str] = []
    if against in ("paper", "published"):
        if suite is None:
            raise ReportInputError("checking against the paper needs the suite (its paper table): pass --suite")
        description, expected, paper = _paper_expectations(view_suite(suite, profile), runs, notes)
        if against == "published" and not paper.published:
            raise ReportInputError(
                f"suite {suite.name}'s table is {paper.title}, not a published one: use --against paper"
            )
        if not expected:
            raise ReportInputError(f"nothing to compare: {description} has no value for any cell of these results")
        cells = _ruled_cells(expected, paper, RuleTables(runs), epoch_rule, tolerance)
        unchecked = _unchecked(CellTable(runs, epoch_rule), expected)
        return CheckResult(description, epoch_rule, profile, tolerance, cells, notes, unchecked, partial)
    description = f"the reference {against}"
    reference = read_runs_csv(Path(against), intact=True)
    expected = _reference_expectations(reference, runs, profile, epoch_rule)
    if not expected:
        raise ReportInputError(f"nothing to compare: {description} has no value for any cell of these results")
    got = CellTable(runs, epoch_rule)
    cells = [CheckedCell(key, m, value, got.stats(key, m), tolerance) for (key, m), value in expected.items()]
    # the structure metrics the reference holds (cskd/report/structure_check.py)
    structure, note = structure_expectations(reference[reference["profile"] == profile], epoch_rule)
    cells += [
        CheckedCell(k, m, v, got.stats(k, m), tolerance_for(m, v), lacking=_lacking(got, k, m))
        for (k, m), v in structure.items()
    ]
    notes.append(note)
    return CheckResult(description, epoch_rule, profile, tolerance, cells, notes, _unchecked(got, expected), partial)


def _lacking(got: CellTable, key: CellKey, column: str) -> int:
    """How many successful runs of the cell hold no value in ``column``: a mean over the others would pass them."""
    ok = got.rows(key).query("status == 'ok'")
    return int(ok[column].isna().sum()) if column in ok.columns else len(ok)


def _unchecked(got: CellTable, expected: Expected) -> list[CellKey]:
    """The cells of the results with a successful value that no expected value covers."""
    covered = {got.resolve(key) for key, _ in expected}
    return [key for key in got.cell_keys() if key not in covered and _has_result(got, key)]


def _has_result(cells: CellTable, key: CellKey) -> bool:
    """Whether the results hold a successful value of ``key`` for some metric."""
    return any(cells.stats(key, metric).mean is not None for metric in METRICS)


def _ruled_cells(
    expected: Expected, paper: PaperTable, ours: RuleTables, requested: str, tolerance: float
) -> list[CheckedCell]:
    """Each expected cell against our mean at the epoch its source reports (``requested`` where it states none)."""
    cells = []
    for (key, metric), value in expected.items():
        source_rule = paper.epoch_rule(key, metric)
        used = comparison_rule(source_rule, requested)
        cells.append(
            CheckedCell(key, metric, value, ours.stats(key, metric, used), tolerance, describe_rule(source_rule, used))
        )
    return cells
