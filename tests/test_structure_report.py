"""The structure metrics in reports (statistics per cell, paired differences to KD and CE, the figure) and in
``check --against`` (tolerances; a reference without them is not compared, with a note)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_report import S18, S34, FixtureSuite, T, fixture_rows, write_runs

from cskd.report.check import check
from cskd.report.render import render_report, report_table
from cskd.report.structure import reference_columns, structure_figure, structure_section
from cskd.report.structure_check import STRUCTURE_TOLERANCES
from cskd.results import FIRST_RUN_COLUMNS
from cskd.runs_schema import STRUCTURE_COLUMNS

#: (teacher, student, method) -> per seed (struct_nc1, struct_cka); CE has no teacher, so no CKA
STRUCTURE = {
    ("", S18, "CE"): [(2.0, None), (2.2, None)],
    (T, S18, "KD"): [(1.5, 0.50), (1.7, 0.60)],
    (T, S18, "FitNet"): [(1.4, 0.55), (1.6, 0.65)],
    (T, S18, "CSKD"): [(1.0, 0.70), (1.1, 0.90)],
    ("", T, "Teacher"): [(0.8, None)],
    ("", S34, "CE"): [(2.5, None), (2.5, None)],
    (T, S34, "KD"): [(1.9, 0.4), (2.1, 0.5)],
}


def with_structure(rows: list[dict]) -> list[dict]:
    out = []
    for row in rows:
        values = STRUCTURE.get((row["teacher"], row["student"], row["method"]))
        if values is not None and row["status"] == "ok":
            nc1, cka = values[int(row["seed"])]
            row = row | {"struct_nc1": nc1, "struct_cka": cka}
        out.append(row)
    return out


def test_cells_hold_mean_and_std_over_seeds_and_differences_to_kd_and_ce(tmp_path: Path):
    runs = write_runs(tmp_path / "runs.csv", with_structure(fixture_rows()))
    table = report_table(FixtureSuite(), runs)
    section = structure_section(table)
    row = table.rows[0]
    cskd = section.stats[(row, "CSKD", "struct_nc1")]
    assert (cskd.n, cskd.mean, cskd.std) == (2, pytest.approx(1.05), pytest.approx(0.0707107, abs=1e-6))
    assert section.stats[(row, "CE", "struct_cka")].n == 0  # teacher-free: empty, not zero
    by_name = {(d.row.student, d.name): d for d in section.comparisons["struct_cka"]}
    versus_kd = by_name[(S18, "CSKD − KD")]
    assert versus_kd.differences == pytest.approx((0.2, 0.3)) and versus_kd.mean == pytest.approx(0.25)
    # t_{0.975, 1} = 12.706 times std 0.0707 / sqrt 2: the interval contains 0 with two seeds
    assert versus_kd.interval == pytest.approx((0.25 - 12.7062 * 0.05, 0.25 + 12.7062 * 0.05), abs=1e-3)
    assert not any("CE" in name for _, name in by_name)  # CE has no teacher-comparison values
    nc1 = {(d.row.student, d.name): d for d in section.comparisons["struct_nc1"]}
    assert nc1[(S18, "CSKD − CE")].differences == pytest.approx((-1.0, -1.1))
    assert nc1[(S34, "KD − CE")].differences == pytest.approx((-0.6, -0.4))


def test_a_second_kd_form_is_compared_not_a_reference():
    columns = ["CE", "KD", "KD (Hinton)", "CSKD"]
    roles = {"CE": "ce", "KD": "kd", "KD (Hinton)": "kd", "CSKD": "both"}
    assert reference_columns(columns, roles) == ["KD", "CE"]
    assert reference_columns(["KD (Hinton)", "KD", "FitNet"], {"KD (Hinton)": "kd", "KD": "kd"}) == ["KD (Hinton)"]
    assert reference_columns(["FitNet", "CSKD"], {"CSKD": "both"}) == []


def test_the_report_shows_the_section_and_the_figure(tmp_path: Path):
    runs = write_runs(tmp_path / "runs.csv", with_structure(fixture_rows()))
    written = render_report(FixtureSuite(), runs, tmp_path / "reports")
    text = (tmp_path / "reports" / "fixture.md").read_text()
    assert "## Category structure of the test set" in text and "CSKD − KD" in text
    assert "per-comparison 95% interval" in text  # the section says its intervals are not corrected
    assert "1.05 ± 0.0707 (n=2)" in text
    assert tmp_path / "reports" / "figures" / "fixture-structure.png" in written
    figure = structure_figure(report_table(FixtureSuite(), runs))
    first = figure.axes[0]
    assert first.get_xlabel() == "NC1" and len(first.lines) > 0


def test_a_report_of_runs_without_the_metrics_has_no_section(tmp_path: Path):
    old = pd.DataFrame(fixture_rows())[list(FIRST_RUN_COLUMNS)]
    written = render_report(FixtureSuite(), old, tmp_path / "reports")
    assert "Category structure" not in (tmp_path / "reports" / "fixture.md").read_text()
    assert not any("structure" in p.name for p in written)


def test_check_compares_structure_within_its_tolerances(tmp_path: Path):
    reference = tmp_path / "reference" / "runs.csv"
    write_runs(reference, with_structure(fixture_rows()))
    same = check(pd.read_csv(reference), reference, tolerance=0.01)
    assert same.ok and {c.metric for c in same.cells} >= {"struct_nc1", "struct_cka"}
    factor = 1 + 1.5 * STRUCTURE_TOLERANCES["struct_nc1"][1]  # 1.5 times its relative tolerance off
    moved = [
        row | {"struct_nc1": row["struct_nc1"] * factor} if row["method"] == "CSKD" and row["status"] == "ok" else row
        for row in with_structure(fixture_rows())
    ]
    result = check(write_runs(tmp_path / "runs.csv", moved), reference, tolerance=0.01)
    assert [c.name for c in result.failures] == [f"{T} / {S18} · CSKD · NC1"]
    assert "NC1" in result.render() and "structure tolerances (" in result.render()


def test_a_reference_without_the_metrics_is_not_compared_and_says_so(tmp_path: Path):
    reference = tmp_path / "reference" / "runs.csv"
    pd.DataFrame(fixture_rows())[list(FIRST_RUN_COLUMNS)].to_csv(reference.parent.mkdir() or reference, index=False)
    results = write_runs(tmp_path / "runs.csv", with_structure(fixture_rows()))
    result = check(results, reference, tolerance=0.01)
    assert result.ok and all(not c.metric.startswith("struct_") for c in result.cells)
    assert "structure metrics not compared: the reference predates them" in result.render()
    assert set(STRUCTURE_COLUMNS) <= set(pd.read_csv(tmp_path / "runs.csv").columns)
