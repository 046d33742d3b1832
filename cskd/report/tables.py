"""The table of a suite's report: the paper's layout filled with reproduced statistics and the paper's values.

Layout (as in the paper's Tables 1-4): one row per pair "teacher / student" in the suite's order, one column per
method in the suite's order, then the Teacher column (pairs and methods of the report's profile, see
:mod:`cskd.report.suites`). Runs of labels the suite does not declare (left over from an earlier version of it) are
not dropped: their pairs and methods follow the declared ones. A teacher-free student with no pair gets a row
"— / student", a teacher with no pair a row "teacher / —".

The best method of each row (Teacher excluded, values compared as printed, two decimals) is marked, separately for
the reproduced means and for the paper's values; ties are all marked, and a row with fewer than two values has none.
Each cell also carries its gain over the suite's baseline (its mean minus the baseline's mean of the same row), and
the table the paired differences over seeds of the suite's ``report: paired`` comparisons (:mod:`cskd.report.seeds`).

The caption is one sentence (what the numbers are); everything else a reader needs (training, recipe, data, seeds,
where the reference values come from) is in the notes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from cskd.engine.recipe import Recipe
from cskd.overrides import overrides_hash
from cskd.report.cells import FULL_PROFILE, METRICS, TEACHER, CellKey, CellTable, Row, Stats
from cskd.report.epoch_rules import RuleTables, comparison_rule, rules_note
from cskd.report.paper import DATASET_TITLES, PaperTable, paper_table
from cskd.report.redact import without_paths
from cskd.report.seeds import PairedDifference, paired_difference
from cskd.report.suites import SuiteView

METRIC_TITLES: dict[str, str] = {"top1": "top-1", "top5": "top-5"}


@dataclass(frozen=True)
class TableCell:
    stats: Stats
    paper: float | None
    best: bool  # the best reproduced method of its row
    paper_best: bool  # the paper's best method of its row
    gain: float | None = None  # mean minus the baseline's mean of the row (points); None for the Teacher column
    source: str | None = None  # where the paper's value comes from
    compared: Stats | None = None  # our statistics at the paper value's epoch rule (cskd.report.epoch_rules)
    compared_rule: str | None = None  # that rule: best or last (the source's), or the report's where unknown

    @property
    def diff(self) -> float | None:
        """Reproduced mean, at the epoch the paper value's source reports, minus the paper's value (points)."""
        ours = self.compared if self.compared is not None else self.stats
        if ours.mean is None or self.paper is None:
            return None
        return ours.mean - self.paper


@dataclass(frozen=True)
class ReportTable:
    """Everything a report renders: layout, cells per metric, the paper's table, comparisons, caption and notes."""

    suite: str
    profile: str | None
    epoch_rule: str
    rows: list[Row]
    columns: list[str]  # method labels, then Teacher
    metrics: list[str]
    cells: dict[tuple[Row, str, str], TableCell]  # (row, column, metric)
    paper: PaperTable | None
    caption: str  # one sentence: what the numbers are
    notes: list[str]  # sentences: training, data, seeds, sources, marks
    results: CellTable
    roles: dict[str, str]  # method label -> role (cskd.report.roles)
    baseline: str | None  # the method gains are measured from
    comparisons: dict[str, list[PairedDifference]]  # metric -> the suite's paired comparisons, pair by pair
    scale: str = ""  # the scale headings name (cskd.report.scale): "profile cpu", "CPU scale", or "" for none

    def heading(self) -> str:
        """``best epoch, profile cpu`` / ``best epoch, CPU scale`` / ``best epoch``: what headings say."""
        return f"{self.epoch_rule} epoch" + (f", {self.scale}" if self.scale else "")

    overrides: tuple[str, ...] = ()  # the suite's --set overrides (their hash qualifies the stem)

    @property
    def stem(self) -> str:
        """File stem of this report: the suite name, qualified by a profile other than full, by ``-set-HASH`` when the
        suite was changed by --set (HASH: sha256 prefix of the overrides) and by the last epoch."""
        profile = f"-{self.profile}" if self.profile not in (None, FULL_PROFILE) else ""
        changed = f"-set-{overrides_hash(self.overrides)}" if self.overrides else ""
        return f"{self.suite}{profile}{changed}{'-last' if self.epoch_rule == 'last' else ''}"

    @property
    def method_columns(self) -> list[str]:
        return [c for c in self.columns if c != TEACHER]

    @property
    def single_seed(self) -> bool:
        """Whether every cell with a result has exactly one successful seed (said once, in the caption, instead of
        "(n=1)" in every cell)."""
        return one_seed_each(self.cells.values())

    def cell(self, row: Row, column: str, metric: str) -> TableCell:
        return self.cells[(row, column, metric)]

    def best_methods(self, row: Row, metric: str, *, paper: bool) -> list[str]:
        flag = "paper_best" if paper else "best"
        return [c for c in self.method_columns if getattr(self.cell(row, c, metric), flag)]

    def failed_runs(self) -> pd.DataFrame:
        """Runs that failed and never succeeded on a retry."""
        runs = self.results.runs
        return runs[runs["status"] != "ok"]


def one_seed_each(cells: Iterable[TableCell]) -> bool:
    """Whether every cell of ``cells`` with a result has exactly one successful seed."""
    counts = [cell.stats.n for cell in cells if cell.stats.n]
    return bool(counts) and all(n == 1 for n in counts)


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
    by_rule = RuleTables(runs)
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
            base = stats[suite.baseline].mean if suite.baseline in stats else None
            for c in columns:
                mean = stats[c].mean
                gain = None if c == TEACHER or mean is None or base is None else mean - base
                source = paper.source(row.key(c), metric) if paper else None
                compared, used = None, None
                if paper is not None and printed[c] is not None:
                    used = comparison_rule(paper.epoch_rule(row.key(c), metric), epoch_rule)
                    compared = by_rule.stats(row.key(c), metric, used)
                cells[(row, c, metric)] = TableCell(
                    stats[c], printed[c], c in best, c in paper_best, gain, source, compared, used
                )
    pairs = [row for row in rows if row.teacher and row.student]
    comparisons = {
        metric: [paired_difference(results, row, a, b, metric) for a, b in suite.paired for row in pairs]
        for metric in metrics
    }
    sentence, notes = caption(suite, results, paper, metrics, one_seed_each(cells.values()))
    positions = [(row, c) for row in rows for c in columns]
    if paper is not None:
        notes.insert(-1, source_note(paper, positions, metrics[0]))
        notes.insert(-1, rules_note(_rules_used(paper, positions, metrics[0]), epoch_rule))
    return ReportTable(
        suite=suite.name,
        profile=suite.profile,
        epoch_rule=epoch_rule,
        rows=rows,
        columns=columns,
        metrics=metrics,
        cells=cells,
        paper=paper,
        caption=sentence,
        notes=notes,
        results=results,
        roles=suite.roles,
        baseline=suite.baseline,
        comparisons=comparisons,
        scale=_scale(suite),
        overrides=suite.overrides,
    )


def _listing(values: pd.Series) -> str:
    shown = sorted({int(v) for v in values.dropna()})
    return ", ".join(map(str, shown)) if shown else "unknown"


def data_description(runs: pd.DataFrame, suite_dataset: str, paper: PaperTable | None) -> str:
    """Which data the runs used (name, source without any absolute path, checksum prefix), and whether it is the
    reference table's dataset.

    A JPEG re-encoding is never presented as the official dataset: it is named "JPEG copy of ..., not the official
    release".
    """
    recorded = runs[runs["dataset"] != ""]
    if recorded.empty:
        return f"Data: {suite_dataset} (no run has recorded its data yet)."
    sources = recorded[["dataset", "dataset_source", "data_sha256"]].drop_duplicates()
    parts = []
    for dataset, source, sha in sources.itertuples(index=False):
        shown = without_paths(source) if source else "an unrecorded source"
        text = f"{dataset} from {shown} (sha256 {sha[:12] or 'unrecorded'})"
        parts.append(text + _comparability(dataset, source, paper))
    prefix = "Data: " if len(parts) == 1 else "Data (differs between runs!): "
    return prefix + "; ".join(parts) + "."


def _comparability(dataset: str, source: str, paper: PaperTable | None) -> str:
    whose = "the published values'" if paper is not None and paper.published else "the paper's"
    if re.search(r"jpe?g", f"{dataset} {source}", flags=re.IGNORECASE):
        base = re.sub(r"[-_]?jpe?g", "", dataset, flags=re.IGNORECASE)
        title = DATASET_TITLES.get(base, base or dataset)
        note = f", a JPEG copy of {title}, not the official release"
        if paper is not None:
            used = "the published values used" if paper.published else "the paper used"
            note += f"; {used} the official {DATASET_TITLES.get(paper.dataset, paper.dataset)}"
        return note
    if paper is not None and dataset != paper.dataset:
        return f", not {whose} {DATASET_TITLES.get(paper.dataset, paper.dataset)}"
    return ""


def unknown_labels(suite: SuiteView, paper: PaperTable) -> str:
    """A sentence naming the suite's model labels that the reference table does not use (empty when none): their
    positions can have no reference value, which is almost always a label spelled differently from the table's."""
    used = {label for row in suite.pairs for label in (row.teacher, row.student)}
    unknown = sorted(used - paper.labels)
    if not unknown:
        return ""
    whose = "The published" if paper.published else "The paper's"
    return (
        f"{whose} {paper.title} does not use the label(s) {', '.join(unknown)} "
        f"(its labels: {', '.join(sorted(paper.labels))}): those positions have no {paper.noun} value."
    )


def _rules_used(paper: PaperTable, positions: list[tuple[Row, str]], metric: str) -> dict[str, set[tuple[str, str]]]:
    """Per source of the shown reference values: the (epoch rule, trial count) pairs its values state."""
    uses: dict[str, set[tuple[str, str]]] = {}
    for row, column in positions:
        key = row.key(column)
        if (source := paper.citation(key, metric)) is not None:
            uses.setdefault(source, set()).add((paper.epoch_rule(key, metric), paper.trial_count(key, metric)))
    return uses


def source_note(paper: PaperTable, positions: list[tuple[Row, str]], metric: str) -> str:
    """Where the reference values of the shown positions come from: the source of most of them, then the others
    with the methods (and, where a method's values come from several sources, the pairs) they cover."""
    by_source: dict[str, list[tuple[Row, str]]] = {}
    for row, column in positions:
        if (source := paper.citation(row.key(column), metric)) is not None:
            by_source.setdefault(source, []).append((row, column))
    text = f"{paper.noun.capitalize()} values: {paper.title}, as printed"
    if not by_source:
        return f"{text} (none for these positions)."
    main = max(by_source, key=lambda source: len(by_source[source]))
    exceptions = []
    for source, shown in by_source.items():
        if source == main:
            continue
        covered = []
        for column in dict.fromkeys(c for _, c in shown):
            rows = [row for row, c in shown if c == column]
            everywhere = all(row in rows for row, c in positions if c == column and paper.citation(row.key(c), metric))
            covered.append(column if everywhere else f"{column} of {', '.join(r.label for r in rows)}")
        exceptions.append(f"{', '.join(covered)} from the {source}")
    return f"{text}, from the {main}" + (f"; {'; '.join(exceptions)}" if exceptions else "") + "."


def _training(runs: pd.DataFrame, recipe: Recipe) -> str:
    """Epochs per kind of run and the number of training and test images, as recorded; the recipe as resolved."""
    epochs = [
        f"{kind}s {_listing(runs.loc[runs['kind'] == kind, 'epochs'])} epochs"
        for kind in ("teacher", "student")
        if (runs["kind"] == kind).any()
    ]
    images = f"{_listing(runs['train_size'])} training and {_listing(runs['test_size'])} test images"
    return f"Training: {', '.join(epochs)}; {images}. Recipe: {describe_recipe(recipe)}."


def describe_recipe(recipe: Recipe) -> str:
    """The recipe in words: epochs, optimiser, batch, and the learning-rate schedule."""
    nesterov = ", Nesterov" if recipe.nesterov else ""
    schedule = (
        f"x{recipe.lr_factor:g} after epoch{'s' if len(recipe.milestones) > 1 else ''} "
        + ", ".join(map(str, recipe.milestones))
        if recipe.milestones
        else "constant"
    )
    reset = "; optimiser re-created every epoch" if recipe.reset_momentum_each_epoch else ""
    return (
        f"{recipe.epochs} epochs of SGD (momentum {recipe.momentum:g}{nesterov}, "
        f"weight decay {recipe.weight_decay:g}), batch {recipe.batch_size}, lr {recipe.lr:g} {schedule}{reset}"
    )


def _teachers(results: CellTable, suite: SuiteView) -> str:
    """A sentence on teachers supplied as checkpoints (empty when every teacher was trained by the suite)."""
    supplied = sorted({row.teacher for row in suite.pairs if row.teacher and results.supplied_teacher(row.teacher)})
    if not supplied:
        return ""
    return (
        f"Teacher {', '.join(supplied)}: a supplied checkpoint (the suite's teacher_checkpoints), not trained here; "
        "its top-1 is the one measured when the students loaded it."
    )


def _scale(suite: SuiteView) -> str:
    """What headings call the scale of ``suite``'s runs (the profile where the view has not worked it out)."""
    return suite.heading_scale if suite.heading_scale is not None else f"profile {suite.profile or 'none'}"


def caption(
    suite: SuiteView, results: CellTable, paper: PaperTable | None, metrics: list[str], single_seed: bool
) -> tuple[str, list[str]]:
    """One sentence stating what the numbers are, then the notes: training, recipe, data, seeds, marks."""
    runs = results.runs
    epoch = "the best epoch" if results.epoch_rule == "best" else "the last epoch"
    accuracy = " and ".join(METRIC_TITLES[m] for m in metrics)
    spread = "one seed per cell" if single_seed else "mean ± sample standard deviation over seeds (n: successful seeds)"
    scale = _scale(suite) if suite.profile is not None else "profile none (no runs yet)"
    sentence = (
        f"Test {accuracy} accuracy (%) at {epoch} of suite {suite.name}{f', {scale}' if scale else ''}: {spread}."
    )
    notes = []
    if results.epoch_rule == "best":
        notes.append("Best epoch: the highest test accuracy over all epochs, as the official code reports.")
    if not runs.empty:
        notes.append(_training(runs, suite.recipe))
    notes.append(data_description(runs, suite.dataset, paper))
    seeds = f"Seeds: {_listing(runs['seed'])}" if not runs.empty else "Seeds: none run"
    notes.append(f"{seeds} (the suite declares {', '.join(map(str, suite.seeds)) or 'none'}).")
    if note := _teachers(results, suite):
        notes.append(note)
    if paper is not None and (note := unknown_labels(suite, paper)):
        notes.append(note)
    if suite.baseline is not None:
        base = suite.baseline
        notes.append(f"Gain over {base}: a cell's mean minus the mean of {base} of the same student (points).")
    notes += suite.notes
    tested = (
        "the paired differences over seeds say which gaps seed noise cannot explain"
        if suite.paired
        else "the suite runs no paired comparison"
    )
    notes.append(
        f"Bold: the highest mean of the row (Teacher excluded), a ranking of means, not a test ({tested}); "
        "— : no finished run; "
        "failed: every run of the cell failed."
    )
    return sentence, notes
