"""From ``runs.csv`` rows to table cells: one profile, one row per run, statistics over seeds.

A *cell* is one (teacher, student, method) triple, as in ``runs.csv``: a distilled student has the pair's teacher
label; a teacher-free run (the CE baseline, shared by every pair with that student) and a teacher's own run have an
empty teacher (a teacher run is ``method="Teacher"``, ``student=<teacher label>``). The cell of a table position
(teacher T, student S, method m) is therefore the runs with ``(T, S, m)``, or, when there are none, ``("", S, m)``:
a label is either teacher-free or not, so the two never both exist.

Over the seeds of a cell: mean, sample standard deviation (ddof = 1, undefined for one seed) and the count n.

A teacher supplied as a checkpoint (a suite's ``teacher_checkpoints``) has no run of its own: its cell holds the
top-1 its students recorded when they loaded it (``teacher_top1``), one value per distinct evaluation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cskd import results
from cskd.csvfiles import CsvFileError, report_damaged
from cskd.report.errors import ReportInputError

#: runs.csv columns holding text (read as text, empty instead of NaN)
TEXT_COLUMNS: tuple[str, ...] = (
    "suite",
    "run_id",
    "kind",
    "dataset",
    "dataset_source",
    "data_sha256",
    "teacher",
    "student",
    "method",
    "method_name",
    "profile",
    "status",
    "error",
)
#: runs.csv columns holding accuracies (%)
ACCURACY_COLUMNS: tuple[str, ...] = ("best_top1", "best_top5", "last_top1", "last_top5")
#: runs.csv columns the report reads as numbers
NUMBER_COLUMNS: tuple[str, ...] = ("seed", "epochs", "train_size", "test_size", "teacher_top1", *ACCURACY_COLUMNS)
#: which epoch's accuracy a table shows: the best epoch (as the official code reports) or the last epoch
EPOCH_RULES: tuple[str, ...] = ("best", "last")
METRICS: tuple[str, ...] = ("top1", "top5")
#: method label of a teacher's own run
TEACHER = "Teacher"
#: the profile a run without profiles belongs to
FULL_PROFILE = "full"


@dataclass(frozen=True)
class CellKey:
    """One (teacher, student, method) triple; ``teacher`` is empty for teacher runs and teacher-free students."""

    teacher: str
    student: str
    method: str

    @property
    def label(self) -> str:
        return f"{self.teacher or '—'} / {self.student} · {self.method}"


@dataclass(frozen=True)
class Stats:
    """Accuracy of one cell over its seeds: successful runs ``n``, runs that failed without a later success."""

    n: int
    mean: float | None
    std: float | None  # sample std (ddof=1); None when n < 2
    failed: int

    @property
    def status(self) -> str:
        """``ok`` (every run succeeded), ``partial`` (some failed), ``failed`` (all failed) or ``missing`` (none)."""
        if self.n and self.failed:
            return "partial"
        if self.n:
            return "ok"
        return "failed" if self.failed else "missing"


@dataclass(frozen=True)
class Row:
    """One table row: a teacher / student pair (either side empty for runs outside any pair)."""

    teacher: str
    student: str

    @property
    def label(self) -> str:
        return f"{self.teacher or '—'} / {self.student or '—'}"

    def key(self, column: str) -> CellKey:
        """The cell of this row in ``column``: the Teacher column holds the teacher's own run."""
        if column == TEACHER:
            return CellKey("", self.teacher, TEACHER)
        return CellKey(self.teacher, self.student, column)


def read_runs_csv(path: Path, *, intact: bool = False) -> pd.DataFrame:
    """A ``runs.csv`` read with its text columns as text (a hex run id made only of digits stays text, a label
    ``NA`` stays ``NA``). A damaged record is reported on stderr and left out, or, with ``intact`` (a reference),
    is an error naming every damaged line."""
    if not path.is_file():
        raise ReportInputError(f"no runs.csv at {path}: run the suite first (`cskd run SUITE`) or pass the right path")
    try:
        table = results.read_runs_table(path)
    except CsvFileError as error:
        raise ReportInputError(f"{path} is not a readable runs.csv: {error}") from error
    if table.damaged and intact:
        lines = "\n".join(f"  {item}" for item in table.damaged)
        raise ReportInputError(f"{path} has damaged records; a reference must be intact:\n{lines}")
    report_damaged(table.damaged)
    return normalise_runs(table.frame)


def normalise_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Text columns as strings (empty for missing), accuracies and seeds as numbers, an empty profile as ``full``."""
    missing = [c for c in (*TEXT_COLUMNS, *NUMBER_COLUMNS) if c not in runs.columns]
    if missing:
        raise ReportInputError(f"not a runs.csv table: columns {missing} are missing (see cskd/results.py)")
    runs = runs.copy()
    for column in TEXT_COLUMNS:
        runs[column] = runs[column].astype("string").fillna("").astype(str)
    for column in NUMBER_COLUMNS:
        runs[column] = pd.to_numeric(runs[column], errors="coerce")
    runs.loc[runs["profile"] == "", "profile"] = FULL_PROFILE
    return runs


def check_epoch_rule(epoch_rule: str) -> str:
    if epoch_rule not in EPOCH_RULES:
        raise ReportInputError(f"unknown accuracy {epoch_rule!r}: use one of {', '.join(EPOCH_RULES)}")
    return epoch_rule


def select_profile(runs: pd.DataFrame, profile: str | None) -> tuple[pd.DataFrame, str | None]:
    """The rows of one profile: ``profile`` when given, else the only one present (tables never mix profiles)."""
    present = sorted(set(runs["profile"]))
    if profile is not None:
        if profile not in present:
            shown = ", ".join(present) if present else "none"
            raise ReportInputError(f"no runs of profile {profile!r} (profiles present: {shown})")
        return runs[runs["profile"] == profile], profile
    if len(present) > 1:
        raise ReportInputError(
            f"runs of several profiles are present ({', '.join(present)}): choose one with --profile"
        )
    return runs, (present[0] if present else None)


def latest_attempts(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run id: its last successful row, or its last row when it never succeeded.

    A run that failed and then succeeded on a retry counts as a success; a rerun replaces an earlier result.
    """
    ok = runs["status"] == "ok"
    succeeded = runs[ok].drop_duplicates("run_id", keep="last")
    never_ok = runs[~ok & ~runs["run_id"].isin(succeeded["run_id"])].drop_duplicates("run_id", keep="last")
    return pd.concat([succeeded, never_ok]).sort_index()


class CellTable:
    """Statistics of every cell of a set of runs (one profile), at the best or the last epoch."""

    def __init__(self, runs: pd.DataFrame, epoch_rule: str) -> None:
        self.epoch_rule = check_epoch_rule(epoch_rule)
        self.runs = latest_attempts(normalise_runs(runs))
        self._groups = {
            CellKey(*key): rows for key, rows in self.runs.groupby(["teacher", "student", "method"], sort=False)
        }

    def cell_keys(self) -> Iterator[CellKey]:
        return iter(self._groups)

    def resolve(self, key: CellKey) -> CellKey:
        """The key holding the runs of a table position: itself, or its teacher-free form (see module docstring)."""
        if key in self._groups:
            return key
        shared = CellKey("", key.student, key.method)
        return shared if shared in self._groups else key

    def rows(self, key: CellKey) -> pd.DataFrame:
        """The runs (one per run id, successful or not) of a table position."""
        return self._groups.get(self.resolve(key), self.runs.iloc[0:0])

    def supplied_teacher(self, teacher: str) -> bool:
        """Whether ``teacher`` has no run of its own but students that loaded it from a supplied checkpoint."""
        if CellKey("", teacher, TEACHER) in self._groups:
            return False
        students = self.runs[(self.runs["teacher"] == teacher) & (self.runs["status"] == "ok")]
        return bool(students["teacher_top1"].notna().any())

    def _supplied_teacher_stats(self, teacher: str, metric: str) -> Stats:
        students = self.runs[(self.runs["teacher"] == teacher) & (self.runs["status"] == "ok")]
        values = students["teacher_top1"].dropna().drop_duplicates() if metric == "top1" else pd.Series(dtype=float)
        if values.empty:
            return Stats(n=0, mean=None, std=None, failed=0)
        std = float(values.std(ddof=1)) if len(values) > 1 else None
        return Stats(n=len(values), mean=float(values.mean()), std=std, failed=0)

    def by_seed(self, key: CellKey, metric: str) -> dict[int, float]:
        """The successful runs' accuracy per seed (a seed run twice under different ids: its latest row)."""
        rows = self.rows(key)
        column = f"{self.epoch_rule}_{metric}"
        ok = rows[(rows["status"] == "ok") & rows["seed"].notna()].dropna(subset=[column])
        return {int(seed): float(value) for seed, value in zip(ok["seed"], ok[column], strict=True)}

    def stats(self, key: CellKey, metric: str) -> Stats:
        if key.method == TEACHER and self.supplied_teacher(key.student):
            return self._supplied_teacher_stats(key.student, metric)
        rows = self.rows(key)
        ok = rows[rows["status"] == "ok"]
        values = ok[f"{self.epoch_rule}_{metric}"].dropna()
        n = len(values)
        failed = len(rows) - len(ok)
        if not n:
            return Stats(n=0, mean=None, std=None, failed=failed)
        std = float(values.std(ddof=1)) if n > 1 else None
        return Stats(n=n, mean=float(values.mean()), std=std, failed=failed)
