"""Errors a user can cause are one line and exit 2, never a traceback; files are written whole or not at all; `cskd
check` names every cell it did not compare (issue 22)."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pandas as pd
import pytest
from test_suite import write_suite

from cskd.cli import main
from cskd.usererrors import os_error_line

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "results" / "ci"


def run_fails(capsys, *argv: str) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_a_results_dir_below_a_file_is_one_line(tmp_path, capsys, subset_data_dir):
    (tmp_path / "file").write_text("not a folder")
    changes = {"recipe": {"epochs": 1, "batch_size": 50, "milestones": []}, "train_subset": 100, "test_subset": 100}
    suite = write_suite(tmp_path, changes)  # subsets the shipped images hold: no fetch
    argv = ["run", str(suite), "--results-dir", str(tmp_path / "file" / "results"), "--data-dir", str(subset_data_dir)]
    err = run_fails(capsys, *argv, "--device", "cpu", "--no-progress", "--only", "kind=teacher")
    assert "a part of this path is a file, not a folder" in err


def test_read_only_and_full_disk_errors_say_what_to_do(tmp_path):
    line = os_error_line(OSError(errno.EROFS, "Read-only file system", str(tmp_path / "runs.csv")))
    assert str(tmp_path / "runs.csv") in line and "choose a folder you can write" in line
    line = os_error_line(OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x" / "y.pt")))
    assert "no space left on the device" in line and f"MiB free in {tmp_path}" in line


def test_a_device_cskd_does_not_train_on_is_one_line(tmp_path, capsys):
    suite = write_suite(tmp_path, {})
    err = run_fails(capsys, "run", str(suite), "--dry-run", "--device", "tpu", "--results-dir", str(tmp_path))
    assert "--device tpu: not a device cskd trains on" in err


def test_a_garbage_runs_csv_header_is_one_line(tmp_path, capsys):
    suite = write_suite(tmp_path, {})
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "runs.csv").write_bytes(b"\x00garbage;header\n1;2\n")
    err = run_fails(capsys, "run", str(suite), "--dry-run", "--results-dir", str(tmp_path), "--no-progress")
    assert "runs.csv" in err and "fix or move the file" in err


def copy_reference(target: Path) -> Path:
    shutil.copytree(REFERENCE, target)
    return target / "runs.csv"


def test_an_epoch_csv_without_epoch_under_loss_tolerance_is_one_line(tmp_path, capsys):
    results, reference = copy_reference(tmp_path / "results"), copy_reference(tmp_path / "reference")
    broken = next((reference.parent / "epochs").glob("*.csv"))
    pd.read_csv(broken).drop(columns=["epoch"]).to_csv(broken, index=False)
    err = run_fails(capsys, "check", str(results), "--against", str(reference), "--loss-tolerance", "0.1")
    assert str(broken) in err and "epoch" in err


@pytest.mark.parametrize("tolerance", ["inf", "nan", "-1"])
def test_tolerances_must_be_finite_and_not_negative(tmp_path, capsys, tolerance):
    results = copy_reference(tmp_path / "results")
    err = run_fails(capsys, "check", str(results), "--against", str(results), "--tolerance", tolerance)
    assert "the tolerance must be a finite number >= 0" in err
    err = run_fails(capsys, "check", str(results), "--against", str(results), "--loss-tolerance", tolerance)
    assert "the loss tolerance must be a finite number >= 0" in err


def test_check_fails_on_cells_the_reference_does_not_hold_unless_partial(tmp_path, capsys):
    results = copy_reference(tmp_path / "results")
    reference = tmp_path / "reference.csv"
    rows = pd.read_csv(results, dtype=str, keep_default_na=False)
    kept = rows[rows["method"] != "KD"]
    assert 0 < len(kept) < len(rows)
    kept.to_csv(reference, index=False)
    assert main(["check", str(results), "--against", str(reference)]) == 1
    out = capsys.readouterr().out
    assert "cell(s) of the results have no expected value: not compared, so the check fails" in out
    assert "· KD" in out and "FAIL:" in out and "PASS" not in out
    assert main(["check", str(results), "--against", str(reference), "--partial"]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "not compared (--partial)" in out and "· KD" in out


def test_a_failed_figure_write_leaves_no_partial_file(tmp_path, monkeypatch):
    import matplotlib.figure

    from cskd.report.plots import save_figure

    def full_disk(self, target, **kwargs):
        Path(target).write_bytes(b"")  # what a full disk leaves: an empty file
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full_disk)
    with pytest.raises(OSError):
        save_figure(matplotlib.figure.Figure(), tmp_path / "figures" / "curves", "title")
    assert list((tmp_path / "figures").iterdir()) == []  # no 0-byte PNG, no temporary file


def test_contradictory_or_repeated_selection_options_are_refused(tmp_path, capsys):
    suite = write_suite(tmp_path, {})
    common = ["run", str(suite), "--dry-run", "--results-dir", str(tmp_path)]
    err = run_fails(capsys, *common, "--only", "method=KD", "--only", "method=CE")
    assert "--only method=KD and --only method=CE" in err
    err = run_fails(capsys, *common, "--no-lockstep", "--lockstep-size", "2")
    assert "give one of them" in err
