"""./run_all.sh passes its options on: every `cskd run` gets them, every `cskd report` the results folder and
profile (the quick report also the committed reference, to state its rerun spread). `cskd` is replaced by a stub
that records its arguments (in a prepared environment: nothing is installed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RERUN = "--rerun reference/results"  # relative: run_all.sh works from the repository root
STUB = """#!/usr/bin/env bash
echo "cskd $*" >> "$CSKD_STUB_LOG"
"""


def run_all(tmp_path: Path, *args: str) -> tuple[int, list[str]]:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    stub = venv / "bin" / "cskd"
    stub.write_text(STUB)
    stub.chmod(0o755)
    (venv / ".cskd-installed").touch()  # newer than pyproject.toml: scripts/env.sh installs nothing
    log = tmp_path / "calls.log"
    env = {**os.environ, "CSKD_VENV": str(venv), "CSKD_STUB_LOG": str(log)}
    done = subprocess.run([str(REPO / "run_all.sh"), *args], env=env, capture_output=True, text=True, timeout=60)
    return done.returncode, log.read_text().splitlines() if log.exists() else []


def test_quick_forwards_the_run_options_and_gives_the_reports_the_results_folder(tmp_path):
    options = ["--executor", "local", "--gpus", "2", "--amp", "--seeds", "0", "1", "--results-dir", "/r"]
    code, calls = run_all(tmp_path, "--quick", *options)
    assert code == 0
    assert calls == [f"cskd run quick {' '.join(options)}", f"cskd report quick --results-dir /r {RERUN}"]


def test_the_paper_setting_forwards_them_to_every_suite(tmp_path):
    code, calls = run_all(tmp_path, "--results-dir=/r", "--profile", "smoke", "--no-download")
    assert code == 0
    suites = ["table1", "table2", "table3", "table4"]
    assert calls == [
        line
        for suite in suites
        for line in (
            f"cskd run {suite} --results-dir=/r --profile smoke --no-download",
            f"cskd report {suite} --results-dir=/r --profile smoke",
        )
    ]


def test_no_options_runs_each_suite_as_before(tmp_path):
    assert run_all(tmp_path, "--quick")[1] == ["cskd run quick", f"cskd report quick {RERUN}"]
