"""What the quick report shows a reader (issue 19): headings that do not claim a profile a suite does not have, the
ablation figure's labels and its right panel of the report's own contrasts, and what bold means in the table."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_report import MethodEntry, write_runs
from test_report_stats import quick_rows, quick_suite

from cskd.report import paired_difference, render_report, report_table
from cskd.report.cells import Row
from cskd.report.plots import ablation_figure
from cskd.report.scale import scale_phrase
from cskd.report.suites import view_suite
from cskd.suite import load_suite


def test_scale_phrase_names_a_profile_only_where_the_suite_has_profiles() -> None:
    assert scale_phrase("full", {"cpu": object()}) == "profile full"
    assert scale_phrase("cpu", {"cpu": object()}) == "profile cpu"
    assert scale_phrase("full", {}, "cpu") == "CPU scale"  # the suite's declared scale: cpu
    assert scale_phrase("full", {}, "paper") == ""
    assert scale_phrase("full", None) == "profile full"  # profiles unknown: the profile, as before
    views = {name: view_suite(load_suite(name), "full") for name in ("quick", "ci", "cpu_teacher", "table1")}
    assert {name: view.heading_scale for name, view in views.items()} == {
        "quick": "CPU scale",
        "ci": "CPU scale",
        "cpu_teacher": "CPU scale",
        "table1": "profile full",
    }
    assert {name: view.scale for name, view in views.items()} == {
        "quick": "cpu",
        "ci": "cpu",
        "cpu_teacher": "cpu",
        "table1": "paper",
    }


def test_quick_headings_do_not_say_profile_full(tmp_path: Path) -> None:
    suite = quick_suite()
    suite.scale = "cpu"  # as benchmarks/quick.yaml declares
    paths = render_report(suite, write_runs(tmp_path / "runs.csv", quick_rows()), tmp_path / "reports")
    text = paths[0].read_text()
    assert "profile full" not in text
    assert text.startswith("# quick: results (best epoch, CPU scale)\n")
    assert "at the best epoch of suite quick, CPU scale: mean" in text
    figure = ablation_figure(report_table(suite, write_runs(tmp_path / "runs.csv", quick_rows())))
    assert figure.get_suptitle() == "quick: CSKD ablation, T / S (best epoch, CPU scale)"
    suite.scale = "paper"
    table = report_table(suite, write_runs(tmp_path / "runs.csv", quick_rows()))
    assert table.heading() == "best epoch" and "profile" not in table.caption


def test_ablation_ticks_name_a_role_only_where_the_label_does_not(tmp_path: Path) -> None:
    suite = quick_suite()
    suite.methods = [*suite.methods, MethodEntry("KD (Hinton)", "kd", {"form": "kl"})]
    hinton = [row | {"method": "KD (Hinton)"} for row in quick_rows() if row["method"] == "KD"]
    table = report_table(suite, write_runs(tmp_path / "runs.csv", [*quick_rows(), *hinton]))
    accuracy = ablation_figure(table).axes[0]
    ticks = [t.get_text() for t in accuracy.get_xticklabels()]
    assert ticks == ["CE", "KD", "KD (Hinton)", "intra only", "inter only", "CSKD\n(both terms)"]


def test_ablation_right_panel_shows_the_reports_contrasts_with_values_at_the_means(tmp_path: Path) -> None:
    table = report_table(quick_suite(), write_runs(tmp_path / "runs.csv", quick_rows()))
    gains = ablation_figure(table).axes[1]
    ticks = [t.get_text() for t in gains.get_xticklabels()]
    assert ticks == ["CSKD\n− KD", "CSKD\n− intra only", "CSKD\n− inter only"]  # the report's paired tests
    assert "the report's paired contrasts" in gains.get_title()
    row = Row("T", "S")
    means = [paired_difference(table.results, row, "CSKD", b, "top1").mean for b in ("KD", "intra only", "inter only")]
    assert [p.get_height() for p in gains.patches] == pytest.approx(means)
    labels = {t.get_text(): t.xy[1] for t in gains.texts}
    assert labels == {f"{m:+.2f}": pytest.approx(m) for m in means}  # each value written at its mean


def test_bold_is_said_to_be_a_ranking_not_a_test(tmp_path: Path) -> None:
    table = report_table(quick_suite(), write_runs(tmp_path / "runs.csv", quick_rows()))
    bold = next(note for note in table.notes if note.startswith("Bold:"))
    assert "a ranking of means, not a test" in bold and "paired differences" in bold
