"""Every setting recorded (cskd.settings): run ids with and without bf16, the scale of suites, old runs.csv files
widened with their values intact, and no machine path in a committed file."""

from __future__ import annotations

import csv
import re
import subprocess
from pathlib import Path

import pandas as pd

from cskd.plan import expand
from cskd.results import FIRST_RUN_COLUMNS, RUN_COLUMNS, append_run_row, read_runs
from cskd.runs_schema import STRUCTURE_COLUMNS, upgrade_header
from cskd.settings import SETTING_COLUMNS, numerics_config, portable_source, scale_of
from cskd.suite import load_suite

REPO = Path(__file__).resolve().parents[1]


def test_only_bf16_enters_the_run_id():
    assert numerics_config(False, "cuda") == {} and numerics_config(False, "cpu") == {}  # fp32: ids unchanged
    assert numerics_config(True, "cuda") == numerics_config(True, "cpu") == {"precision": "bf16"}


def test_fp32_run_ids_are_the_recorded_ones_and_bf16_ids_differ():
    recorded = set(read_runs(REPO / "reference/results/quick/runs.csv")["run_id"])
    plan = expand(load_suite("quick"), dataset="cifar10-jpeg", numerics={})
    assert {r.run_id for r in plan.runs} == recorded  # adding the setting changed no existing id
    bf16 = expand(load_suite("quick"), dataset="cifar10-jpeg", numerics=numerics_config(True, "cuda"))
    assert not {r.run_id for r in bf16.runs} & recorded and len(bf16.runs) == len(plan.runs)


def test_scale_of_suites_and_profiles():
    assert [load_suite(n).scale for n in ("quick", "ci", "cpu_teacher", "table1")] == ["cpu", "cpu", "cpu", "paper"]
    table1 = load_suite("table1")
    assert scale_of(table1.scale, "full", None) == "paper"
    assert scale_of(table1.scale, "smoke", table1.profile("smoke").scale) == "cpu"  # a profile scales down
    assert scale_of("paper", "big", "paper") == "paper"


def test_every_suite_described_as_cpu_scale_records_scale_cpu():
    """A suite whose description says CPU scale must not record its rows as the paper's setting (the study and the
    noise suites once did)."""
    from cskd.suite import suite_paths

    described = [load_suite(str(path)) for path in suite_paths()]
    cpu = [suite.name for suite in described if suite.description.lower().startswith("cpu scale")]
    assert {"quick", "study", "noise"} <= set(cpu)
    assert [name for name in cpu if load_suite(name).scale != "cpu"] == []


def test_portable_source_names_no_machine_path(tmp_path):
    data = tmp_path / "data"
    source = f"CIFAR-10 JPEG copy (lossy) at {data}/cifar10-jpeg; stratified subset of 100 train"
    assert (
        portable_source(source, data)
        == "CIFAR-10 JPEG copy (lossy) at <data-dir>/cifar10-jpeg; stratified subset of 100 train"
    )
    assert portable_source(f"files at {Path.home()}/elsewhere", data) == "files at ~/elsewhere"


OLD_ROWS = [
    {"suite": "s", "run_id": "a", "status": "ok", "best_top1": 51.25, "error": ""},
    {"suite": "s", "run_id": "b", "status": "failed", "error": 'two\nlines, "quoted"'},
]


def test_an_old_runs_csv_is_read_and_widened_with_its_values_intact(tmp_path):
    path = tmp_path / "runs.csv"
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=FIRST_RUN_COLUMNS)
        writer.writeheader()
        writer.writerows(OLD_ROWS)
        stream.write("a damaged,record\r\n")
    before = read_runs(path)
    assert list(before.columns) == list(RUN_COLUMNS) and before["lr"].isna().all() and (before["scale"] == "").all()
    assert upgrade_header(path, RUN_COLUMNS)
    lines = path.read_bytes().decode().split("\r\n")
    assert lines[0] == ",".join(RUN_COLUMNS) and "a damaged,record" in lines  # a damaged record stays as it was
    pd.testing.assert_frame_equal(read_runs(path), before, check_dtype=False)
    append_run_row(path, {"suite": "s", "run_id": "c", "status": "ok", "lr": 0.05, "scale": "cpu"})
    rows = read_runs(path)
    assert list(rows["run_id"]) == ["a", "b", "c"] and rows["best_top1"].iloc[0] == 51.25
    assert rows["error"].iloc[1] == 'two\nlines, "quoted"' and rows["lr"].iloc[2] == 0.05


def test_setting_columns_are_appended_after_the_first_schema():
    assert RUN_COLUMNS == FIRST_RUN_COLUMNS + STRUCTURE_COLUMNS + SETTING_COLUMNS


#: an absolute path into a home or work folder (fictitious examples in the redaction docs and tests excepted)
MACHINE_PATH = re.compile(r"(?<![\w.~<>-])/(?:home|work|Users|root)/(?!alice\b|me\b)[\w.-]+")


def test_no_committed_file_names_a_machine_path():
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    found = []
    for name in files:
        path = REPO / name
        if not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        text = path.read_bytes().decode("utf-8", errors="ignore")
        found += [f"{name}: {m[0]}" for m in MACHINE_PATH.finditer(text)]
    assert found == []
