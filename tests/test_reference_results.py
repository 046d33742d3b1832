"""The committed reference data (``reference/results/<suite>/``) is what its suite produces today, complete and ok,
and the claims the README and docs/quick.md make about the quick suite hold in it.

A reference that no longer matches its suite (a recipe, a subset or a method option changed without retraining)
would make ``cskd check`` compare different experiments, and the README's numbers would describe another run.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cskd.plan import expand
from cskd.results import read_epochs, read_runs
from cskd.suite import load_suite

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "results"
SUITES = sorted(p.name for p in REFERENCE.iterdir() if (p / "runs.csv").exists())


@pytest.mark.parametrize("suite_name", SUITES)
def test_a_reference_holds_every_run_of_its_suite_ok_with_its_epochs(suite_name: str) -> None:
    """Each profile the reference holds, with the seeds it holds (a study may stop at fewer seeds than declared)."""
    runs = read_runs(REFERENCE / suite_name / "runs.csv")
    suite = load_suite(suite_name)
    planned = set()
    for profile, rows in runs.groupby("profile"):
        seeds = sorted(int(seed) for seed in rows[rows["kind"] == "student"]["seed"].unique())
        plan = expand(suite, None if profile == "full" else profile, seeds or None)
        planned |= {run.run_id for run in plan.runs if run.kind == "student" or run.teacher_checkpoint is None}
    assert set(runs["run_id"]) == planned, "the reference's run ids differ from its suite's: retrain it"
    assert runs["run_id"].is_unique and (runs["status"] == "ok").all()
    for row in runs.itertuples():
        epochs = read_epochs(REFERENCE / suite_name / "epochs" / f"{row.run_id}.csv")
        main = epochs[epochs["phase"] == "main"]
        assert len(main) == row.epochs and main["test_top1"].max() == pytest.approx(row.best_top1)


def quick_means() -> tuple[pd.Series, float]:
    runs = read_runs(REFERENCE / "quick" / "runs.csv")
    assert runs.groupby("method")["seed"].nunique().eq(3).all()
    return runs.groupby("method")["best_top1"].mean(), float(runs["teacher_top1"].dropna().iloc[0])


def test_quick_reference_teacher_beats_every_student_by_a_clear_margin() -> None:
    means, teacher = quick_means()
    assert teacher - means.max() > 10
