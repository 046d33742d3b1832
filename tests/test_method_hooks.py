"""The engine hooks the benchmark's methods use: sample indices from the loader, the training set bound to a method,
the epoch announced to it, an init-stage learning rate; and resuming a run whose method keeps state (CRD's memory
bank, DKD's and ReviewKD's warm-ups, FT's paraphraser stage) to exactly the numbers of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from cskd.data import DeviceLoader, load_subset
from cskd.data.augment import AugmentSpec
from cskd.engine import trainer
from cskd.engine.recipe import Recipe
from cskd.engine.trainer import EngineOptions, StudentJob, train_group
from cskd.models import create_model

TINY = {"width_multiplier": 0.25}


def test_loader_gives_each_sample_its_index_in_the_training_set() -> None:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (10, 3, 8, 8), dtype=torch.uint8, generator=g)
    labels = torch.arange(10) % 3
    augment = AugmentSpec(crop=8, pad=2, flip=True, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    for train in (True, False):
        loader = DeviceLoader(images, labels, batch_size=4, augment=augment, train=train, seed=3)
        plain = list(loader.epoch(2))
        indexed = list(loader.epoch(2, with_indices=True))
        seen = []
        for (x, y), (x_i, y_i, index) in zip(plain, indexed, strict=True):
            torch.testing.assert_close(x, x_i)  # asking for indices changes no batch
            assert torch.equal(y, y_i) and torch.equal(labels[index], y_i) and index.dtype == torch.int64
            seen += index.tolist()
        assert sorted(seen) == list(range(10))
        if not train:
            assert seen == list(range(10))
    # the indexed images are the indexed samples: without augmentation the batch is the stored pixels
    loader = DeviceLoader(images, labels, batch_size=4, augment=None, train=True, seed=3)
    for x, _, index in loader.epoch(1, with_indices=True):
        torch.testing.assert_close(x, images[index].float() / 255)


@pytest.fixture(scope="module")
def small_cifar(subset_data_dir: Path):
    return load_subset("cifar10-jpeg", subset_data_dir, 256, 128, seed=0)


def job(directory: Path, name: str, args: dict) -> StudentJob:
    return StudentJob(
        run_id=name,
        model="cifar_resnet18_w0_25",
        model_kwargs=TINY,
        method=name,
        method_args=args,
        checkpoint=directory / f"{name}.pt",
        epochs_csv=directory / f"{name}.csv",
        label=name,
    )


STATEFUL = {
    "crd": {"negatives": 64},
    "dkd": {"warmup": 2},
    "ft": {"init_epochs": 1, "init_lr": 0.02},
    "reviewkd": {"warmup": 2},
}


def test_interrupted_group_of_stateful_methods_resumes_to_identical_numbers(tmp_path, small_cifar, monkeypatch):
    recipe = Recipe(epochs=3, batch_size=64, lr=0.05, milestones=(2,))
    options = EngineOptions(progress=False, seed=5)
    torch.manual_seed(0)
    teacher = create_model("cifar_resnet18_w0_25", num_classes=10, width_multiplier=0.5).eval()

    def jobs(directory: Path) -> list[StudentJob]:
        return [job(directory, name, args) for name, args in STATEFUL.items()]

    torch.use_deterministic_algorithms(True)
    try:
        whole = train_group(jobs(tmp_path / "whole"), small_cifar, recipe, options, teacher)
        original = trainer._train_epoch

        def stop_before_main_epoch_2(active, teacher, train, test, phase, epoch, *rest):
            if (phase, epoch) == ("main", 2):
                raise KeyboardInterrupt  # as a kill: the checkpoints of main epoch 1 are on disk
            return original(active, teacher, train, test, phase, epoch, *rest)

        monkeypatch.setattr(trainer, "_train_epoch", stop_before_main_epoch_2)
        with pytest.raises(KeyboardInterrupt):
            train_group(jobs(tmp_path / "resumed"), small_cifar, recipe, options, teacher)
        monkeypatch.setattr(trainer, "_train_epoch", original)
        assert all(len(pd.read_csv(j.epochs_csv)) < 4 for j in jobs(tmp_path / "resumed"))
        resumed = train_group(jobs(tmp_path / "resumed"), small_cifar, recipe, options, teacher)
    finally:
        torch.use_deterministic_algorithms(False)
    assert all(o.status == "ok" for o in whole + resumed), [o.error for o in whole + resumed]
    for a, b in zip(jobs(tmp_path / "whole"), jobs(tmp_path / "resumed"), strict=True):
        x, y = pd.read_csv(a.epochs_csv), pd.read_csv(b.epochs_csv)
        numbers = [c for c in x.columns if c != "seconds"]
        pd.testing.assert_frame_equal(x[numbers], y[numbers], check_exact=True)
        left, right = torch.load(a.checkpoint, weights_only=True), torch.load(b.checkpoint, weights_only=True)
        assert all(torch.equal(left["model"][k], right["model"][k]) for k in left["model"]), a.method
        assert left["method"].keys() == right["method"].keys()
        assert all(torch.equal(left["method"][k], right["method"][k]) for k in left["method"]), a.method
    ft = pd.read_csv(tmp_path / "whole" / "ft.csv")
    assert list(ft["phase"]) == ["init", "main", "main", "main"] and ft["lr"].iloc[0] == 0.02
    crd = torch.load(tmp_path / "whole" / "crd.pt", weights_only=True)["method"]
    assert crd["memory_student"].shape == (256, 128) and crd["z_student"] > 0
    dkd = pd.read_csv(tmp_path / "whole" / "dkd.csv")
    assert {"loss_ce", "loss_tckd", "loss_nckd"} <= set(dkd.columns)


def _train_crd(out: Path, data_dir: Path, teacher: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "cskd",
        "train",
        "--model",
        "cifar_resnet18_w0_25",
        "--width-multiplier",
        "0.25",
        "--dataset",
        "cifar10-jpeg",
        "--data-dir",
        str(data_dir),
        "--method",
        "crd",
        "--method-arg",
        "negatives=512",
        "--teacher-model",
        "cifar_resnet18_w0_25",
        "--teacher-checkpoint",
        str(teacher),
        "--teacher-width-multiplier",
        "0.25",
        "--epochs",
        "3",
        "--batch-size",
        "64",
        "--subset",
        "1000",
        "--test-subset",
        "200",
        "--seed",
        "2",
        "--deterministic",
        "--device",
        "cpu",
        "--out",
        str(out),
    ]


def test_killed_crd_run_resumes_its_memory_bank_bitwise(tmp_path, subset_data_dir):
    """A CRD student killed mid-run and restarted equals an uninterrupted one: model, memory banks, Z, numbers."""
    torch.manual_seed(0)
    teacher = tmp_path / "teacher.pt"
    torch.save(create_model("cifar_resnet18_w0_25", num_classes=10, **TINY).state_dict(), teacher)
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(_train_crd(whole, subset_data_dir, teacher), check=True, capture_output=True)
    killed_run = _train_crd(killed, subset_data_dir, teacher)
    process = subprocess.Popen(killed_run, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while not (killed / "epochs.csv").exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.02)
    assert process.poll() is None, f"training ended before it could be killed: {process.stderr.read()}"
    os.kill(process.pid, signal.SIGKILL)  # during epoch 2: the checkpoint of epoch 1 is on disk
    process.wait()
    assert len(pd.read_csv(killed / "epochs.csv")) < 3, "the run finished before it could be killed"
    subprocess.run(_train_crd(killed, subset_data_dir, teacher), check=True, capture_output=True)
    expected, resumed = pd.read_csv(whole / "epochs.csv"), pd.read_csv(killed / "epochs.csv")
    numbers = [c for c in expected.columns if c != "seconds"]
    pd.testing.assert_frame_equal(expected[numbers], resumed[numbers], check_exact=True)
    a = torch.load(whole / "checkpoint.pt", weights_only=True)
    b = torch.load(killed / "checkpoint.pt", weights_only=True)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    for name in ("memory_student", "memory_teacher", "z_student", "z_teacher"):
        assert torch.equal(a["method"][name], b["method"][name]), name
    assert torch.equal(a["method_rng"], b["method_rng"])


def test_a_suite_sweeps_batch_size_with_one_profile_per_size_and_a_fixed_teacher(tmp_path) -> None:
    """Batch size as an axis of the study (docs/methods.md): a profile per size, the teacher supplied by file so every
    size distils the same teacher."""
    from cskd.plan import expand
    from cskd.suite import load_suite

    (tmp_path / "teacher.pt").write_bytes(b"weights")
    suite_file = tmp_path / "batch_sweep.yaml"
    suite_file.write_text(
        """
dataset: cifar10-jpeg
recipe: {epochs: 4, batch_size: 64, lr: 0.05, milestones: [3]}
models:
  T: cifar_resnet18_w0_25
  S: {model: cifar_resnet18_w0_25, kwargs: {width_multiplier: 0.5}}
pairs: [[T, S]]
methods:
  KD: {method: kd}
  CSKD-code: {method: cskd, args: {variant: code}}
teacher_checkpoints:
  T: {path: teacher.pt, sha256: "0000000000000000000000000000000000000000000000000000000000000000"}
profiles:
  b32: {recipe: {batch_size: 32, lr: 0.025}}
  b64: {recipe: {batch_size: 64}}
  b128: {recipe: {batch_size: 128, lr: 0.1}}
"""
    )
    suite = load_suite(suite_file)
    plans = {name: expand(suite, name) for name in ("b32", "b64", "b128")}
    for name, size in (("b32", 32), ("b64", 64), ("b128", 128)):
        runs = plans[name].runs
        assert {r.recipe.batch_size for r in runs} == {size} and {r.profile for r in runs} == {name}
        assert all(r.kind == "student" and r.teacher_checkpoint.path.name == "teacher.pt" for r in runs)
    ids = [r.run_id for plan in plans.values() for r in plan.runs]
    assert len(ids) == len(set(ids)) == 6  # each size is its own run, nothing trains twice
