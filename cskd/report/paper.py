"""Printed reference values a suite's ``paper_table`` may name, from two files of ``benchmarks/``:

* ``paper_results.csv``: the CSKD paper's numbers (section 3 of docs/paper.md, values as printed), tables "1"-"4",
  "readme-cifar10", "readme-cub";
* ``published_results.csv``: the standard CIFAR-100 benchmark's published numbers (docs/kd-benchmark.md), tables
  "crd-same" and "crd-cross", each row with its ``source`` (CRD's README or paper, mdistiller's README for DKD, the
  ReviewKD and DKD papers for ReviewKD).

Columns: ``table``, ``dataset``, ``teacher``, ``student``, ``method``, ``metric`` (top1 / top5), ``value`` (%), and in
the published file ``epoch_rule`` (the epoch the source reports: ``last``, ``best`` or ``unknown``), ``trials`` (how
many runs the source averages, or ``unknown``) and ``source``. The CSKD paper states neither, so its values' epoch rule
and trial count are ``unknown`` (:mod:`cskd.report.epoch_rules` says how each is compared). Rows use the cell convention
of ``runs.csv`` (see :mod:`cskd.report.cells`): a teacher's accuracy is ``teacher="", student=<teacher label>,
method="Teacher"``; the CE baseline (the benchmark's "Student" row), printed once per pair but the same number for every
pair sharing the student, is one row with ``teacher=""``. Table names are unique across the two files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cskd.csvfiles import CsvFileError, read_csv_table
from cskd.locations import shipped_file
from cskd.report.cells import CellKey
from cskd.report.errors import ReportInputError

PAPER_RESULTS = shipped_file("paper_results.csv")  # hook (issue 18): checkout or installed copy
PUBLISHED_RESULTS = shipped_file("published_results.csv")
#: the source of every number of paper_results.csv
PAPER_SOURCE = "CSKD paper (Chen et al., ECCV 2020)"

#: dataset names as the papers write them
DATASET_TITLES: dict[str, str] = {
    "cifar10": "CIFAR-10",
    "cifar100": "CIFAR-100",
    "tiny-imagenet": "Tiny ImageNet",
    "cub200": "CUB-200-2011",
}
#: titles of the published tables (published_results.csv)
PUBLISHED_TITLES: dict[str, str] = {
    "crd-same": "the CRD benchmark's same-architecture pairs",
    "crd-cross": "the CRD benchmark's different-architecture pairs",
}
_TEXT = ["table", "dataset", "teacher", "student", "method", "metric", "epoch_rule", "trials", "source"]
#: columns only the published file has
_PUBLISHED_ONLY = ("epoch_rule", "trials", "source")
#: the epoch rule and trial count of every CSKD paper value: the paper states neither
UNKNOWN = "unknown"


def load_paper_results(path: Path = PAPER_RESULTS) -> pd.DataFrame:
    """All rows of the paper's results file, text columns as text; a damaged record is an error."""
    return _read(path)


def load_published_results(path: Path = PUBLISHED_RESULTS) -> pd.DataFrame:
    """All rows of the published benchmark results, text columns as text (``epoch_rule``, ``trials`` and ``source``
    included); a damaged record, or a row without its epoch rule, trial count or source, is an error."""
    frame = _read(path)
    for column in _PUBLISHED_ONLY:
        if column not in frame.columns or (frame[column] == "").any():
            raise ReportInputError(f"{path}: every row needs its {column!r} (the source's, or 'unknown')")
    rules = set(frame["epoch_rule"]) - {"best", "last", UNKNOWN}
    if rules:
        raise ReportInputError(f"{path}: epoch_rule {sorted(rules)}: use best, last or unknown")
    return frame


def _read(path: Path) -> pd.DataFrame:
    required = [column for column in _TEXT if column not in _PUBLISHED_ONLY] + ["value"]
    try:
        table = read_csv_table(path, text=_TEXT, numbers=["value"], required=required)
    except CsvFileError as error:
        raise ReportInputError(str(error)) from error
    if table.damaged:
        raise ReportInputError(f"{path} has damaged records: " + "; ".join(str(item) for item in table.damaged))
    return table.frame


@dataclass(frozen=True)
class PaperTable:
    """The printed values of one reference table, looked up like table cells, with each value's source."""

    name: str
    dataset: str
    values: dict[tuple[CellKey, str], float]
    sources: dict[tuple[CellKey, str], str]
    published: bool = False  # a table of published_results.csv (another paper's benchmark), not the CSKD paper's
    rules: dict[tuple[CellKey, str], str] = field(default_factory=dict)  # the source's epoch rule, default unknown
    trials: dict[tuple[CellKey, str], str] = field(default_factory=dict)  # runs the source averages, default unknown

    @property
    def noun(self) -> str:
        """What the values are called in headings: ``paper`` (the CSKD paper) or ``published``."""
        return "published" if self.published else "paper"

    @property
    def title(self) -> str:
        dataset = DATASET_TITLES.get(self.dataset, self.dataset)
        if self.published:
            return f"{PUBLISHED_TITLES.get(self.name, self.name)}, {dataset}"
        source = f"Table {self.name}" if self.name.isdigit() else f"the authors' README ({self.name})"
        return f"{source}, {dataset}"

    @property
    def labels(self) -> set[str]:
        """The model labels (teachers and students) of the table."""
        return {label for key, _ in self.values for label in (key.teacher, key.student) if label}

    @property
    def metrics(self) -> list[str]:
        return sorted({metric for _, metric in self.values})

    def lookup(self, key: CellKey, metric: str) -> tuple[CellKey, float] | None:
        """The row holding a table position's printed value (its teacher-free form for CE and teachers), and the
        value; None when the table prints none."""
        for candidate in (key, CellKey("", key.student, key.method)):
            if (candidate, metric) in self.values:
                return candidate, self.values[(candidate, metric)]
        return None

    def value(self, key: CellKey, metric: str) -> float | None:
        found = self.lookup(key, metric)
        return None if found is None else found[1]

    def source(self, key: CellKey, metric: str) -> str | None:
        """Where the printed value of a table position comes from; None when the table prints none."""
        found = self.lookup(key, metric)
        return None if found is None else self.sources[(found[0], metric)]

    def citation(self, key: CellKey, metric: str) -> str | None:
        """The source of a table position's value without the notes that follow its first "; " (a correction's
        evidence, say), as reports cite it; None when the table prints none."""
        source = self.source(key, metric)
        return None if source is None else source.split("; ")[0]

    def epoch_rule(self, key: CellKey, metric: str) -> str | None:
        """The epoch the source of a table position's value reports (best, last or unknown); None: no value."""
        found = self.lookup(key, metric)
        return None if found is None else self.rules.get((found[0], metric), UNKNOWN)

    def trial_count(self, key: CellKey, metric: str) -> str | None:
        """How many runs the source of a table position's value averages (a number, or unknown); None: no value."""
        found = self.lookup(key, metric)
        return None if found is None else self.trials.get((found[0], metric), UNKNOWN)


def _tables() -> list[tuple[Path, bool, pd.DataFrame]]:
    return [(PAPER_RESULTS, False, load_paper_results()), (PUBLISHED_RESULTS, True, load_published_results())]


def paper_table(name: str) -> PaperTable:
    """A reference table by name, from paper_results.csv or published_results.csv; an unknown name lists both
    files' tables."""
    tables = _tables()
    for _, published, frame in tables:
        rows = frame[frame["table"] == name]
        if rows.empty:
            continue
        values, sources, rules, trials = {}, {}, {}, {}
        for r in rows.itertuples(index=False):
            key = (CellKey(r.teacher, r.student, r.method), r.metric)
            values[key] = float(r.value)
            sources[key] = r.source if published else PAPER_SOURCE
            rules[key] = r.epoch_rule if published else UNKNOWN
            trials[key] = r.trials if published else UNKNOWN
        return PaperTable(name, rows["dataset"].iloc[0], values, sources, published, rules, trials)
    known = "; ".join(f"{path.name}: {', '.join(dict.fromkeys(frame['table']))}" for path, _, frame in tables)
    raise ReportInputError(f"no reference table {name!r} (known: {known})")
