"""Epoch lines of a sweep (cskd.engine.progress): the format, the ETAs, and a real run with stdout not a terminal."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import yaml

from cskd.data.cifar10_jpeg import Cifar10JpegSource
from cskd.engine.progress import EpochLog, SweepClock, format_duration
from cskd.results import read_runs


def test_format_duration():
    assert format_duration(42.4) == "42s"
    assert format_duration(845) == "14m05s"
    assert format_duration(7500) == "2h05m"


def test_epoch_line_and_etas_from_measured_time():
    clock = SweepClock(suite="mini", groups=2, total=100.0)
    clock.begin_group()
    stream = io.StringIO()
    log = EpochLog(epochs=4, clock=clock, work=40.0, stream=stream)
    assert log.etas() == "ETA group ?, suite ?"  # nothing measured yet
    line = log.epoch_done("main", 1, 4, [0.1], [("KD", 45.2, 1.2345), ("CSKD", 47.0, 1.1)], 1000, 2.0)
    # group: 3 epochs left at 2 s; suite: 90 units left at 2 s per 10 units = 18 s
    assert line == (
        "mini group 1/2 main 1/4 lr 0.1 | KD top1 45.20 loss 1.234 | CSKD top1 47.00 loss 1.100 | 500 img/s | "
        "ETA group 6s, suite 18s"
    )
    assert stream.getvalue() == line + "\n"
    metrics = "KD top1 45.20 loss 1.234 | CSKD top1 47.00 loss 1.100"
    assert log.bar_text() == f"last epoch: {metrics} | ETA group 6s, suite 18s"
    line = log.epoch_done("init", 2, 2, [0.05, 0.1], [("FitNet", 10.0, 3.0)], 1000, 4.0)
    assert " init 2/2 lr 0.05/0.1 " in line
    assert line.endswith("ETA group 6s, suite 24s")  # 2 epochs left at 3 s each; 80 units at 6 s per 20


MINI = {
    "name": "mini",
    "dataset": "cifar10-jpeg",
    "train_subset": 100,
    "test_subset": 50,
    "recipe": {"epochs": 2, "batch_size": 50, "lr": 0.05, "milestones": [1]},
    "models": {"T": {"model": "cifar_resnet18_w0_25", "kwargs": {"width_multiplier": 0.5}}},
    "pairs": [["T", "T"]],
    "methods": {"KD": {"method": "kd"}},
    "seeds": [0],
}


def test_captured_run_prints_one_line_per_epoch_per_group(tmp_path, subset_data_dir):
    suite = tmp_path / "mini.yaml"
    suite.write_text(yaml.safe_dump(MINI))
    command = [sys.executable, "-m", "cskd", "run", str(suite), "--results-dir", str(tmp_path / "results")]
    command += ["--data-dir", str(subset_data_dir), "--device", "cpu"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)  # stdout is a pipe, not a terminal
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if re.match(r"mini group \d/\d ", line)]
    # groups: the teacher, then KD on it
    assert [line.split(" lr ")[0] for line in lines] == [
        "mini group 1/2 main 1/2",
        "mini group 1/2 main 2/2",
        "mini group 2/2 main 1/2",
        "mini group 2/2 main 2/2",
    ]
    pattern = r"lr [\d.e-]+ \| (Teacher|KD) top1 \d+\.\d\d loss \d+\.\d{3} \| \d+ img/s \| ETA group \S+, suite \S+$"
    assert all(re.search(pattern, line) for line in lines), lines
    assert lines[-1].endswith("ETA group 0s, suite 0s")
    assert "\r" not in done.stdout  # no bar in a log
    # every setting recorded (cskd.settings), the data source without the machine's data folder
    rows = read_runs(tmp_path / "results" / "mini" / "runs.csv")
    assert list(rows["status"]) == ["ok", "ok"]
    assert list(rows["lr"]) == [0.05] * 2 and list(rows["batch_size"]) == [50] * 2
    assert list(rows["milestones"]) == ["[1]"] * 2 and list(rows["lr_factor"]) == [0.1] * 2
    assert list(rows["weight_decay"]) == [1e-4] * 2 and list(rows["momentum"]) == [0.9] * 2
    assert list(rows["precision"]) == ["fp32"] * 2 and list(rows["scale"]) == ["paper"] * 2
    assert list(rows["compile"]) == [0] * 2 and list(rows["deterministic"]) == [0] * 2
    full_copy = Cifar10JpegSource().full_copy_present(subset_data_dir)  # else the shipped images
    shipped = ", the images shipped with cskd (cifar10-jpeg-subset.tar.gz)"
    where = " at <data-dir>/cifar10-jpeg" if full_copy else shipped
    source = f"CIFAR-10 JPEG copy (lossy re-encode, not the official release){where}; stratified subset"
    assert rows["dataset_source"].str.startswith(source).all(), list(rows["dataset_source"])
