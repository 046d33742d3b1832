"""The structure metrics in the CI regression check: the committed reference ``reference/results/ci/runs.csv`` holds
them, ``cskd check`` compares every one within its measured tolerance (cskd/report/structure_check.py), a value moved
beyond it fails naming the metric, cell, value, reference and tolerance, and a run that lacks a value the reference
holds is reported as missing rather than passed."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from test_check import parse

from cskd.report.check import check
from cskd.report.structure_check import (
    FLOORS,
    MEASURED_RERUN_SPREAD,
    SPREAD_FACTOR,
    STRUCTURE_TOLERANCES,
    tolerance_for,
)
from cskd.results import read_runs
from cskd.runs_schema import STRUCTURE_COLUMNS

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "results" / "ci" / "runs.csv"
#: the accuracy tolerance of run_tests.sh (CI_ACCURACY_TOLERANCE)
ACCURACY_TOLERANCE = 5.0
#: metrics that compare with the teacher: CE has no teacher, so no value
TEACHER_METRICS = {"struct_center_corr", "struct_center_mse", "struct_cka", "struct_agreement", "struct_kl_t4"}


def reference_rows() -> pd.DataFrame:
    return read_runs(REFERENCE)


def write(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def check_rows(frame: pd.DataFrame, tmp_path: Path, name: str = "runs.csv"):
    """``check`` of ``frame``, written as a runs.csv and read back, against the CI reference."""
    return check(read_runs(write(frame, tmp_path / name)), REFERENCE, tolerance=ACCURACY_TOLERANCE)


def moved(column: str, method: str, by: float) -> pd.DataFrame:
    """The reference with ``column`` of ``method``'s run moved by ``by``."""
    frame = reference_rows()
    frame.loc[frame["method"] == method, column] += by
    return frame


def test_every_tolerance_follows_the_stated_rule():
    assert set(STRUCTURE_TOLERANCES) == set(STRUCTURE_COLUMNS) == set(MEASURED_RERUN_SPREAD) == set(FLOORS)
    for column, (_, value) in STRUCTURE_TOLERANCES.items():
        assert value == max(SPREAD_FACTOR * MEASURED_RERUN_SPREAD[column], FLOORS[column]) > 0


def test_the_ci_reference_holds_every_metric_and_passes_its_own_check():
    frame = reference_rows()
    ok = frame[frame["status"] == "ok"]
    for column in STRUCTURE_COLUMNS:
        has_teacher = ok["teacher"] != ""
        needed = ok[has_teacher] if column in TEACHER_METRICS else ok
        assert needed[column].notna().all(), column
    result = check(frame, REFERENCE, tolerance=ACCURACY_TOLERANCE)
    structure = [cell for cell in result.cells if cell.metric.startswith("struct_")]
    # CE: the 3 student-only metrics; 5 distilled students: all 8
    assert len(structure) == 3 + 5 * 8
    assert result.ok and all(cell.difference == 0 for cell in structure)
    assert "not compared" not in result.render()
    assert (
        "PASS: all 55 cells within ±5.00 points (43 of them structure metrics, each within its own" in result.render()
    )


@pytest.mark.parametrize("column", STRUCTURE_COLUMNS)
def test_a_metric_moved_beyond_its_tolerance_fails_and_within_it_passes(column: str, tmp_path: Path):
    frame = reference_rows()
    expected = float(frame.loc[frame["method"] == "CSKD", column].iloc[0])
    tolerance = tolerance_for(column, expected)
    inside = check_rows(moved(column, "CSKD", 0.5 * tolerance), tmp_path, "in.csv")
    assert inside.ok
    outside = check_rows(moved(column, "CSKD", -1.5 * tolerance), tmp_path, "out.csv")
    assert not outside.ok
    [failure] = outside.failures
    assert (failure.metric, failure.key.method, failure.outcome) == (column, "CSKD", "FAIL")
    line = failure.verdict()
    assert line.startswith("R34_0.25 / R18_0.125 · CSKD · ") and f"{column} " in line
    assert f"{expected - 1.5 * tolerance:.4g}" in line and f"reference {expected:.4g}" in line
    assert f"outside ±{tolerance:.3g}" in line and line in outside.render()


def test_a_run_without_a_value_the_reference_holds_is_missing_not_passed(tmp_path: Path):
    frame = reference_rows()
    frame.loc[frame["method"] == "KD", "struct_cka"] = math.nan
    result = check_rows(frame, tmp_path)
    [failure] = result.failures
    assert (failure.metric, failure.key.method, failure.outcome) == ("struct_cka", "KD", "missing")
    assert "KD · linear CKA (T) (missing): struct_cka not recorded by 1 successful run(s)" in result.render()


def test_a_seed_without_the_value_is_missing_even_when_another_seed_has_it(tmp_path: Path):
    """A mean over the seeds that hold the value would pass a run that recorded none."""
    frame = reference_rows()
    second = frame[frame["method"] == "KD"].assign(seed=1, run_id="0123456789abcdef", struct_nc1=math.nan)
    result = check_rows(pd.concat([frame, second]), tmp_path)
    [failure] = result.failures
    assert (failure.metric, failure.key.method, failure.outcome, failure.lacking) == ("struct_nc1", "KD", "missing", 1)
    assert "struct_nc1 not recorded by 1 successful run(s)" in result.render()


def test_the_check_command_fails_on_a_moved_metric(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    results = write(moved("struct_agreement", "KD (KL)", 50.0), tmp_path / "ci" / "runs.csv")
    args = parse(["check", str(results), "--against", str(REFERENCE), "--tolerance", str(ACCURACY_TOLERANCE)])
    assert args.func(args) == 1
    assert "KD (KL) · top-1 agreement (T, %) (FAIL): struct_agreement" in capsys.readouterr().out
