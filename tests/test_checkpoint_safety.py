"""Checkpoints are data, never code: a crafted pickle whose payload would create a file is refused, and the file is
not created, in each place cskd reads a checkpoint; converting a foreign pickle is an explicit, trusting step."""

from __future__ import annotations

import builtins
import hashlib
import re
import shutil
from pathlib import Path

import pytest
import torch
from test_runner import rows, run_cli, tiny_suite

from cskd.cli import main


class _CreatesAFile:
    """Unpickling this object opens (creates) ``marker`` for writing: code that runs on load."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (builtins.open, (str(self.marker), "w"))


def craft(path: Path, marker: Path) -> str:
    """Write a checkpoint-looking pickle at ``path`` whose loading would create ``marker``; its sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": {"fc.weight": _CreatesAFile(marker)}, "run_id": "x", "history": []}, path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def cached(subset_data_dir):
    from cskd.data import load_subset

    load_subset("cifar10-jpeg", subset_data_dir, 200, 100)  # decoded once (the full copy's cache, where present)
    return subset_data_dir


def test_checkpoint_load_refuses_a_pickle_that_runs_code(tmp_path):
    from cskd.engine.checkpoint import CheckpointError, load

    marker, path = tmp_path / "pwned", tmp_path / "evil.pt"
    craft(path, marker)
    with pytest.raises(CheckpointError, match=r"evil.pt is not plain data: it holds the object io.open"):
        load(path)
    assert not marker.exists()


def test_reference_teachers_load_as_data():
    from cskd.engine.checkpoint import load

    teachers = sorted((Path(__file__).resolve().parents[1] / "reference" / "teachers").glob("*.pt"))
    assert teachers
    for path in teachers:
        state = load(path)
        assert state is not None and all(isinstance(v, torch.Tensor) for v in state["model"].values())


def test_a_suite_teacher_checkpoint_runs_no_code(tmp_path, cached):
    marker, teacher = tmp_path / "pwned", tmp_path / "teacher.pt"
    sha256 = craft(teacher, marker)
    suite = tiny_suite(tmp_path, teacher_checkpoints={"T": {"path": str(teacher), "sha256": sha256}})
    common = (str(suite), "--results-dir", str(tmp_path / "results"), "--data-dir", str(cached))
    code, out, _ = run_cli("run", *common, "--dry-run")
    assert not marker.exists()
    code, out, err = run_cli("run", *common)
    assert code == 2 and f"checkpoint {teacher} is not plain data" in err, out + err
    assert not marker.exists()
    assert not (tmp_path / "results" / "mini" / "runs.csv").exists()  # nothing trained


def test_train_teacher_checkpoint_runs_no_code(tmp_path, cached):
    marker, teacher = tmp_path / "pwned", tmp_path / "teacher.pt"
    craft(teacher, marker)
    argv = ["train", "--model", "cifar_resnet18_w0_25", "--dataset", "cifar10-jpeg", "--data-dir", str(cached)]
    argv += ["--method", "kd", "--teacher-model", "cifar_resnet18_w0_25", "--teacher-checkpoint", str(teacher)]
    argv += ["--epochs", "1", "--subset", "200", "--test-subset", "100", "--batch-size", "50", "--out", str(tmp_path)]
    code, _, err = run_cli(*argv)
    assert code == 2 and f"checkpoint {teacher} is not plain data" in err
    assert not marker.exists()


def test_a_replaced_checkpoint_of_an_unfinished_run_runs_no_code_on_a_dry_run(tmp_path, cached):
    from cskd.plan import expand
    from cskd.suite import load_suite

    suite = tiny_suite(tmp_path)
    teacher = next(r for r in expand(load_suite(suite)).runs if r.kind == "teacher")
    marker, path = tmp_path / "pwned", tmp_path / "mini" / "checkpoints" / f"{teacher.run_id}.pt"
    craft(path, marker)
    code, out, _ = run_cli("run", str(suite), "--results-dir", str(tmp_path), "--data-dir", str(cached), "--dry-run")
    assert code == 0 and not marker.exists()
    assert any("[failed]" in line and "is not plain data" in line for line in out.splitlines()), out


def test_a_finished_teacher_of_another_suite_is_reused_only_as_data(tmp_path, cached):
    suite = tiny_suite(tmp_path)
    common = (str(suite), "--results-dir", str(tmp_path), "--data-dir", str(cached), "--only", "kind=teacher")
    assert run_cli("run", *common)[0] == 0
    teacher_id = rows(tmp_path)["run_id"].iloc[0]
    shutil.move(tmp_path / "mini", tmp_path / "other")  # a finished teacher of the same configuration elsewhere
    marker = tmp_path / "pwned"
    craft(tmp_path / "other" / "checkpoints" / f"{teacher_id}.pt", marker)
    code, out, err = run_cli("run", *common)
    assert not marker.exists()
    assert code == 0 and "not reusing" in out and "is not plain data" in out, out + err
    assert list(rows(tmp_path)["status"]) == ["ok"]  # trained again, not copied


def test_convert_reads_a_foreign_pickle_only_when_told_to_trust_it(tmp_path, capsys):
    from reference_models import load_pinned, synthetic_state

    state = synthetic_state(load_pinned()["crd_resnet8"]["state"])
    source, target, marker = tmp_path / "ckpt.pth", tmp_path / "out.pth", tmp_path / "pwned"
    torch.save({"model": state, "epoch": 240, "note": _CreatesAFile(marker)}, source)
    args = ["convert-checkpoint", "--from", "repdistiller", "--model", "crd_resnet8", str(source), str(target)]
    assert main(args) == 2  # bad input: exit 2 and one line on stderr, like every command's
    err = capsys.readouterr().err
    assert re.match(r"error: .*holds objects other than tensors.*pass --trust-pickle\n$", err), err
    assert not marker.exists() and not target.exists()
    assert main([*args, "--trust-pickle"]) == 0
    assert marker.exists()  # trusted: the file's code ran, as the option says
    assert "trusting" in capsys.readouterr().out
    assert all(isinstance(v, torch.Tensor) for v in torch.load(target, weights_only=True)["model"].values())
