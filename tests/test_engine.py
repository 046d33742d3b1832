"""The training loop on real data: learning, kill-and-resume, and lockstep students equal to students trained alone."""

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

from cskd.data import load_subset, subset
from cskd.engine.recipe import Recipe
from cskd.engine.trainer import (
    EngineOptions,
    StudentJob,
    channels_last_hangs_on_cpu,
    cpu_safe_options,
    train_group,
)
from cskd.models import create_model

TINY = {"width_multiplier": 0.25}  # cifar_resnet18_w0_25 at a quarter: 4/8/16/32 channels


@pytest.fixture(scope="module")
def small_cifar(subset_data_dir: Path):
    return load_subset("cifar10-jpeg", subset_data_dir, 2000, 1000, seed=0)


def job(tmp_path: Path, name: str, method: str = "ce", args: dict | None = None, **kwargs) -> StudentJob:
    return StudentJob(
        run_id=name,
        model=kwargs.get("model", "cifar_resnet18_w0_25"),
        model_kwargs=kwargs.get("model_kwargs", TINY),
        method=method,
        method_args=args or {},
        checkpoint=tmp_path / f"{name}.pt",
        epochs_csv=tmp_path / f"{name}.csv",
        label=name,
    )


def test_teacher_beats_chance_on_real_data(tmp_path, small_cifar):
    recipe = Recipe(epochs=4, batch_size=64, lr=0.05, milestones=(3,), weight_decay=5e-4)
    options = EngineOptions(progress=False)
    model = {"model": "cifar_resnet18_w0_25", "model_kwargs": {"width_multiplier": 0.5}}
    (outcome,) = train_group([job(tmp_path, "teacher", **model)], small_cifar, recipe, options)
    assert outcome.status == "ok", outcome.error
    assert outcome.best_top1 > 30.0  # chance is 10%
    history = pd.read_csv(tmp_path / "teacher.csv")
    assert list(history["epoch"]) == [1, 2, 3, 4] and set(history["phase"]) == {"main"}
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    assert list(history["lr"]) == pytest.approx([0.05, 0.05, 0.05, 0.005])
    assert outcome.best_top1 == history["test_top1"].max() and outcome.last_top1 == history["test_top1"].iloc[-1]


def _train_command(out: Path, data_dir: Path) -> list[str]:
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
        "--epochs",
        "4",
        "--batch-size",
        "64",
        "--subset",
        "2000",
        "--test-subset",
        "500",
        "--seed",
        "3",
        "--deterministic",
        "--device",
        "cpu",
        "--out",
        str(out),
    ]


def test_killed_training_resumes_to_the_same_numbers(tmp_path, subset_data_dir, small_cifar):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(_train_command(whole, subset_data_dir), check=True, capture_output=True)
    killed_run = _train_command(killed, subset_data_dir)
    process = subprocess.Popen(killed_run, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while not (killed / "epochs.csv").exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.02)
    assert process.poll() is None, f"training ended before it could be killed: {process.stderr.read()}"
    os.kill(process.pid, signal.SIGKILL)  # mid-way through epoch 2: the checkpoint of epoch 1 is on disk
    process.wait()
    interrupted = pd.read_csv(killed / "epochs.csv")
    assert len(interrupted) < 4, "the run finished before it could be killed"
    subprocess.run(_train_command(killed, subset_data_dir), check=True, capture_output=True)
    expected, resumed = pd.read_csv(whole / "epochs.csv"), pd.read_csv(killed / "epochs.csv")
    columns = ["epoch", "lr", "train_loss", "train_top1", "test_loss", "test_top1", "test_top5"]
    pd.testing.assert_frame_equal(expected[columns], resumed[columns], check_exact=True)
    a = torch.load(whole / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(killed / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    "methods",
    [
        [("kd", {"form": "kl"}), ("cskd", {"variant": "paper"})],
        [("fitnet", {"schedule": "two_stage", "hint_epochs": 1}), ("kdgan", {}), ("ab", {"init_epochs": 1})],
    ],
    ids=["kd+cskd", "init-stages+discriminator"],
)
def test_lockstep_students_equal_students_trained_alone(tmp_path, small_cifar, methods):
    torch.use_deterministic_algorithms(True)
    try:
        data = subset(small_cifar, 256, 128, seed=0)
        recipe = Recipe(epochs=2, batch_size=64, lr=0.05, milestones=(1,))
        options = EngineOptions(progress=False, seed=7)
        torch.manual_seed(123)
        teacher = create_model("cifar_resnet18_w0_25", num_classes=10, width_multiplier=0.5).eval()
        together = [job(tmp_path / "joint", f"{m}", m, a) for m, a in methods]
        alone = [job(tmp_path / "alone", f"{m}", m, a) for m, a in methods]
        joint = train_group(together, data, recipe, options, teacher)
        separate = [train_group([j], data, recipe, options, teacher)[0] for j in alone]
    finally:
        torch.use_deterministic_algorithms(False)
    assert all(o.status == "ok" for o in joint + separate), [o.error for o in joint + separate]
    assert [o.lockstep for o in joint] == [len(methods)] * len(methods)
    for a, b in zip(together, alone, strict=True):
        x = torch.load(a.checkpoint, weights_only=True)
        y = torch.load(b.checkpoint, weights_only=True)
        assert all(torch.equal(x["model"][k], y["model"][k]) for k in x["model"]), a.method
        assert all(torch.equal(x["method"][k], y["method"][k]) for k in x["method"] if torch.is_tensor(x["method"][k]))
        assert [r["test_top1"] for r in x["history"]] == [r["test_top1"] for r in y["history"]]


def test_a_failing_student_does_not_stop_the_group(tmp_path, small_cifar):
    data = subset(small_cifar, 128, 64, seed=0)
    teacher = create_model("cifar_resnet18_w0_25", num_classes=10, **TINY).eval()
    jobs = [job(tmp_path, "bad", "kd", {"temperature": -1.0}), job(tmp_path, "good", "kd", {"form": "mse"})]
    outcomes = {
        o.run_id: o
        for o in train_group(
            jobs, data, Recipe(epochs=1, batch_size=64, milestones=()), EngineOptions(progress=False), teacher
        )
    }
    assert outcomes["bad"].status == "failed" and "temperature" in outcomes["bad"].error
    assert outcomes["good"].status == "ok" and outcomes["good"].last_top1 is not None


def test_every_method_trains_on_real_data_with_falling_loss(tmp_path, small_cifar):
    """Issue 3: each registered method, one lockstep group, two epochs of 640 real images: finite, falling loss."""
    from cskd.methods import method_names

    data = subset(small_cifar, 640, 128, seed=0)
    torch.manual_seed(0)
    teacher = create_model("cifar_resnet18_w0_25", num_classes=10, width_multiplier=0.5).eval()
    # one-epoch init stages, warm-ups done after epoch 1 (so a growing ramp cannot mask learning), fewer negatives
    small_args = {
        "fitnet": {"hint_epochs": 1},
        "ab": {"init_epochs": 1},
        "ft": {"init_epochs": 1},
        "fsp": {"init_epochs": 1},
        "crd": {"negatives": 256},
        "dkd": {"warmup": 1},
        "reviewkd": {"warmup": 1},
    }
    jobs = [job(tmp_path, name, name, small_args.get(name, {})) for name in method_names()]
    recipe = Recipe(epochs=3, batch_size=64, lr=0.05, milestones=())
    outcomes = train_group(jobs, data, recipe, EngineOptions(progress=False), teacher)
    assert sorted(o.run_id for o in outcomes) == method_names()
    for outcome in outcomes:
        assert outcome.status == "ok", f"{outcome.run_id}: {outcome.error}"
        history = pd.read_csv(tmp_path / f"{outcome.run_id}.csv")
        main = history[history["phase"] == "main"]
        assert main["train_loss"].notna().all() and torch.isfinite(torch.tensor(main["train_loss"].values)).all()
        # CRD's contrastive term rises while its memory bank (random at the start) fills with embeddings: its
        # student's learning shows in the cross-entropy term
        column = "loss_ce" if outcome.run_id == "crd" else "train_loss"
        assert main[column].iloc[-1] < main[column].iloc[0], outcome.run_id


def test_groups_that_would_hang_in_channels_last_train_in_nchw_on_the_cpu(tmp_path):
    """torch 2.14.1's CPU channels_last backward of a 1x1 stride-2 conv from fewer than 16 channels hangs (4 channels,
    batch 64) or crashes the process (8 or 12 channels, batches of 3, 7 or 25)."""
    for width in (0.25, 0.5):  # 4- and 8-channel stems: the first shortcuts are 4 -> 8 and 8 -> 16, 1x1, stride 2
        assert channels_last_hangs_on_cpu(create_model("cifar_resnet18_w0_25", num_classes=10, width_multiplier=width))
    assert not channels_last_hangs_on_cpu(create_model("cifar_resnet18_w0_25", num_classes=10))  # 16 channels
    options = EngineOptions(progress=False)
    hanging = [job(tmp_path, "a", model_kwargs={}), job(tmp_path, "b", model_kwargs={"width_multiplier": 0.5})]
    assert not cpu_safe_options(options, hanging, 10, None).channels_last
    assert cpu_safe_options(options, hanging[:1], 10, None).channels_last
    cuda = EngineOptions(device=torch.device("cuda"), progress=False)
    assert cpu_safe_options(cuda, hanging, 10, None).channels_last


def test_the_default_recipe_is_a_property_of_the_dataset() -> None:
    """The paper's Tiny ImageNet recipe (batch 200, weight decay 5e-4, drops at 50/100/150) comes from its source's
    ``recipe_changes``; every other dataset, an image folder included, trains with CIFAR's (the Recipe defaults)."""
    from cskd.data import UnknownDatasetError
    from cskd.engine.recipe import default_recipe

    tiny = default_recipe("tiny-imagenet")
    assert (tiny.batch_size, tiny.weight_decay, tiny.milestones) == (200, 5e-4, (50, 100, 150))
    assert tiny.epochs == Recipe().epochs and tiny.lr == Recipe().lr
    for name in ("cifar10", "cifar100", "cifar10-jpeg", "cub200", "imagefolder:/any/folder"):
        assert default_recipe(name) == Recipe()
    with pytest.raises(UnknownDatasetError, match="closest: tiny-imagenet"):
        default_recipe("tiny-imagenett")
