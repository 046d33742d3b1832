"""The table of a suite's report: the paper's layout filled with reproduced statistics and the paper's values.

Layout (as in the paper's Tables 1-4): one row per pair "teacher / student" in the suite's order, one column per
method in the suite's order, then the Teacher column (pairs and methods of the report's profile, see
:mod:`cskd.report.suites`). Runs of labels the suite does not declare (left over from an earlier version of it) are
not dropped: their pairs and methods follow the declared ones. A teacher-free student with no pair gets a row
"— / student", a teacher with no pair a row "teacher / —".

The best method of each row (Teacher excluded, values compared as printed, two decimals) is marked, separately for
the reproduced means and for the paper's values; ties are all marked, and a row with fewer than two values has none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from cskd.report.cells import FULL_PROFILE, METRICS, TEACHER, CellKey, CellTable, Row, Stats
from cskd.report.paper import DATASET_TITLES, PaperTable, paper_table
from cskd.report.suites import SuiteView

#: the ablation labels of Table 4, in the paper's order
ABLATION_LABELS: tuple[str, ...] = ("neither", "intra", "inter", "both")
METRIC_TITLES: dict[str, str] = {"top1": "top-1", "top5": "top-5"}


@dataclass(frozen=True)
class TableCell:
    stats: Stats
    paper: float | None
    best: bool  # the best reproduced method of its row
    paper_best: bool  # the paper's best method of its row

    @property
    def diff(self) -> float | None:
        """Reproduced mean minus the paper's value (accuracy points)."""
        if self.stats.mean is None or self.paper is None:
            return None
        return self.stats.mean - self.paper


@dataclass(frozen=True)
class ReportTable:
    """Everything a report renders: layout, cells per metric, the paper's table, and the caption."""

    suite: str
    profile: str | None
    epoch_rule: str
    rows: list[Row]
    columns: list[str]  # method labels, then Teacher
    metrics: list[str]
    cells: dict[tuple[Row, str, str], TableCell]  # (row, column, metric)
    paper: PaperTable | None
    caption: list[str]  # sentences
    results: CellTable

    @property
    def stem(self) -> str:
        """File stem of this report: the suite name, qualified by a profile other than full and by the last epoch."""
        profile = f"-{self.profile}" if self.profile not in (None, FULL_PROFILE) else ""
        return f"{self.suite}{profile}{'-last' if self.epoch_rule == 'last' else ''}"

    @property
    def method_columns(self) -> list[str]:
        return [c for c in self.columns if c != TEACHER]

    def cell(self, row: Row, column: str, metric: str) -> TableCell:
        return self.cells[(row, column, metric)]

    def best_methods(self, row: Row, metric: str, *, paper: bool) -> list[str]:
        flag = "paper_best" if paper else "best"
        return [c for c in self.method_columns if getattr(self.cell(row, c, metric), flag)]

    def failed_runs(self) -> pd.DataFrame:
        """Runs that failed and never succeeded on a retry."""
        runs = self.results.runs
        return runs[runs["status"] != "ok"]


def declared_keys(suite: SuiteView) -> list[CellKey]:
    """The table positions the suite declares: every pair with every method, and every pair's teacher."""
    columns = [*(m for m in suite.methods if m != TEACHER), TEACHER]
    return list(dict.fromkeys(row.key(c) for row in suite.pairs for c in columns))


def layout(suite: SuiteView, results: CellTable) -> tuple[list[Row], list[str]]:
    """Rows and columns of a suite's table: the declared ones, then those only the runs hold (module docstring)."""
    rows = list(suite.pairs)
    columns = [m for m in suite.methods if m != TEACHER]
    keys = list(results.cell_keys())
    for key in keys:
        if key.method != TEACHER and key.method not in columns:
            columns.append(key.method)
        if key.teacher and key.method != TEACHER and Row(key.teacher, key.student) not in rows:
            rows.append(Row(key.teacher, key.student))
    students = {row.student for row in rows}
    for key in keys:
        if not key.teacher and key.method != TEACHER and key.student not in students:
            rows.append(Row("", key.student))
            students.add(key.student)
    teachers = {row.teacher for row in rows}
    for key in keys:
        if key.method == TEACHER and key.student not in teachers:
            rows.append(Row(key.student, ""))
            teachers.add(key.student)
    return rows, [*columns, TEACHER]


def _best(values: dict[str, float]) -> set[str]:
    """Labels holding the row's highest value as printed (two decimals); none when fewer than two values."""
    if len(values) < 2:
        return set()
    top = max(round(v, 2) for v in values.values())
    return {label for label, v in values.items() if round(v, 2) == top}


def build_table(suite: SuiteView, runs: pd.DataFrame, *, epoch_rule: str) -> ReportTable:
    """The report table of ``suite`` from its runs (of the view's profile); the paper's via ``suite.paper_table``."""
    results = CellTable(runs, epoch_rule)
    paper = paper_table(suite.paper_table) if suite.paper_table else None
    rows, columns = layout(suite, results)
    metrics = [m for m in METRICS if m == "top1" or (paper is not None and m in paper.metrics)]
    cells: dict[tuple[Row, str, str], TableCell] = {}
    for metric in metrics:
        for row in rows:
            stats = {c: results.stats(row.key(c), metric) for c in columns}
            printed = {c: paper.value(row.key(c), metric) if paper else None for c in columns}
            best = _best({c: s.mean for c, s in stats.items() if c != TEACHER and s.mean is not None})
            paper_best = _best({c: v for c, v in printed.items() if c != TEACHER and v is not None})
            for c in columns:
                cells[(row, c, metric)] = TableCell(stats[c], printed[c], c in best, c in paper_best)
    return ReportTable(
        suite=suite.name,
        profile=suite.profile,
        epoch_rule=epoch_rule,
        rows=rows,
        columns=columns,
        metrics=metrics,
        cells=cells,
        paper=paper,
        caption=caption(suite, results, paper, metrics),
        results=results,
    )


def _listing(values: pd.Series) -> str:
    shown = sorted({int(v) for v in values.dropna()})
    return ", ".join(map(str, shown)) if shown else "unknown"


def data_description(runs: pd.DataFrame, suite_dataset: str, paper: PaperTable | None) -> str:
    """Which data the runs used (name, source, checksum prefix), and whether it is the paper's dataset.

    A JPEG re-encoding is never presented as the official dataset: it is named "JPEG copy of ..., not the official
    release".
    """
    recorded = runs[runs["dataset"] != ""]
    if recorded.empty:
        return f"Data: {suite_dataset} (no run has recorded its data yet)."
    sources = recorded[["dataset", "dataset_source", "data_sha256"]].drop_duplicates()
    parts = []
    for dataset, source, sha in sources.itertuples(index=False):
        text = f"{dataset} from {source or 'an unrecorded source'} (sha256 {sha[:12] or 'unrecorded'})"
        parts.append(text + _comparability(dataset, source, paper))
    prefix = "Data: " if len(parts) == 1 else "Data (differs between runs!): "
    return prefix + "; ".join(parts) + "."


def _comparability(dataset: str, source: str, paper: PaperTable | None) -> str:
    if re.search(r"jpe?g", f"{dataset} {source}", flags=re.IGNORECASE):
        base = re.sub(r"[-_]?jpe?g", "", dataset, flags=re.IGNORECASE)
        title = DATASET_TITLES.get(base, base or dataset)
        note = f", a JPEG copy of {title}, not the official release"
        if paper is not None:
            note += f"; the paper used the official {DATASET_TITLES.get(paper.dataset, paper.dataset)}"
        return note
    if paper is not None and dataset != paper.dataset:
        return f", not the paper's {DATASET_TITLES.get(paper.dataset, paper.dataset)}"
    return ""


def unknown_labels(suite: SuiteView, paper: PaperTable) -> str:
    """A sentence naming the suite's model labels that the paper's table does not use (empty when none): their
    positions can have no paper value, which is almost always a label spelled differently from the paper's."""
    used = {label for row in suite.pairs for label in (row.teacher, row.student)}
    unknown = sorted(used - paper.labels)
    if not unknown:
        return ""
    return (
        f"The paper's {paper.title} does not use the label(s) {', '.join(unknown)} "
        f"(its labels: {', '.join(sorted(paper.labels))}): those positions have no paper value."
    )


def _training(runs: pd.DataFrame) -> str:
    """Epochs per kind of run and the number of training and test images, as recorded."""
    epochs = [
        f"{kind}s {_listing(runs.loc[runs['kind'] == kind, 'epochs'])} epochs"
        for kind in ("teacher", "student")
        if (runs["kind"] == kind).any()
    ]
    images = f"{_listing(runs['train_size'])} training and {_listing(runs['test_size'])} test images"
    return f"Training: {', '.join(epochs)}; {images}."


def caption(suite: SuiteView, results: CellTable, paper: PaperTable | None, metrics: list[str]) -> list[str]:
    """Sentences stating what the numbers are: accuracy, epoch, profile, training, data, seeds, the paper's table."""
    runs = results.runs
    epoch = (
        "the best epoch (the highest test accuracy over all epochs, as the official code reports)"
        if results.epoch_rule == "best"
        else "the last epoch"
    )
    accuracy = " and ".join(METRIC_TITLES[m] for m in metrics)
    sentences = [
        f"Test {accuracy} accuracy (%) at {epoch}; mean ± sample standard deviation over seeds, "
        "n = number of successful seeds.",
        f"Suite {suite.name}, profile {suite.profile or 'none (no runs yet)'}.",
    ]
    if not runs.empty:
        sentences.append(_training(runs))
    sentences.append(data_description(runs, suite.dataset, paper))
    seeds = f"Seeds: {_listing(runs['seed'])}" if not runs.empty else "Seeds: none run"
    sentences.append(f"{seeds} (the suite declares {', '.join(map(str, suite.seeds)) or 'none'}).")
    if paper is not None:
        sentences.append(f"Paper values: {paper.title}, as printed.")
        if note := unknown_labels(suite, paper):
            sentences.append(note)
    sentences.append(
        "Bold: the best method of the row (Teacher excluded); — : no finished run; "
        "failed: every run of the cell failed."
    )
    return sentences
