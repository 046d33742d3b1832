"""The CSV schema of results and the append-only, lock-protected writer of ``runs.csv``.

``results/<suite>/runs.csv`` holds one row per finished (or failed) run; ``results/<suite>/epochs/<run_id>.csv`` one
row per epoch of that run. Every value is raw (numbers as numbers, JSON for nested arguments), never formatted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from cskd.csvfiles import CsvTable, append_line, read_csv_table, report_damaged
from cskd.limits import run_id_problem, seed_text_problem
from cskd.runs_schema import STRUCTURE_COLUMNS, upgrade_header, with_added_columns
from cskd.settings import SETTING_COLUMNS, SETTING_TEXT_COLUMNS

#: columns of runs.csv, in order; docs/results.md documents each
RUN_COLUMNS: tuple[str, ...] = (
    "suite",  # suite name (file stem of benchmarks/<suite>.yaml)
    "run_id",  # sha256 prefix of the fully resolved run configuration
    "kind",  # "teacher" or "student"
    "dataset",  # dataset name as resolved (e.g. cifar10, cifar10-jpeg)
    "dataset_source",  # where the data came from (official pickle, ImageFolder path, ...)
    "data_sha256",  # checksum of the decoded train and test arrays and labels
    "teacher",  # teacher label in the suite (the paper's name, e.g. R101_0.5); empty for teachers and CE
    "student",  # label of the trained model (for a teacher run: the teacher itself)
    "teacher_model",  # timm model name and arguments of the teacher (JSON), empty when none
    "student_model",  # timm model name and arguments of the trained model (JSON)
    "method",  # method label in the suite (paper column: CE, KD, ..., or ablation label)
    "method_name",  # registered method name (ce, kd, fitnet, ab, cckd, kdgan, cskd)
    "method_args",  # JSON of the method's arguments as given in the suite
    "profile",  # suite profile ("full" when none)
    "seed",
    "epochs",  # main-training epochs
    "init_epochs",  # epochs of the method's initialisation stage (0: none)
    "train_size",  # training images used
    "test_size",  # test images used
    "best_top1",  # best test top-1 (%) over epochs
    "best_top5",  # test top-5 (%) at the best top-1 epoch
    "best_epoch",  # epoch (1-based) of best_top1
    "last_top1",  # test top-1 (%) after the last epoch
    "last_top5",  # test top-5 (%) after the last epoch
    "teacher_top1",  # best top-1 (%) of the teacher run used (empty when none)
    "student_params",  # parameters of the trained model
    "wall_seconds",  # wall-clock seconds of the run (its share of a lockstep group)
    "images_per_second",  # training images per second for this run
    "lockstep",  # number of students trained together on one teacher stream (1: alone)
    "device",  # cpu, cuda:0 (with GPU name)
    "torch_version",
    "timm_version",
    "cskd_version",
    "git_commit",
    "status",  # "ok" or "failed"
    "error",  # the error message of a failed run
    "finished_at",  # ISO-8601 UTC time the row was written
)
#: the columns every runs.csv has; those added later (at the end) are empty in the rows of an older file
FIRST_RUN_COLUMNS: tuple[str, ...] = RUN_COLUMNS
#: added later, in this order: the category-structure metrics of the last epoch (docs/structure.md), then the
#: recorded recipe, engine options and scale (cskd.settings)
RUN_COLUMNS += STRUCTURE_COLUMNS + SETTING_COLUMNS

#: columns of epochs/<run_id>.csv; loss terms follow as ``loss_<term>`` columns
EPOCH_COLUMNS: tuple[str, ...] = (
    "epoch",  # 1-based within its phase
    "phase",  # "init" (the method's initialisation stage) or "main"
    "lr",
    "train_loss",
    "train_top1",
    "test_loss",
    "test_top1",
    "test_top5",
    "seconds",
)


def _row_text(row: Mapping[str, Any], columns: Iterable[str]) -> str:
    buffer = io.StringIO()
    csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="raise").writerow(
        {c: "" if row.get(c) is None else row.get(c) for c in columns}
    )
    return buffer.getvalue()


def append_run_row(path: Path, row: Mapping[str, Any]) -> None:
    """Append one row to ``runs.csv`` under a file lock, writing the header when the file is new.

    Unknown keys raise; missing keys are written empty. The row is one write of the whole line, fsynced before the
    lock is released, so two runners never interleave or lose rows and a failed write leaves no partial line
    (:func:`cskd.csvfiles.append_line`).
    """
    unknown = set(row) - set(RUN_COLUMNS)
    if unknown:
        raise KeyError(f"not runs.csv columns: {sorted(unknown)}")
    upgrade_header(path, RUN_COLUMNS)  # a file of an older layout gets the new columns first
    append_line(path, _row_text(row, RUN_COLUMNS), header=",".join(RUN_COLUMNS) + "\r\n")


#: runs.csv columns holding text (everything else is a number or empty)
TEXT_COLUMNS: tuple[str, ...] = (
    "suite", "run_id", "kind", "dataset", "dataset_source", "data_sha256", "teacher", "student", "teacher_model",
    "student_model", "method", "method_name", "method_args", "profile", "device", "torch_version", "timm_version",
    "cskd_version", "git_commit", "status", "error", "finished_at", *SETTING_TEXT_COLUMNS,
)  # fmt: skip


#: runs.csv columns holding numbers (empty when unknown)
NUMBER_COLUMNS: tuple[str, ...] = tuple(c for c in RUN_COLUMNS if c not in TEXT_COLUMNS)
#: values a row must have to be used at all: a run id names files, so it must be one (issue 22: paths confined)
ROW_CHECKS = {"run_id": run_id_problem, "seed": seed_text_problem}


def read_runs_table(path: Path) -> CsvTable:
    """The rows of a ``runs.csv`` and its damaged records (:func:`cskd.csvfiles.read_csv_table`); raises
    :class:`~cskd.csvfiles.CsvFileError` when the file is not a runs.csv at all. A file of an older layout reads
    with the columns added since empty."""
    table = read_csv_table(
        path, text=TEXT_COLUMNS, numbers=NUMBER_COLUMNS, required=FIRST_RUN_COLUMNS, checks=ROW_CHECKS
    )
    added = [column for column in RUN_COLUMNS if column not in table.frame.columns]
    frame = with_added_columns(table.frame, RUN_COLUMNS)
    for column in set(added) & set(TEXT_COLUMNS):  # text reads as text: an added text column is empty, not NaN
        frame[column] = ""
    return CsvTable(frame, table.damaged)


def read_runs(path: Path) -> pd.DataFrame:
    """All readable rows of a ``runs.csv``: text columns as text ("" when empty; ``NA`` is a label, not a missing
    value), numbers as numbers. A damaged record is reported on stderr with its line number and left out.

    An empty frame with the schema's columns when the file does not exist or is empty.
    """
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame({c: pd.Series(dtype=object if c in TEXT_COLUMNS else "float64") for c in RUN_COLUMNS})
    table = read_runs_table(path)
    report_damaged(table.damaged)
    return table.frame


def read_epochs(path: Path) -> pd.DataFrame:
    """The rows of an ``epochs/<run_id>.csv`` (``phase`` as text, every other column a number)."""
    table = read_csv_table(
        path, text=("phase",), numbers=[c for c in EPOCH_COLUMNS if c != "phase"], required=("epoch", "phase")
    )
    report_damaged(table.damaged)
    return table.frame


def latest_rows(runs: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """The latest row of every run id in ``runs`` (rows are appended, so a later row supersedes an earlier one)."""
    return {row["run_id"]: row for row in runs.to_dict("records")}
