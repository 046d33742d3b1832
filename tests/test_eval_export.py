"""Best-epoch weights, ``cskd eval`` and ``cskd export`` on a trained smoke run; the export loaded with timm alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from cli_run import cli
from torch import nn

from cskd.engine import best_weights
from cskd.results import read_runs

SUITE = {
    "name": "mini",
    "dataset": "cifar10-jpeg",
    "train_subset": 300,
    "test_subset": 200,
    "recipe": {"epochs": 3, "batch_size": 50, "lr": 0.2, "milestones": [2]},
    "models": {"T": {"model": "cifar_resnet18_w0_25", "kwargs": {"width_multiplier": 0.5}}},
    "teachers": ["T"],
}


def history(*top1: float) -> list[dict]:
    return [{"phase": "main", "epoch": i + 1, "test_top1": t} for i, t in enumerate(top1)]


def test_best_weights_follow_the_best_epoch_and_are_repaired_on_resume(tmp_path):
    path = tmp_path / "run.pt"
    model = nn.Linear(2, 2)
    best_weights.save_if_best(path, "r", history(10.0), model)
    assert best_weights.saved_epoch(path) == 1
    best_weights.save_if_best(path, "r", history(10.0, 9.0), model)  # not better: kept
    best_weights.save_if_best(path, "r", history(10.0, 9.0, 10.0), model)  # a tie: the first epoch reaching it
    assert best_weights.saved_epoch(path) == 1
    # stopped between the checkpoint of a new best epoch 4 and its best weights: the resumed model is epoch 4's
    with torch.no_grad():
        model.weight.fill_(4.0)
    best_weights.repair(path, "r", history(10.0, 9.0, 10.0, 12.0), model)
    saved = best_weights.load_best(path, "r")
    assert saved["epoch"] == 4 and saved["test_top1"] == 12.0 and (saved["model"]["weight"] == 4.0).all()
    with torch.no_grad():
        model.weight.fill_(5.0)
    best_weights.repair(path, "r", history(10.0, 9.0, 10.0, 12.0, 11.0), model)  # in order: nothing written
    assert (best_weights.load_best(path, "r")["model"]["weight"] == 4.0).all()
    with pytest.raises(best_weights.CheckpointError, match="belong to run r, not other"):
        best_weights.load_best(path, "other")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, subset_data_dir):
    """A 3-epoch teacher run on 300 images: (suite file, results folder, its runs.csv row)."""
    root = tmp_path_factory.mktemp("smoke")
    suite = root / "mini.yaml"
    suite.write_text(yaml.safe_dump(SUITE))
    argv = ["run", str(suite), "--results-dir", str(root), "--data-dir", str(subset_data_dir), "--device", "cpu"]
    code, out, err = cli(*argv, "--no-progress")
    assert code == 0, out + err
    (row,) = read_runs(root / "mini" / "runs.csv").to_dict("records")
    return suite, root, row


def test_a_run_keeps_its_best_epoch_weights(trained):
    _, root, row = trained
    saved = best_weights.load_best(root / "mini" / "checkpoints" / f"{row['run_id']}.pt", row["run_id"])
    assert saved["epoch"] == row["best_epoch"] and saved["test_top1"] == row["best_top1"]


@pytest.mark.parametrize("weights", ["best", "last"])
def test_eval_of_a_run_gives_its_recorded_accuracy(trained, subset_data_dir, weights):
    suite, root, row = trained
    argv = ["eval", row["run_id"], "--suite", str(suite), "--results-dir", str(root)]
    argv += ["--data-dir", str(subset_data_dir)]
    code, out, err = cli(*argv, "--device", "cpu", "--weights", weights, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["top1"] == pytest.approx(row[f"{weights}_top1"], abs=1e-9)
    assert result["top5"] == pytest.approx(row[f"{weights}_top5"], abs=1e-9)
    assert result["images"] == 200 and result["images_per_second"] > 0 and result["loss"] > 0


def test_eval_names_an_unknown_run(trained):
    _, root, _ = trained
    code, _, err = cli("eval", "0123456789abcdef", "--results-dir", str(root), "--device", "cpu")
    assert code == 2 and "no run 0123456789abcdef in" in err and "runs.csv" in err


def export(trained, data_dir: Path, out: Path) -> tuple[Path, Path]:
    """``cskd export`` of the trained run: its weights and sidecar files."""
    suite, root, row = trained
    argv = ["export", row["run_id"], "--suite", str(suite), "--results-dir", str(root), "--data-dir", str(data_dir)]
    code, printed, err = cli(*argv, "--out", str(out))
    assert code == 0, err
    weights, sidecar = (Path(p) for p in printed.split())
    assert weights.suffix == ".safetensors" and sidecar.suffix == ".json"
    return weights, sidecar


def test_an_export_loads_with_timm_alone_and_gives_the_same_top1(trained, subset_data_dir, tmp_path):
    _, _, row = trained
    weights, sidecar = export(trained, subset_data_dir, tmp_path / "exported")

    # what a user does with the two files: timm (cskd.models imported only to register cskd's names in timm)
    import timm
    from safetensors.torch import load_file

    import cskd.models  # noqa: F401

    spec = json.loads(sidecar.read_text())
    assert spec["registers_with"] == "cskd.models" and spec["input_size"] == [3, 32, 32]
    model = timm.create_model(spec["timm_name"], num_classes=spec["num_classes"], **spec["kwargs"])
    model.load_state_dict(load_file(str(weights)))
    model.eval()

    from cskd.data import load_subset

    data = load_subset("cifar10-jpeg", subset_data_dir, 300, 200, seed=0)  # the run's test images
    mean, std = torch.tensor(spec["mean"])[:, None, None], torch.tensor(spec["std"])[:, None, None]
    with torch.no_grad():
        logits = model((data.test_images.float() / 255 - mean) / std)
    top1 = 100.0 * (logits.argmax(1) == data.test_labels).float().mean().item()
    assert top1 == pytest.approx(row["best_top1"], abs=1e-6)
    assert spec["run"]["test_top1"] == row["best_top1"] and spec["run"]["epoch"] == row["best_epoch"]


def test_an_exported_file_evaluates_to_its_runs_top1(trained, data_dir, tmp_path):
    """``cskd eval FILE --dataset cifar10-jpeg`` loads the whole dataset before it takes the test subset: it needs the
    full copy (the shipped images hold the test subset but not the whole train split that load reads)."""
    _, _, row = trained
    weights, _ = export(trained, data_dir, tmp_path / "exported")
    argv = ["eval", str(weights), "--dataset", "cifar10-jpeg", "--data-dir", str(data_dir), "--device", "cpu"]
    code, printed, err = cli(*argv, "--test-subset", "200", "--json")
    assert code == 0, err
    # the sidecar's normalisation on the run's 200 test images: the run's best-epoch top-1
    assert json.loads(printed)["top1"] == pytest.approx(row["best_top1"], abs=1e-6)
