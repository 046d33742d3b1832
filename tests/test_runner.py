"""The batch runner on real data: failures recorded, kill-and-restart, two runners at once."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from cli_run import cli

from cskd.results import RUN_COLUMNS, read_runs

SUITE = {
    "name": "mini",
    "dataset": "cifar10-jpeg",
    "train_subset": 1000,
    "test_subset": 500,
    "recipe": {"epochs": 3, "batch_size": 100, "lr": 0.05, "milestones": [2]},
    "models": {
        "T": {"model": "cifar_resnet18_w0_25", "kwargs": {"width_multiplier": 0.5}},
        # 8 channels, not 4: torch 2.14.1 crashes in the channels_last backward of a 4->8 1x1 stride-2 convolution
        "S": {"model": "cifar_resnet18_w0_25", "kwargs": {"width_multiplier": 0.5}},
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
def cached_data(subset_data_dir):
    from cskd.data import load_subset

    load_subset("cifar10-jpeg", subset_data_dir, 1000, 500)  # the full copy decoded once (where present)
    return subset_data_dir


#: a KD whose softened targets overflow: its loss is not finite from the first batch (a diverged run)
DIVERGING_KD = {"method": "cskd", "args": {"beta": 1.0e30}}  # the intra term overflows within a few steps


def test_sweep_records_every_run_and_a_failure(tmp_path, cached_data):
    methods = {**SUITE["methods"], "BadKD": DIVERGING_KD}
    suite = write_suite(tmp_path, methods=methods)
    result = subprocess.run(command(suite, tmp_path, cached_data), capture_output=True, text=True)
    assert result.returncode == 1, result.stdout + result.stderr  # a failed run makes the sweep exit non-zero
    table = rows(tmp_path)
    assert list(table.columns) == list(RUN_COLUMNS)
    assert len(table) == 5 and table["run_id"].is_unique
    bad = table[table["method"] == "BadKD"].iloc[0]
    assert bad["status"] == "failed" and "training loss is not finite" in bad["error"]
    ok = table[table["status"] == "ok"]
    assert sorted(ok["method"]) == ["CE", "CSKD", "KD", "Teacher"]
    assert (ok["epochs"] == 3).all() and (ok["best_top1"] > 0).all() and (ok["data_sha256"].str.len() == 64).all()
    assert (ok[ok["method"].isin(["KD", "CSKD"])]["lockstep"] == 3).all()  # with BadKD, which failed in the group
    teacher = ok[ok["kind"] == "teacher"].iloc[0]
    assert (ok[ok["method"] == "KD"]["teacher_top1"] == teacher["best_top1"]).all()
    for run_id in ok["run_id"]:
        assert len(pd.read_csv(tmp_path / "mini" / "epochs" / f"{run_id}.csv")) == 3
    again = subprocess.run(command(suite, tmp_path, cached_data), capture_output=True, text=True)
    assert "4 already done" in again.stdout
    assert len(rows(tmp_path)) == 6  # only the failed run was tried again
    retried = rows(tmp_path).iloc[-1]
    assert retried["method"] == "BadKD" and retried["status"] == "failed" and "stays failed" in retried["error"]


def test_a_split_lockstep_group_gives_the_same_rows_as_the_whole_group(tmp_path, cached_data):
    """--lockstep-size cuts a group into parts, each with its own teacher stream: the same batches and the same
    initialisations, so deterministically the same numbers; only the grouping recorded in each row differs."""
    recipe = {**SUITE["recipe"], "epochs": 2, "milestones": [1]}
    suite = write_suite(tmp_path, train_subset=300, test_subset=200, recipe=recipe)
    results = {}
    for name, extra in (("whole", []), ("split", ["--lockstep-size", "1"])):
        run = [*command(suite, tmp_path / name, cached_data), "--deterministic", *extra]
        result = subprocess.run(run, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        results[name] = rows(tmp_path / name).sort_values("run_id").reset_index(drop=True)
    whole, split = results["whole"], results["split"]
    assert list(whole["run_id"]) == list(split["run_id"]) and len(split) == 4
    students = split["method"].isin(["KD", "CSKD"])
    assert (whole[students]["lockstep"] == 2).all() and (split[students]["lockstep"] == 1).all()
    compared = ["best_top1", "best_top5", "last_top1", "last_top5", "teacher_top1", "status"]
    pd.testing.assert_frame_equal(whole[compared], split[compared])


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


def tiny_suite(tmp_path: Path, **changes) -> Path:
    """The mini suite at its smallest: 1 epoch on 200 images (a run takes seconds)."""
    recipe = {"epochs": 1, "batch_size": 50, "lr": 0.05, "milestones": []}
    small = {"train_subset": 200, "test_subset": 100, "recipe": recipe, "methods": {"KD": SUITE["methods"]["KD"]}}
    return write_suite(tmp_path, **(small | changes))


def run_cli(*argv: str) -> tuple[int, str, str]:
    return cli(*argv, "--device", "cpu", "--no-progress")


def test_a_diverged_teacher_stays_failed_and_teaches_nobody(tmp_path, cached_data):
    suite = tiny_suite(tmp_path, recipe={"epochs": 1, "batch_size": 50, "lr": 1.0e30, "milestones": []})
    common = (str(suite), "--results-dir", str(tmp_path), "--data-dir", str(cached_data))
    for attempt in (1, 2):  # the first sweep diverges; the second must not turn the diverged runs ok
        code, out, _ = run_cli("run", *common)
        assert code == 1
        table = rows(tmp_path)
        assert not (table["status"] == "ok").any(), f"attempt {attempt}: a diverged run was recorded ok"
        teacher = table[table["kind"] == "teacher"].iloc[-1]
        assert "training loss is not finite" in teacher["error"]
        kd = table[table["method"] == "KD"].iloc[-1]
        assert "has not finished successfully" in kd["error"]
    assert "stays failed" in teacher["error"] and str(tmp_path) in teacher["error"]  # says which file to delete
    code, out, _ = run_cli("run", *common, "--dry-run")
    lines = out.splitlines()
    assert code == 0 and "2 runs (0 done, 0 to do, 1 failed, 1 blocked)" in lines
    assert any("[failed]" in line and "teacher T" in line and "not finite" in line for line in lines)
    assert any("[blocked]" in line and "its teacher T cannot teach" in line for line in lines)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_a_damaged_teacher_checkpoint_is_found_before_its_students_need_it(tmp_path, cached_data):
    suite = tiny_suite(tmp_path)
    common = (str(suite), "--results-dir", str(tmp_path), "--data-dir", str(cached_data))
    assert run_cli("run", *common, "--only", "kind=teacher")[0] == 0
    teacher_id = rows(tmp_path)["run_id"].iloc[0]
    truncate(tmp_path / "mini" / "checkpoints" / f"{teacher_id}.pt")
    code, out, _ = run_cli("run", *common, "--dry-run")
    line = next(line for line in out.splitlines() if teacher_id in line)
    assert "[  redo]" in line and "is damaged" in line and "trained again" in line
    code, out, _ = run_cli("run", *common)
    assert code == 0, out
    table = rows(tmp_path)
    assert list(table["method"]) == ["Teacher", "Teacher", "KD"] and (table["status"] == "ok").all()
    assert (tmp_path / "mini" / "checkpoints" / f"{teacher_id}.pt.damaged").exists()  # set aside, not deleted


def test_a_damaged_checkpoint_of_an_unfinished_run_is_named(tmp_path, cached_data):
    suite = tiny_suite(tmp_path)
    common = (str(suite), "--results-dir", str(tmp_path), "--data-dir", str(cached_data))
    from cskd.plan import expand
    from cskd.suite import load_suite

    teacher = next(r for r in expand(load_suite(suite)).runs if r.kind == "teacher")
    path = tmp_path / "mini" / "checkpoints" / f"{teacher.run_id}.pt"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PK\x03\x04 a torch checkpoint cut short")
    out = run_cli("run", *common, "--dry-run")[1]
    assert any("[failed]" in line and str(path) in line and "delete it" in line for line in out.splitlines())
    assert any("[blocked]" in line and "its teacher T cannot teach" in line for line in out.splitlines())
    assert run_cli("run", *common)[0] == 1
    failed = rows(tmp_path).set_index("method").loc["Teacher"]
    assert failed["status"] == "failed" and str(path) in failed["error"]
    assert "delete it to train this run again from scratch" in failed["error"]


def test_a_damaged_supplied_teacher_stops_the_sweep_before_training(tmp_path, cached_data):
    from cskd.models import create_model

    teacher = tmp_path / "teacher.pt"
    torch.save(create_model("cifar_resnet18_w0_25", num_classes=10, width_multiplier=0.5).state_dict(), teacher)
    sha256 = hashlib.sha256(teacher.read_bytes()).hexdigest()
    truncate(teacher)
    suite = tiny_suite(tmp_path, teacher_checkpoints={"T": {"path": str(teacher), "sha256": sha256}})
    common = (str(suite), "--results-dir", str(tmp_path), "--data-dir", str(cached_data))
    code, out, _ = run_cli("run", *common, "--dry-run")
    kd = next(line for line in out.splitlines() if "KD" in line)
    assert "[blocked]" in kd and f"teacher checkpoint {teacher} does not have the sha256" in kd
    assert "download it again" in kd and hashlib.sha256(teacher.read_bytes()).hexdigest() not in out  # no file's hash
    code, out, err = run_cli("run", *common)
    assert code == 2 and f"teacher checkpoint {teacher} does not have the sha256" in err
    assert not (tmp_path / "mini" / "runs.csv").exists()  # nothing trained


def test_a_teacher_checkpoint_is_named_when_damaged_or_not_fitting(tmp_path):
    from cskd.engine.checkpoint import CheckpointError
    from cskd.engine.trainer import EngineOptions, load_trained_model
    from cskd.models import create_model

    path = tmp_path / "teacher.pt"
    model = create_model("cifar_resnet18_w0_25", num_classes=10, width_multiplier=0.5)
    torch.save({"model": model.state_dict(), "history": []}, path)
    load_trained_model("cifar_resnet18_w0_25", {"width_multiplier": 0.5}, 10, path, EngineOptions())
    with pytest.raises(
        CheckpointError, match=rf"checkpoint {path} does not fit model cifar_resnet18_w0_25 .*size mismatch"
    ):
        load_trained_model("cifar_resnet18_w0_25", {}, 10, path, EngineOptions())
    broken = {k: v.clone() for k, v in model.state_dict().items()}
    broken["fc.weight"][0, 0] = float("nan")
    torch.save(broken, path)
    with pytest.raises(CheckpointError, match=r"non-finite weights .*fc.weight.*cannot teach"):
        load_trained_model("cifar_resnet18_w0_25", {"width_multiplier": 0.5}, 10, path, EngineOptions())
    truncate(path)
    with pytest.raises(CheckpointError, match=rf"checkpoint {path} is damaged or not a checkpoint"):
        load_trained_model("cifar_resnet18_w0_25", {"width_multiplier": 0.5}, 10, path, EngineOptions())


def test_train_command_separates_teacher_and_student_options(tmp_path, cached_data):
    from cskd.models import create_model

    teacher = tmp_path / "teacher.pt"
    torch.save(create_model("cifar_resnet18_w0_25", num_classes=10, width_multiplier=0.5).state_dict(), teacher)
    common = ["train", "--model", "cifar_resnet18_w0_25", "--dataset", "cifar10-jpeg", "--data-dir", str(cached_data)]
    common += ["--method", "kd", "--teacher-model", "cifar_resnet18_w0_25", "--teacher-checkpoint", str(teacher)]
    common += ["--epochs", "1", "--subset", "200", "--test-subset", "100", "--batch-size", "50"]
    code, _, err = run_cli(*common, "--width-multiplier", "0.5", "--out", str(tmp_path / "a"))
    assert code == 2 and f"checkpoint {teacher} does not fit model cifar_resnet18_w0_25" in err
    assert "--teacher-width-multiplier" in err  # what to do
    teacher_width = ["--teacher-width-multiplier", "0.5"]
    code, _, err = run_cli(*common, "--width-multiplier", "0.5", *teacher_width, "--out", str(tmp_path / "b"))
    assert code == 0, err
    truncate(teacher)
    code, _, err = run_cli(*common, *teacher_width, "--out", str(tmp_path / "c"))
    assert code == 2 and f"checkpoint {teacher} is damaged" in err
    code, _, err = run_cli(*common, *teacher_width, "--method-arg", "form=mse", "--out", str(tmp_path / "d"))
    assert code == 2 and "--method-arg 'form=mse': the value is not JSON" in err
