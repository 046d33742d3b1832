"""SIGTERM and SIGINT stop between steps, record nothing unfinished, say how to resume and exit 143 / 130; a resume
sweeps orphaned temporary files and rewrites a torn runs.csv once, keeping a backup (issue 22)."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest
from test_bad_input import row
from test_runner import command, rows, tiny_suite

from cskd.results import append_run_row, read_runs


def wait_for_an_epoch(process: subprocess.Popen, epochs_dir, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        if any(p.stat().st_size > 0 for p in epochs_dir.glob("*.csv")):
            return
        time.sleep(0.05)
    raise AssertionError("no epoch finished in time")


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_between_steps_and_the_sweep_resumes(tmp_path, subset_data_dir, signum, code):
    recipe = {"epochs": 5, "batch_size": 50, "lr": 0.05, "milestones": []}
    suite = tiny_suite(tmp_path, recipe=recipe, teachers=["T"], pairs=[], methods={})  # a teacher: 5 short epochs
    process = subprocess.Popen(
        command(suite, tmp_path, subset_data_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_for_an_epoch(process, tmp_path / "mini" / "epochs")
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    assert process.returncode == code, out + err
    assert f"stopped by {signal.Signals(signum).name}" in err and f"resume with: cskd run {suite}" in err
    assert "Traceback" not in err
    assert not (tmp_path / "mini" / "runs.csv").exists()  # the unfinished teacher recorded nothing
    if signum != signal.SIGTERM:
        return  # the resume is the same after either signal
    checkpoints = tmp_path / "mini" / "checkpoints"
    (teacher,) = [p for p in checkpoints.glob("*.pt") if not p.name.endswith(".best.pt")]  # the best epoch: beside
    orphan = checkpoints / f"{teacher.name}8f3k2.tmp"  # what a kill during a checkpoint write leaves
    orphan.write_bytes(b"partial")
    result = subprocess.run(
        [*command(suite, tmp_path, subset_data_dir)], capture_output=True, text=True, timeout=600
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert not orphan.exists()
    table = rows(tmp_path)
    assert len(table) == 1 and table["status"].iloc[0] == "ok" and table["epochs"].iloc[0] == 5


def test_a_torn_runs_csv_is_rewritten_once_with_a_backup(tmp_path, capsys):
    from cskd.repair import repair_torn_tail

    path = tmp_path / "runs.csv"
    append_run_row(path, row("0123456789abcdef"))
    with path.open("ab") as stream:
        stream.write(b"mini,fedcba98765")  # a row torn by a kill
    append_run_row(path, row("fedcba9876543210"))  # the next append starts a line of its own
    original = path.read_bytes()
    read_runs(path)
    assert "fields where the header has" in capsys.readouterr().err  # warned about on every read...
    message = repair_torn_tail(path)
    assert "removed 1 line(s) torn by an interrupted write (line(s) 3)" in message
    (backup,) = tmp_path.glob("runs.csv.torn-*.bak")
    assert backup.read_bytes() == original
    assert list(read_runs(path)["run_id"]) == ["0123456789abcdef", "fedcba9876543210"]
    assert capsys.readouterr().err == ""  # ... but no longer
    assert repair_torn_tail(path) == "" and len(list(tmp_path.glob("*.bak"))) == 1  # once


def test_a_runs_csv_of_the_first_layout_is_repaired_and_resumed_not_refused(tmp_path):
    """A results folder written before the structure and settings columns were added (the committed reference
    results, say) must resume: repair reads it with the first layout's columns."""
    from cskd.repair import repair_torn_tail
    from cskd.results import FIRST_RUN_COLUMNS

    path = tmp_path / "runs.csv"
    old = {column: value for column, value in row("0123456789abcdef").items() if column in FIRST_RUN_COLUMNS}
    path.write_text(",".join(FIRST_RUN_COLUMNS) + "\r\n" + ",".join(str(old.get(c, "")) for c in FIRST_RUN_COLUMNS))
    with path.open("ab") as stream:
        stream.write(b"\r\nmini,fedcba98765")  # a torn row after it
    assert "removed 1 line(s)" in repair_torn_tail(path)
    append_run_row(path, row("fedcba9876543210"))  # the header is upgraded, the old row kept
    assert list(read_runs(path)["run_id"]) == ["0123456789abcdef", "fedcba9876543210"]
