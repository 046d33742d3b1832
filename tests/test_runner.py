"""The batch runner on real data: failures recorded, kill-and-restart, two runners at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cskd.results import RUN_COLUMNS, read_runs

SUITE = {
    "name": "mini",
    "dataset": "cifar10-jpeg",
    "train_subset": 1000,
    "test_subset": 500,
    "recipe": {"epochs": 3, "batch_size": 100, "lr": 0.05, "milestones": [2]},
    "models": {
        "T": {"model": "cifar_resnet18_w0_25", "kwargs": {"width_multiplier": 0.5}},
        "S": {"model": "cifar_resnet18_w0_25", "kwargs": {"width_multiplier": 0.25}},
    },
    "pairs": [["T", "S"]],
    "methods": {"CE": {"method": "ce"}, "KD": {"method": "kd", "args": {"form": "mse"}}, "CSKD": {"method": "cskd"}},
    "seeds": [0],
}


def write_suite(tmp_path: Path, **changes) -> Path:
    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump({**SUITE, **changes}))
    return path


def command(suite: Path, results: Path, data_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "cskd",
        "run",
        str(suite),
        "--results-dir",
        str(results),
        "--data-dir",
        str(data_dir),
        "--device",
        "cpu",
        "--no-progress",
    ]


def rows(results: Path) -> pd.DataFrame:
    return read_runs(results / "mini" / "runs.csv")


@pytest.fixture(scope="module")
def cached_data(data_dir):
    from cskd.data import load_dataset

    load_dataset("cifar10-jpeg", data_dir)  # decode once so that subprocesses start from the cache
    return data_dir


def test_sweep_records_every_run_and_a_failure(tmp_path, cached_data):
    methods = {**SUITE["methods"], "BadKD": {"method": "kd", "args": {"temperature": -1.0}}}
    suite = write_suite(tmp_path, methods=methods)
    result = subprocess.run(command(suite, tmp_path, cached_data), capture_output=True, text=True)
    assert result.returncode == 1, result.stdout + result.stderr  # a failed run makes the sweep exit non-zero
    table = rows(tmp_path)
    assert list(table.columns) == list(RUN_COLUMNS)
    assert len(table) == 5 and table["run_id"].is_unique
    bad = table[table["method"] == "BadKD"].iloc[0]
    assert bad["status"] == "failed" and "temperature" in bad["error"]
    ok = table[table["status"] == "ok"]
    assert sorted(ok["method"]) == ["CE", "CSKD", "KD", "Teacher"]
    assert (ok["epochs"] == 3).all() and (ok["best_top1"] > 0).all() and (ok["data_sha256"].str.len() == 64).all()
    assert (ok[ok["method"].isin(["KD", "CSKD"])]["lockstep"] == 2).all()
    teacher = ok[ok["kind"] == "teacher"].iloc[0]
    assert (ok[ok["method"] == "KD"]["teacher_top1"] == teacher["best_top1"]).all()
    for run_id in ok["run_id"]:
        assert len(pd.read_csv(tmp_path / "mini" / "epochs" / f"{run_id}.csv")) == 3
    again = subprocess.run(command(suite, tmp_path, cached_data), capture_output=True, text=True)
    assert "4 already done" in again.stdout
    assert len(rows(tmp_path)) == 6  # only the failed run was tried again


def test_killed_sweep_resumes_without_recomputing(tmp_path, cached_data):
    suite = write_suite(tmp_path, recipe={**SUITE["recipe"], "epochs": 6, "milestones": [4]})
    process = subprocess.Popen(
        command(suite, tmp_path, cached_data), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    epochs = tmp_path / "mini" / "epochs"
    deadline = time.time() + 600
    while time.time() < deadline and process.poll() is None:  # kill once the students are part-way
        runs = tmp_path / "mini" / "runs.csv"
        if (
            runs.exists()
            and len(pd.read_csv(runs)) >= 2
            and any(
                len(pd.read_csv(p)) >= 1 for p in epochs.glob("*.csv") if p.stem not in set(pd.read_csv(runs)["run_id"])
            )
        ):
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = rows(tmp_path)
    assert set(before["method"]) == {"Teacher", "CE"}, "the sweep was not killed among the students"
    restarted = subprocess.run(command(suite, tmp_path, cached_data), capture_output=True, text=True)
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    after = rows(tmp_path)
    assert len(after) == 4 and after["run_id"].is_unique and (after["status"] == "ok").all()
    pd.testing.assert_frame_equal(after.iloc[:2], before)  # finished rows untouched, not recomputed
    for run_id in after["run_id"]:
        history = pd.read_csv(epochs / f"{run_id}.csv")
        assert list(history["epoch"]) == [1, 2, 3, 4, 5, 6]


def test_two_runners_at_once_share_the_work(tmp_path, cached_data):
    suite = write_suite(tmp_path)
    first = subprocess.Popen(
        command(suite, tmp_path, cached_data), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    second = subprocess.Popen(
        command(suite, tmp_path, cached_data), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    outputs = [first.communicate(timeout=600)[0], second.communicate(timeout=600)[0]]
    assert first.returncode == 0 and second.returncode == 0, outputs
    table = rows(tmp_path)
    assert len(table) == 4 and table["run_id"].is_unique and (table["status"] == "ok").all()
