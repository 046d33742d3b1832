"""The report's rerun spread (cskd/report/rerun.py): the same run ids trained again, compared run by run and cell by
cell, and ``cskd report --rerun``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from cli_run import cli
from test_report import S18, FixtureSuite, T, fixture_rows, write_runs

from cskd.report.render import report_table
from cskd.report.rerun import rerun_markdown, rerun_spread

#: run id -> points added in the rerun (fixture run ids: teacher-student-method-seed)
MOVES = {f"{T}-{S18}-KD-0": 1.5, f"{T}-{S18}-KD-1": -0.5, f"{T}-{S18}-CSKD-0": 0.2}


def rerun_rows(moves: dict[str, float]) -> list[dict]:
    rows = []
    for row in fixture_rows():
        if row["run_id"] in moves and row["status"] == "ok":
            row = row | {"best_top1": row["best_top1"] + moves[row["run_id"]]}
        rows.append(row)
    return rows


def test_spread_per_run_and_per_cell(tmp_path: Path):
    table = report_table(FixtureSuite(), write_runs(tmp_path / "a.csv", fixture_rows()))
    spread = rerun_spread(table, write_runs(tmp_path / "b.csv", rerun_rows(MOVES)), "the rerun")
    students = [r for r in fixture_rows() if r["kind"] == "student" and r["status"] == "ok"]
    assert spread.runs == len({r["run_id"] for r in students})
    assert spread.run_max == pytest.approx(1.5) and spread.worst_run == f"KD seed 0 ({T}-{S18}-KD-0)"
    assert spread.run_median == 0.0  # most runs did not move
    # KD's cell mean moved by (1.5 - 0.5) / 2 = 0.5, CSKD's by 0.2 / its seed count
    assert spread.cell_max == pytest.approx(0.5) and spread.worst_cell == f"KD ({T} -> {S18})"
    text = "\n".join(rerun_markdown(table, write_runs(tmp_path / "b.csv", rerun_rows(MOVES)), "the rerun"))
    assert "by up to **1.50 points** per run (median 0.00" in text and "**0.50 points** per cell mean" in text


def test_a_rerun_of_other_runs_says_so(tmp_path: Path):
    table = report_table(FixtureSuite(), write_runs(tmp_path / "a.csv", fixture_rows()))
    other = pd.DataFrame(fixture_rows())
    other["run_id"] = other["run_id"] + "-other"
    assert rerun_spread(table, other, "x") is None
    assert "no run id in common" in "\n".join(rerun_markdown(table, other, "x"))


def test_cli_rerun_section_and_a_missing_path(tmp_path: Path):
    repo = Path(__file__).resolve().parents[1]
    reference, reports = repo / "reference" / "results", tmp_path / "reports"
    common = ["report", "ci", "--results-dir", str(reference), "--reports-dir", str(reports)]
    code, _, err = cli(*common, "--rerun", str(reference))
    assert code == 0, err
    text = (reports / "ci.md").read_text()
    # the reference against itself: nothing moved
    assert "## Rerun spread: the noise floor, measured" in text and "by up to **0.00 points** per run" in text
    code, _, err = cli(*common, "--rerun", str(tmp_path / "nowhere"))
    assert code == 2 and "--rerun" in err and "no runs.csv there" in err
