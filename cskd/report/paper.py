"""The paper's numbers: ``benchmarks/paper_results.csv`` (section 3 of docs/paper.md, values as printed).

Columns: ``table`` ("1"-"4", "readme-cifar10", "readme-cub"), ``dataset``, ``teacher``, ``student``, ``method``,
``metric`` (top1 / top5), ``value`` (%). Rows use the cell convention of ``runs.csv`` (see :mod:`cskd.report.cells`):
a teacher's accuracy is ``teacher="", student=<teacher label>, method="Teacher"``; the CE baseline, printed once per
pair but the same number for every pair sharing the student, is one row with ``teacher=""``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cskd.csvfiles import CsvFileError, read_csv_table
from cskd.report.cells import CellKey
from cskd.report.errors import ReportInputError

PAPER_RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "paper_results.csv"

#: dataset names as the paper writes them
DATASET_TITLES: dict[str, str] = {
    "cifar10": "CIFAR-10",
    "cifar100": "CIFAR-100",
    "tiny-imagenet": "Tiny ImageNet",
    "cub200": "CUB-200-2011",
}


def load_paper_results(path: Path = PAPER_RESULTS) -> pd.DataFrame:
    """All rows of the paper's results file, text columns as text; a damaged record is an error."""
    text = ["table", "dataset", "teacher", "student", "method", "metric"]
    try:
        table = read_csv_table(path, text=text, numbers=["value"], required=[*text, "value"])
    except CsvFileError as error:
        raise ReportInputError(str(error)) from error
    if table.damaged:
        raise ReportInputError(f"{path} has damaged records: " + "; ".join(str(item) for item in table.damaged))
    return table.frame


@dataclass(frozen=True)
class PaperTable:
    """The printed values of one of the paper's tables, looked up like table cells."""

    name: str
    dataset: str
    values: dict[tuple[CellKey, str], float]

    @property
    def title(self) -> str:
        source = f"Table {self.name}" if self.name.isdigit() else f"the authors' README ({self.name})"
        return f"{source}, {DATASET_TITLES.get(self.dataset, self.dataset)}"

    @property
    def labels(self) -> set[str]:
        """The model labels (teachers and students) of the table."""
        return {label for key, _ in self.values for label in (key.teacher, key.student) if label}

    @property
    def metrics(self) -> list[str]:
        return sorted({metric for _, metric in self.values})

    def lookup(self, key: CellKey, metric: str) -> tuple[CellKey, float] | None:
        """The row holding a table position's printed value (its teacher-free form for CE and teachers), and the
        value; None when the paper prints none."""
        for candidate in (key, CellKey("", key.student, key.method)):
            if (candidate, metric) in self.values:
                return candidate, self.values[(candidate, metric)]
        return None

    def value(self, key: CellKey, metric: str) -> float | None:
        found = self.lookup(key, metric)
        return None if found is None else found[1]


def paper_table(name: str, path: Path = PAPER_RESULTS) -> PaperTable:
    """One of the paper's tables by name; an unknown name lists the known ones."""
    frame = load_paper_results(path)
    rows = frame[frame["table"] == name]
    if rows.empty:
        known = ", ".join(dict.fromkeys(frame["table"]))
        raise ReportInputError(f"the paper has no table {name!r} in {path} (known: {known})")
    values = {(CellKey(r.teacher, r.student, r.method), r.metric): float(r.value) for r in rows.itertuples(index=False)}
    return PaperTable(name=name, dataset=rows["dataset"].iloc[0], values=values)
