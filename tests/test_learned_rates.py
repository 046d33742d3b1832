"""Rates learned from recorded runs (cskd.learned_rates): the formula on a hand-made row, and the dry run's hours of
the quick and ci suites against their recorded wall-clock time (reference/results)."""

from __future__ import annotations

import json
import re

from cskd.cli import main
from cskd.cost import cpu_rate, model_facts
from cskd.learned_rates import REFERENCE_RESULTS, calibrated, learned_rate, row_macs
from cskd.results import append_run_row, read_runs
from cskd.suite import ModelRef

STUDENT = {"name": "cifar_resnet18_w0_25", "kwargs": {}}
TEACHER = {"name": "cifar_resnet34_w0_25", "kwargs": {}}


def row(**changes) -> dict:
    base = {
        "suite": "s", "run_id": "r", "dataset": "cifar10", "student_model": json.dumps(STUDENT),
        "teacher_model": json.dumps(TEACHER), "epochs": 3, "init_epochs": 1, "train_size": 1000, "lockstep": 2,
        "wall_seconds": 10.0, "device": "cpu", "status": "ok",
    }  # fmt: skip
    return base | changes


def test_row_macs_follow_the_formula():
    s, _ = model_facts(ModelRef(STUDENT["name"]), 10, (3, 32, 32))
    t, _ = model_facts(ModelRef(TEACHER["name"]), 10, (3, 32, 32))
    assert row_macs(row()) == 1000 * 4 * (3 * s + t / 2)
    assert row_macs(row(teacher_model="")) == 1000 * 4 * 3 * s
    assert row_macs(row(dataset="imagefolder:/nowhere")) is None  # size unknown before loading


def test_rate_is_sum_of_macs_over_sum_of_seconds_per_device(tmp_path):
    runs = tmp_path / "s" / "runs.csv"
    append_run_row(runs, row(run_id="a"))
    append_run_row(runs, row(run_id="b", wall_seconds=30.0, teacher_model=""))
    append_run_row(runs, row(run_id="c", device="cuda:0 (H100)", wall_seconds=0.1))
    append_run_row(runs, row(run_id="d", status="failed", wall_seconds=1.0))
    rows = read_runs(runs).to_dict("records")
    rate, used, folder = learned_rate("cpu", [tmp_path / "empty", tmp_path])
    assert used == 2 and folder == tmp_path
    assert rate == (row_macs(rows[0]) + row_macs(rows[1])) / 40.0
    assert learned_rate("cuda", [tmp_path])[1] == 1
    assert calibrated(cpu_rate(), "cpu", tmp_path).basis.startswith(f"learned: {rate / 1e9:.1f} GMAC/s")


def test_the_planned_suites_rows_come_first_else_all_suites(tmp_path):
    append_run_row(tmp_path / "fast" / "runs.csv", row(run_id="a", suite="fast", wall_seconds=1.0))
    append_run_row(tmp_path / "slow" / "runs.csv", row(run_id="b", suite="slow", wall_seconds=3.0))
    one = row_macs(row())
    assert learned_rate("cpu", [tmp_path], "fast")[0] == one / 1.0
    assert learned_rate("cpu", [tmp_path], "slow")[0] == one / 3.0
    assert calibrated(cpu_rate(), "cpu", tmp_path, "slow").macs_per_second == one / 3.0
    fallback = calibrated(cpu_rate(), "cpu", tmp_path, "never-run")
    assert fallback.macs_per_second == 2 * one / 4.0 and "of all suites" in fallback.basis


def hours_of(out: str) -> float:
    return float(re.search(r"all runs ([\d.e+-]+) CPU-hours", out)[1])


def test_dry_run_hours_of_quick_and_ci_are_within_1_5x_of_their_recorded_time(tmp_path, capsys):
    for suite in ("quick", "ci"):
        recorded = read_runs(REFERENCE_RESULTS / suite / "runs.csv")["wall_seconds"].sum() / 3600
        assert main(["run", suite, "--dry-run", "--results-dir", str(tmp_path), "--data-dir", str(tmp_path)]) == 0
        estimated = hours_of(capsys.readouterr().out)
        assert 1 / 1.5 <= estimated / recorded <= 1.5, (suite, estimated, recorded)


def test_without_recorded_runs_the_stated_model_is_used(tmp_path, monkeypatch):
    monkeypatch.setattr("cskd.learned_rates.REFERENCE_RESULTS", tmp_path / "none")
    assert calibrated(cpu_rate(), "cpu", tmp_path) == cpu_rate()
