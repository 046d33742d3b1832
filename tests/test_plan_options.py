"""One plan for run and status: the same data options and the same rule for a suite's dataset alternatives."""

from __future__ import annotations

import yaml

from cskd.cli import main

#: the official CIFAR-10 first, the JPEG copy as the fallback: without the official files, every command must plan on
#: the JPEG copy
FALLBACK = {
    "name": "fallback",
    "dataset": ["cifar10", "cifar10-jpeg"],
    "train_subset": 100,
    "test_subset": 50,
    "recipe": {"epochs": 1, "batch_size": 50, "lr": 0.05, "milestones": [1]},
    "models": {"T": {"model": "cifar_resnet18_w0_25", "kwargs": {"width_multiplier": 0.5}}},
    "teachers": ["T"],
}


def test_status_shows_the_runs_trained_on_the_fallback_dataset_done(tmp_path, subset_data_dir, capsys):
    data = tmp_path / "data"
    data.mkdir()  # only the fallback is present: its full copy where there is one, else its shipped subset
    if (subset_data_dir / "cifar10-jpeg" / "train").is_dir():
        (data / "cifar10-jpeg").symlink_to(subset_data_dir / "cifar10-jpeg")
        if (subset_data_dir / ".cache").is_dir():
            (data / ".cache").symlink_to(subset_data_dir / ".cache")  # the decoded copy, not decoded again
    suite = tmp_path / "fallback.yaml"
    suite.write_text(yaml.safe_dump(FALLBACK))
    options = [str(suite), "--results-dir", str(tmp_path / "results"), "--data-dir", str(data), "--no-download"]
    assert main(["run", *options, "--device", "cpu", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "fallback [full]: 1 trained" in out, out
    assert main(["status", *options]) == 0
    out = capsys.readouterr().out
    assert "totals: 1 done, 0 running, 0 queued, 0 failed, 0 to do (1 runs)" in out, out
    assert main(["run", *options, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "suite fallback [full] on cifar10-jpeg" in out and "1 runs (1 done, 0 to do)" in out, out
    # without --no-download too: a present alternative comes before a fetchable one
    assert main(["status", *options[:-1]]) == 0
    assert "totals: 1 done" in capsys.readouterr().out
