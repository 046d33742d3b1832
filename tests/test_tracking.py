"""--log tensorboard: every epoch's scalars and the run's configuration, read back from the event files."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from cli_run import cli

from cskd.results import read_runs

SUITE = {
    "name": "mini",
    "dataset": "cifar10-jpeg",
    "train_subset": 200,
    "test_subset": 100,
    "recipe": {"epochs": 2, "batch_size": 50, "lr": 0.05, "milestones": [1]},
    "models": {"T": {"model": "cifar_resnet18_w0_25", "kwargs": {"width_multiplier": 0.5}}},
    "teachers": ["T"],
}


def test_the_core_never_imports_a_tracker():
    code = "import sys, cskd.runner, cskd.cli; assert not {'tensorboard', 'wandb'} & set(sys.modules), sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_missing_tracker_package_stops_before_training(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    suite = tmp_path / "mini.yaml"
    suite.write_text(yaml.safe_dump(SUITE))
    missing = r"--log wandb: the wandb package is not installed; pip install 'cskd\[wandb\]'"
    code, _, err = cli("run", str(suite), "--results-dir", str(tmp_path), "--log", "wandb", "--device", "cpu")
    assert code == 2 and re.search(missing, err)
    assert not (tmp_path / "mini").exists()


def test_tensorboard_event_files_hold_every_epoch_scalar(tmp_path, subset_data_dir):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    suite = tmp_path / "mini.yaml"
    suite.write_text(yaml.safe_dump(SUITE))
    argv = ["run", str(suite), "--results-dir", str(tmp_path), "--data-dir", str(subset_data_dir), "--device", "cpu"]
    code, out, err = cli(*argv, "--no-progress", "--log", "tensorboard")
    assert code == 0, out + err
    (run_id,) = read_runs(tmp_path / "mini" / "runs.csv")["run_id"]
    epochs = pd.read_csv(tmp_path / "mini" / "epochs" / f"{run_id}.csv")
    events = EventAccumulator(str(tmp_path / "mini" / "logs" / "tensorboard" / run_id), size_guidance={"tensors": 0})
    events.Reload()
    tags = set(events.Tags()["scalars"])
    columns = [c for c in epochs.columns if c not in ("epoch", "phase")]
    assert {f"main/{c}" for c in columns} | {"main/images_per_second"} == tags
    assert {"main/loss_ce", "main/test_top1", "main/test_top5", "main/lr"} <= tags
    for column in columns:
        logged = [(e.step, e.value) for e in events.Scalars(f"main/{column}")]
        assert [s for s, _ in logged] == [1, 2]
        assert [v for _, v in logged] == pytest.approx(list(epochs[column]), rel=1e-6, nan_ok=True)
    assert [e.value for e in events.Scalars("main/lr")] == pytest.approx([0.05, 0.005])
    speeds = [e.value for e in events.Scalars("main/images_per_second")]
    assert speeds == pytest.approx(list(200 / epochs["seconds"]), rel=1e-5)
    (text,) = events.Tensors("config/text_summary")
    config = json.loads(text.tensor_proto.string_val[0].decode().strip("`").removeprefix("json"))
    assert config["run_id"] == run_id and config["recipe"]["lr"] == 0.05 and config["student"] == "T"
