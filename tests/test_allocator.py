"""A `cskd` command started directly (not through scripts/env.sh) runs with the allocator settings: it re-executes
itself once with them added, keeps values the user set, and never loops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cskd import __version__
from cskd.allocator import DONE_ENV, OFF_ENV, SETTINGS, missing_settings, reexec_command

REPO = Path(__file__).resolve().parents[1]
#: imported at the start of every Python process of the test's subprocess: appends that process's settings to a file
SITECUSTOMIZE = """
import json, os, sys
with open(os.environ["ALLOCATOR_LOG"], "a") as log:
    names = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "CSKD_ALLOCATOR_REEXEC")
    log.write(json.dumps({"argv": sys.argv, **{n: os.environ.get(n) for n in names}}) + "\\n")
"""


def test_missing_settings_are_those_absent_and_none_after_the_reexec():
    assert missing_settings({}) == SETTINGS
    assert missing_settings({"MALLOC_MMAP_THRESHOLD_": "1"}) == {"MALLOC_TRIM_THRESHOLD_": "4294967296"}
    assert missing_settings(SETTINGS) == {}
    assert missing_settings({DONE_ENV: "1"}) == {} and missing_settings({OFF_ENV: "1"}) == {}
    assert reexec_command(["/venv/bin/cskd", "run", "ci"]) == [sys.executable, "-m", "cskd", "run", "ci"]


def process_starts(tmp_path: Path, **environ: str) -> tuple[str, list[dict]]:
    """Run `python -m cskd --version` as a user would, and the settings of every Python process it started."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    log = tmp_path / "starts.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in (*SETTINGS, DONE_ENV, OFF_ENV)}
    env |= {"PYTHONPATH": f"{hooks}{os.pathsep}{REPO}", "ALLOCATOR_LOG": str(log), **environ}
    done = subprocess.run(
        [sys.executable, "-m", "cskd", "--version"], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout, [json.loads(line) for line in log.read_text().splitlines()]


@pytest.mark.skipif(sys.platform != "linux", reason="the settings are glibc's")
def test_a_direct_call_reexecutes_once_with_the_settings(tmp_path):
    out, starts = process_starts(tmp_path)
    assert __version__ in out
    assert len(starts) == 2
    assert starts[0]["MALLOC_MMAP_THRESHOLD_"] is None and starts[0]["CSKD_ALLOCATOR_REEXEC"] is None
    assert starts[1]["argv"][1:] == ["--version"]
    assert {name: starts[1][name] for name in SETTINGS} == SETTINGS and starts[1]["CSKD_ALLOCATOR_REEXEC"] == "1"


@pytest.mark.skipif(sys.platform != "linux", reason="the settings are glibc's")
def test_settings_given_by_the_user_are_kept_and_nothing_is_reexecuted(tmp_path):
    _, starts = process_starts(tmp_path, MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="131072")
    assert len(starts) == 1 and starts[0]["MALLOC_MMAP_THRESHOLD_"] == "65536"
    (tmp_path / "off").mkdir()
    _, starts = process_starts(tmp_path / "off", **{OFF_ENV: "1"})
    assert len(starts) == 1 and starts[0]["MALLOC_MMAP_THRESHOLD_"] is None
