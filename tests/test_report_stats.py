"""Statistics over seeds in the report: the t interval against hand-computed values, the pairing by seed, the gain
over the baseline, the suite's ``report:`` settings, and the quick suite's report (one pair, nine methods, three
seeds, a supplied teacher) with its paired comparisons said in words.

The quick fixture is written by hand in the shape of real rows (``cskd run`` of a quick-like suite on the CIFAR-10
JPEG copy): the teacher is supplied by checkpoint, so it has no run of its own and each student row records its
accuracy in ``teacher_top1``.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from test_report import (
    FixtureSuite,
    MethodEntry,
    Pair,
    Profile,
    ReportSettings,
    markdown_table,
    run_row,
    write_runs,
)

from cskd.engine.recipe import Recipe
from cskd.report import paired_difference, render_report, report_table, t_quantile
from cskd.report.cells import CellTable, Row
from cskd.report.plots import ROLE_COLORS, method_colors
from cskd.report.seeds import PairedDifference, in_words
from cskd.suite import SuiteError, load_suite

# ------------------------------------------------------------------------------------------------- the statistics


def test_t_quantiles_are_the_tabulated_values() -> None:
    assert t_quantile(3) == pytest.approx(4.303, abs=5e-4)  # t_{0.975, 2}
    assert t_quantile(2) == pytest.approx(12.706, abs=5e-4)  # t_{0.975, 1}
    assert t_quantile(5) == pytest.approx(2.776, abs=5e-4)  # t_{0.975, 4}
    assert t_quantile(3, confidence=0.90) == pytest.approx(2.920, abs=5e-4)
    with pytest.raises(ValueError, match="at least 2 values"):
        t_quantile(1)


def difference(values: list[float]) -> PairedDifference:
    return PairedDifference(Row("T", "S"), "CSKD", "KD", "top1", tuple(range(len(values))), tuple(values))


def test_paired_difference_by_hand() -> None:
    # d = 0.50, 0.35, 0.25: mean 0.36667, std sqrt((0.13333^2 + 0.01667^2 + 0.11667^2) / 2) = 0.12583,
    # half-width 4.3027 * 0.12583 / sqrt(3) = 0.31258: [0.0541, 0.6792] excludes 0
    clear = difference([0.50, 0.35, 0.25])
    assert (clear.n, clear.mean, clear.std) == (3, pytest.approx(0.366667, abs=1e-6), pytest.approx(0.125831, abs=1e-6))
    assert clear.half_width == pytest.approx(0.312580, abs=1e-6)
    assert clear.interval == pytest.approx((0.054086, 0.679247), abs=1e-6)
    assert clear.distinguishable
    assert clear.verdict == "CSKD is above KD beyond seed noise (the interval excludes 0)"
    # d = 0.20, -0.30, 0.55: mean 0.15, std 0.42720, half-width 1.06122: [-0.9112, 1.2112] contains 0
    unclear = difference([0.20, -0.30, 0.55])
    assert unclear.std == pytest.approx(0.427200, abs=1e-6)
    assert unclear.interval == pytest.approx((-0.911224, 1.211224), abs=1e-6)
    assert not unclear.distinguishable
    assert unclear.verdict == "not distinguishable from seed noise (the interval contains 0)"
    below = difference([-1.0, -1.2, -0.9])
    assert below.distinguishable and below.verdict.startswith("CSKD is below KD")
    single = difference([0.8])
    assert (single.std, single.interval, single.distinguishable) == (None, None, False)
    assert single.verdict == "one paired seed: no interval, cannot be told from noise"
    assert difference([]).verdict == "no seed where both succeeded"


def test_pairs_are_matched_by_seed_and_a_failed_seed_drops_out(tmp_path: Path) -> None:
    rows = [
        run_row("T", "S", "CSKD", 0, 74.0),
        run_row("T", "S", "CSKD", 1, 73.0),
        run_row("T", "S", "CSKD", 2, None),  # failed: seed 2 has no pair
        run_row("T", "S", "KD", 2, 71.0),
        run_row("T", "S", "KD", 0, 72.5),  # rows out of seed order
        run_row("T", "S", "KD", 1, 72.0),
    ]
    results = CellTable(write_runs(tmp_path / "runs.csv", rows), "best")
    d = paired_difference(results, Row("T", "S"), "CSKD", "KD", "top1")
    assert d.seeds == (0, 1) and d.differences == pytest.approx((1.5, 1.0))
    # mean 1.25, std 0.35355, t_{0.975,1} = 12.7062: half-width 12.7062 * 0.35355 / sqrt(2) = 3.17655
    assert d.half_width == pytest.approx(12.706205 * math.sqrt(0.125) / math.sqrt(2), abs=1e-6)
    assert not d.distinguishable


def test_in_words_separates_what_is_distinguishable_from_what_is_not() -> None:
    text = in_words([difference([0.50, 0.35, 0.25]), difference([0.20, -0.30, 0.55]), difference([0.8])])
    assert text == (
        "With 3 paired seeds, distinguishable from seed noise (the 95% interval excludes 0): "
        "CSKD − KD (+0.37, [+0.05, +0.68]). "
        "Not distinguishable (the 95% interval contains 0): CSKD − KD (+0.15, [-0.91, +1.21]). "
        "Fewer than two paired seeds, so no interval: CSKD − KD."
    )
    assert in_words([difference([0.20, -0.30, 0.55])]).startswith(
        "With 3 paired seeds, not distinguishable from seed noise (the 95% interval contains 0): CSKD − KD"
    )


# ---------------------------------------------------------------------------------------- the suite's report key

SUITE_HEAD = """\
name: reportkey
dataset: cifar10-jpeg
models:
  T: cifar_resnet34_w0_25
  S: {model: cifar_resnet18_w0_25, kwargs: {width_multiplier: 0.5}}
pairs: [[T, S]]
recipe: {epochs: 2, milestones: [1]}
"""


def write_suite(tmp_path: Path, methods: str, report: str = "") -> Path:
    path = tmp_path / "reportkey.yaml"
    path.write_text(SUITE_HEAD + methods + report)
    return path


METHODS = """\
methods:
  Plain CE: {method: ce}
  KD: {method: kd, args: {form: mse}}
  CSKD: {method: cskd}
  intra only: {method: cskd, args: {inter: false}}
"""


def test_report_settings_default_to_the_ce_method_and_no_comparison(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path, METHODS))
    assert (suite.report.baseline, suite.report.paired) == ("Plain CE", ())
    no_ce = load_suite(write_suite(tmp_path, "methods:\n  KD: {method: kd}\n  CSKD: {method: cskd}\n"))
    assert no_ce.report.baseline is None


def test_report_settings_are_read_and_checked(tmp_path: Path) -> None:
    report = "report: {baseline: KD, paired: [[CSKD, KD], [CSKD, intra only]]}\n"
    suite = load_suite(write_suite(tmp_path, METHODS, report))
    assert suite.report.baseline == "KD"
    assert suite.report.paired == (("CSKD", "KD"), ("CSKD", "intra only"))
    for bad, message in [
        ("report: {paired: [[CSKD, KDD]]}\n", r"report.paired\[0\]: unknown method label 'KDD' \(closest: KD"),
        ("report: {paired: [[CSKD, CSKD]]}\n", r"report.paired\[0\]: expected \[A, B\], two different method labels"),
        ("report: {paired: [CSKD, KD]}\n", r"report.paired\[0\]: expected \[A, B\]"),
        ("report: {baseline: CE}\n", r"report.baseline: unknown method label 'CE'"),
        ("report: {pairs: [[CSKD, KD]]}\n", r"report.pairs: unknown key \(closest: paired"),
    ]:
        with pytest.raises(SuiteError, match=message):
            load_suite(write_suite(tmp_path, METHODS, bad))


# ------------------------------------------------------------------------------------- the quick suite's report

TEACHER_TOP1 = 83.47
#: method label -> (registered method, arguments, best top-1 of seeds 0, 1, 2)
QUICK: dict[str, tuple[str, dict, list[float]]] = {
    "CE": ("ce", {}, [71.20, 70.65, 71.85]),
    "KD": ("kd", {"form": "mse"}, [73.40, 72.95, 73.80]),
    "FitNet": ("fitnet", {}, [72.10, 71.55, 72.60]),
    "KDGAN": ("kdgan", {}, [72.90, 72.20, 73.15]),
    "AB": ("ab", {}, [71.95, 71.40, 72.35]),
    "CCKD": ("cckd", {}, [73.05, 72.70, 73.55]),
    "CSKD": ("cskd", {"variant": "paper"}, [73.90, 73.30, 74.05]),
    "intra only": ("cskd", {"variant": "paper", "inter": False}, [73.70, 73.60, 73.50]),
    "inter only": ("cskd", {"variant": "paper", "intra": False}, [72.80, 72.40, 73.10]),
}
PAIRED = (("CSKD", "KD"), ("CSKD", "intra only"), ("CSKD", "inter only"))


def quick_suite() -> FixtureSuite:
    return FixtureSuite(
        name="quick",
        paper_table=None,
        pairs=[Pair("T", "S")],
        methods=[MethodEntry(label, name, args) for label, (name, args, _) in QUICK.items()],
        seeds=[0, 1, 2],
        profiles={},
        recipe=Recipe(epochs=15, batch_size=128, lr=0.1, weight_decay=5e-4, milestones=(8, 12)),
        report=ReportSettings(baseline="CE", paired=PAIRED),
    )


def quick_rows() -> list[dict]:
    source = (
        "CIFAR-10 JPEG copy (lossy re-encode, not the official release) at /srv/runner/cskd/data/cifar10-jpeg; "
        "stratified subset of 10000 train / 2000 test images, seed 0"
    )
    rows = []
    for label, (name, _, values) in QUICK.items():
        for seed, top1 in enumerate(values):
            teacher = "" if name == "ce" else "T"
            extra = {"suite": "quick", "method_name": name, "epochs": 15, "train_size": 10000, "test_size": 2000}
            extra |= {"dataset_source": source, "teacher_top1": "" if name == "ce" else TEACHER_TOP1}
            rows.append(run_row(teacher, "S", label, seed, top1, **extra))
    return rows


@pytest.fixture
def quick_runs(tmp_path: Path) -> pd.DataFrame:
    return write_runs(tmp_path / "results" / "quick" / "runs.csv", quick_rows())


def test_gain_over_the_baseline_is_the_difference_of_means(quick_runs: pd.DataFrame) -> None:
    table = report_table(quick_suite(), quick_runs)
    row = Row("T", "S")
    ce = sum(QUICK["CE"][2]) / 3
    for label, (_, _, values) in QUICK.items():
        assert table.cell(row, label, "top1").gain == pytest.approx(sum(values) / 3 - ce)
    assert table.cell(row, "Teacher", "top1").gain is None
    assert table.cell(row, "KD", "top1").gain == pytest.approx(2.15)


def test_a_supplied_teacher_is_shown_from_its_students_rows(quick_runs: pd.DataFrame) -> None:
    table = report_table(quick_suite(), quick_runs)
    teacher = table.cell(Row("T", "S"), "Teacher", "top1").stats
    assert (teacher.n, teacher.mean, teacher.std) == (1, TEACHER_TOP1, None)
    assert any(note.startswith("Teacher T: a supplied checkpoint") for note in table.notes)


def test_quick_report_gives_mean_std_n_gains_and_paired_comparisons_in_words(
    quick_runs: pd.DataFrame, tmp_path: Path
) -> None:
    paths = render_report(quick_suite(), quick_runs, tmp_path / "reports")
    text = paths[0].read_text()
    reproduced = markdown_table(text, "## Top-1 accuracy (%), reproduced")["T / S"]
    assert reproduced["CE"] == "71.23 ± 0.60 (n=3)"
    assert reproduced["CSKD"] == "**73.75 ± 0.40 (n=3)**"
    assert reproduced["Teacher"] == "83.47 (n=1)"
    gains = markdown_table(text, "## Top-1 gain over CE (points)")["T / S"]
    assert list(gains) == [label for label in QUICK if label != "CE"]
    assert (gains["KD"], gains["CSKD"], gains["inter only"]) == ("+2.15", "+2.52", "+1.53")
    assert "## Top-1: paired differences over seeds (points)" in text
    assert "t = 4.303 for n = 3" in text
    # hand-computed: CSKD - KD = 0.50, 0.35, 0.25; CSKD - intra only = 0.20, -0.30, 0.55;
    # CSKD - inter only = 1.10, 0.90, 0.95 (mean 0.98333, std 0.10408, half-width 0.25856);
    # detectable with 80% power: (t_0.975,2 + t_0.80,2) / sqrt(3) * std = (4.3027 + 1.0607) / 1.7321 * std = 3.0966 std
    # (CSKD - KD: std 0.12583 -> 0.39; intra only: std 0.42720 -> 1.32; inter only: 0.32)
    lines = [line.rstrip(" |").split(" | ")[1:] for line in text.splitlines() if line.startswith("| T / S | CSKD − ")]
    above = "CSKD is above {} beyond seed noise (the interval excludes 0)"
    assert lines == [
        ["CSKD − KD", "0, 1, 2", "+0.37", "0.13", "[+0.05, +0.68]", "0.39", above.format("KD")],
        ["CSKD − intra only", "0, 1, 2", "+0.15", "0.43", "[-0.91, +1.21]", "1.32", "not distinguishable from seed "
         "noise (the interval contains 0)"],
        ["CSKD − inter only", "0, 1, 2", "+0.98", "0.10", "[+0.72, +1.24]", "0.32", above.format("inter only")],
    ]  # fmt: skip
    assert (
        "With 3 paired seeds, distinguishable from seed noise (the 95% interval excludes 0): "
        "CSKD − KD (+0.37, [+0.05, +0.68]); CSKD − inter only (+0.98, [+0.72, +1.24]). "
        "Not distinguishable (the 95% interval contains 0): CSKD − intra only (+0.15, [-0.91, +1.21])." in text
    )
    assert (
        "Recipe: 15 epochs of SGD (momentum 0.9, weight decay 0.0005), batch 128, lr 0.1 x0.1 after epochs 8, 12"
        in (text)
    )
    assert "/srv/runner" not in text
    paired_csv = pd.read_csv(next(p for p in paths if p.name == "quick-paired.csv"))
    inter = paired_csv[paired_csv["b"] == "inter only"].iloc[0]
    assert (inter["n"], inter["seeds"], bool(inter["distinguishable"])) == (3, "0 1 2", True)
    assert (inter["mean"], inter["std"]) == (pytest.approx(0.983333, abs=1e-6), pytest.approx(0.104083, abs=1e-6))
    assert (inter["ci_low"], inter["ci_high"]) == (pytest.approx(0.724776, abs=1e-6), pytest.approx(1.241891, abs=1e-6))
    latex = paths[1].read_text()
    assert r"\caption{Paired differences over seeds (top-1 accuracy, points), with 95\% intervals.}" in latex
    assert r"\textbf{+0.98}" in latex and r"\textbf{+0.15}" not in latex  # bold: the interval excludes 0


def test_quick_ablation_figure_and_curves(quick_runs: pd.DataFrame, tmp_path: Path) -> None:
    paths = render_report(quick_suite(), quick_runs, tmp_path / "reports")
    assert [p.name for p in paths if p.suffix == ".png"] == ["quick-ablation.png"]  # one row: no heatmap
    table = report_table(quick_suite(), quick_runs)
    assert table.roles == {"CE": "ce", "KD": "kd", "CSKD": "both", "intra only": "intra", "inter only": "inter"}


def test_two_columns_of_one_role_get_their_own_colours(tmp_path: Path) -> None:
    suite = quick_suite()
    suite.methods = [*suite.methods, MethodEntry("KD (Hinton)", "kd", {"form": "kl"})]
    hinton = [row | {"method": "KD (Hinton)"} for row in quick_rows() if row["method"] == "KD"]
    table = report_table(suite, write_runs(tmp_path / "runs.csv", [*quick_rows(), *hinton]))
    assert table.roles["KD"] == table.roles["KD (Hinton)"] == "kd"
    colors = method_colors(table)
    assert colors["KD"] == ROLE_COLORS["kd"]  # the first column of a role keeps the role's colour
    assert len(set(colors.values())) == len(colors)  # every column its own colour, KD (Hinton) included


def test_a_comparison_the_profile_does_not_run_is_named(quick_runs: pd.DataFrame, tmp_path: Path) -> None:
    suite = quick_suite()
    suite.profiles = {"small": Profile(methods=("CE", "KD", "CSKD"))}
    rows = [row | {"profile": "small"} for row in quick_rows() if row["method"] in ("CE", "KD", "CSKD")]
    table = report_table(suite, write_runs(tmp_path / "small.csv", rows))
    assert [(d.a, d.b) for d in table.comparisons["top1"]] == [("CSKD", "KD")]
    assert "No paired comparison CSKD − intra only: this profile does not run intra only." in table.notes
