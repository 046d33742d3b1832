"""Reports: the paper's numbers file, tables (Markdown, LaTeX, CSV) checked cell by cell, figures, the index.

The fixture is a small runs.csv written here: 2 pairs (R101_0.5 -> R18_0.25, R34_0.25) x KD, FitNet, CSKD x 2 seeds,
the teacher (one seed) and the shared CE students; one cell missing (R34_0.25 FitNet), one failed (R34_0.25 CSKD),
one run that failed and then succeeded on a retry (R18_0.25 FitNet, seed 1).
"""

from __future__ import annotations

import itertools
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.container import ErrorbarContainer
from PIL import Image

from cskd.engine.recipe import Recipe
from cskd.report import paper_table, render_report, report_table
from cskd.report.errors import ReportInputError
from cskd.report.paper import PAPER_RESULTS, load_paper_results
from cskd.report.plots import ablation_columns, ablation_figure, curves_figure, paper_diff_figure
from cskd.report.tables import Row
from cskd.results import RUN_COLUMNS

REPO = Path(__file__).resolve().parents[1]
PAPER_MD = REPO / "docs" / "paper.md"
SHA = "ff26949c34c4e67da3fa472a1f142e33365dea058f94f1fa369b14ef3d986968"
#: the absolute data folder of the machine that ran the fixture's runs: no report may show it
DATA_FOLDER = "/home/alice/cskd/data/cifar10-jpeg"

T, S18, S34 = "R101_0.5", "R18_0.25", "R34_0.25"
#: (teacher, student, method) -> best_top1 per seed; None marks a failed run
BEST_TOP1: dict[tuple[str, str, str], list[float | None]] = {
    ("", T, "Teacher"): [92.50],
    ("", S18, "CE"): [90.00, 90.40],
    (T, S18, "KD"): [91.00, 91.40],
    (T, S18, "FitNet"): [91.10, 91.30],
    (T, S18, "CSKD"): [92.00, 91.60],
    ("", S34, "CE"): [91.00, 91.20],
    (T, S34, "KD"): [91.90, 92.30],
    (T, S34, "CSKD"): [None, None],
}
#: the paper's Table 1 values of the fixture's cells
PAPER = {
    (S18, "CE"): 90.14,
    (S18, "KD"): 91.01,
    (S18, "FitNet"): 91.05,
    (S18, "CSKD"): 91.99,
    (S34, "CE"): 91.25,
    (S34, "KD"): 91.48,
    (S34, "FitNet"): 91.61,
    (S34, "CSKD"): 92.67,
    (S18, "Teacher"): 92.91,
    (S34, "Teacher"): 92.91,
}


@dataclass
class Pair:
    teacher: str
    student: str


@dataclass
class MethodEntry:
    label: str
    name: str
    args: dict = field(default_factory=dict)


@dataclass
class Profile:
    """A profile's overrides (the shape of cskd.suite.Profile): None keeps the suite's value."""

    dataset: str | None = None
    epochs: int | None = None
    pairs: tuple[Pair, ...] | None = None
    methods: tuple[str, ...] | None = None
    seeds: tuple[int, ...] | None = None
    method_args: dict = field(default_factory=dict)
    recipe: dict = field(default_factory=dict)


@dataclass
class ReportSettings:
    """The shape of cskd.suite.ReportSettings."""

    baseline: str | None = None
    paired: tuple[tuple[str, str], ...] = ()


@dataclass
class FixtureSuite:
    """The attributes of a suite the report reads (the shape of cskd.suite.Suite)."""

    name: str = "fixture"
    paper_table: str | None = "1"
    dataset: str = "cifar10-jpeg"
    pairs: list[Pair] = field(default_factory=lambda: [Pair(T, S18), Pair(T, S34)])
    methods: list[MethodEntry] = field(
        default_factory=lambda: [
            MethodEntry("CE", "ce"),
            MethodEntry("KD", "kd"),
            MethodEntry("FitNet", "fitnet"),
            MethodEntry("CSKD", "cskd"),
        ]
    )
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    profiles: dict[str, Profile] = field(default_factory=lambda: {"quick": Profile(methods=("KD",), seeds=(0,))})
    recipe: Recipe = field(default_factory=lambda: Recipe(epochs=3, milestones=(2,)))
    report: ReportSettings = field(default_factory=lambda: ReportSettings(baseline="CE"))

    def profile(self, name: str | None) -> Profile:
        if name in (None, "full"):
            return Profile()
        if name not in self.profiles:
            raise ValueError(f"no profile {name!r}")
        return self.profiles[name]

    def recipe_for(self, label: str, profile: Profile) -> Recipe:
        recipe = Recipe.from_dict({**self.recipe.to_dict(), **profile.recipe})
        return recipe.scaled_to(profile.epochs) if profile.epochs is not None else recipe


def run_row(teacher: str, student: str, method: str, seed: int, top1: float | None, **extra) -> dict:
    """One runs.csv row; the last epoch is 0.3 below the best, top-5 is top-1 + 7."""
    failed = top1 is None
    row = dict.fromkeys(RUN_COLUMNS, "")
    row |= {
        "suite": "fixture",
        "run_id": f"{teacher or 'none'}-{student}-{method}-{seed}",
        "kind": "teacher" if method == "Teacher" else "student",
        "dataset": "cifar10-jpeg",
        "dataset_source": f"CIFAR-10 JPEG copy (lossy re-encode, not the official release) at {DATA_FOLDER}",
        "data_sha256": SHA,
        "teacher": teacher,
        "student": student,
        "method": method,
        "profile": "full",
        "seed": seed,
        "epochs": 3,
        "train_size": 50000,
        "test_size": 10000,
        "best_top1": None if failed else top1,
        "best_top5": None if failed else top1 + 7,
        "last_top1": None if failed else round(top1 - 0.3, 2),
        "last_top5": None if failed else top1 + 6,
        "status": "failed" if failed else "ok",
        "error": f"RuntimeError: out of memory\nwhile training (batch from {DATA_FOLDER})" if failed else "",
    }
    return row | extra


def fixture_rows() -> list[dict]:
    rows = [run_row(t, s, m, seed, top1) for (t, s, m), values in BEST_TOP1.items() for seed, top1 in enumerate(values)]
    retried = run_row(T, S18, "FitNet", 1, None)  # its first attempt failed; the successful retry comes later
    return [retried, *rows]


def write_runs(path: Path, rows: list[dict]) -> pd.DataFrame:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=list(RUN_COLUMNS)).to_csv(path, index=False)
    return pd.read_csv(path)


@pytest.fixture
def runs(tmp_path: Path) -> pd.DataFrame:
    return write_runs(tmp_path / "results" / "fixture" / "runs.csv", fixture_rows())


def expected_stats(values: list[float]) -> tuple[float, float | None, int]:
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else None), len(values)


def markdown_table(text: str, heading: str) -> dict[str, dict[str, str]]:
    """The Markdown table under ``heading``: row label -> column -> cell text."""
    after = text.split(heading, 1)[1].strip().splitlines()
    table_lines = list(itertools.takewhile(lambda line: line.startswith("|"), after))
    split = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in table_lines]
    header, body = split[0], split[2:]
    return {cells[0]: dict(zip(header[1:], cells[1:], strict=True)) for cells in body}


STATS_CELL = re.compile(
    r"^(\*\*)?(?P<mean>[\d.]+)(?: ± (?P<std>[\d.]+))? \(n=(?P<n>\d+)(?:, (?P<failed>\d+) failed)?\)"
)


def assert_stats_cell(text: str, values: list[float], bold: bool) -> None:
    mean, std, n = expected_stats(values)
    match = STATS_CELL.match(text)
    assert match, text
    assert float(match["mean"]) == pytest.approx(round(mean, 2))
    assert (match["std"] is None) == (std is None), text
    if std is not None:
        assert float(match["std"]) == pytest.approx(round(std, 2))
    assert int(match["n"]) == n
    assert text.startswith("**") == bold, text


# ---------------------------------------------------------------------------------------------- paper_results.csv


def paper_md_table(text: str, caption: str) -> list[tuple[str, str, str, float]]:
    """(teacher, student, column, value) of every cell of one of paper.md's Markdown tables."""
    block = text.split(caption, 1)[1].strip().split("\n\n", 1)[0].splitlines()
    header = [c.strip() for c in block[0].strip("|").split("|")]
    cells = []
    for line in block[2:]:
        values = [c.strip() for c in line.strip("|").split("|")]
        teacher, student = (x.strip() for x in values[0].split("/"))
        cells += [(teacher, student, column, float(v)) for column, v in zip(header[1:], values[1:], strict=True)]
    return cells


@pytest.mark.parametrize(("table", "caption"), [("1", "Table 1, CIFAR-10:"), ("2", "Table 2, CIFAR-100:")])
def test_paper_tables_1_and_2_match_paper_md_cell_by_cell(table: str, caption: str) -> None:
    cells = paper_md_table(PAPER_MD.read_text(), caption)
    assert len(cells) == 6 * 8
    paper = paper_table(table)
    for teacher, student, column, value in cells:
        assert paper.value(Row(teacher, student).key(column), "top1") == value, (teacher, student, column)


@pytest.mark.parametrize(
    ("table", "teacher", "student", "method", "metric", "value"),
    [
        ("3", "", "ResNet152", "Teacher", "top5", 81.87),
        ("3", "", "R18_0.25", "CE", "top1", 45.21),
        ("3", "ResNet152", "R18_0.25", "KDGAN", "top5", 77.62),
        ("3", "ResNet152", "R18_0.25", "AB", "top1", 52.72),
        ("3", "ResNet152", "R18_0.25", "CSKD", "top5", 78.75),
        ("4", "ResNet152", "R18_0.25", "neither", "top1", 49.53),
        ("4", "ResNet152", "R18_0.25", "intra", "top5", 78.36),
        ("4", "ResNet152", "R18_0.25", "inter", "top1", 52.48),
        ("readme-cifar10", "", "InceptionV3", "Teacher", "top1", 94.21),
        ("readme-cifar10", "InceptionV3", "VGG11", "CSKD", "top1", 93.80),
        ("readme-cifar10", "", "MobileNetV2", "CE", "top1", 91.44),
        ("readme-cub", "", "ResNet50", "Teacher", "top1", 53.09),
        ("readme-cub", "ResNet50", "ResNet18_0.25", "AB", "top1", 52.10),
        ("readme-cub", "ResNet50", "ResNet18_0.5", "FitNet", "top1", 52.67),
    ],
)
def test_paper_tables_3_4_and_readme_sample(table, teacher, student, method, metric, value) -> None:
    rows = load_paper_results()
    match = rows[
        (rows["table"] == table)
        & (rows["teacher"] == teacher)
        & (rows["student"] == student)
        & (rows["method"] == method)
        & (rows["metric"] == metric)
    ]
    assert match["value"].tolist() == [value]


def test_paper_results_file_is_complete_and_unique() -> None:
    rows = load_paper_results()
    assert list(rows.columns) == ["table", "dataset", "teacher", "student", "method", "metric", "value"]
    counts = rows.groupby("table").size().to_dict()
    # Tables 1, 2: 6 pairs x 6 methods + 3 CE students + 2 teachers; 3: 8 x top-1/top-5; 4: 4 x 2; README: 2 x 6 + 1
    assert counts == {"1": 41, "2": 41, "3": 16, "4": 8, "readme-cifar10": 13, "readme-cub": 13}
    assert not rows.duplicated(["table", "teacher", "student", "method", "metric"]).any()
    assert set(rows["dataset"]) == {"cifar10", "cifar100", "tiny-imagenet", "cub200"}
    assert PAPER_RESULTS.is_file()


def test_unknown_paper_table_lists_the_known_ones() -> None:
    known = (
        r"known: paper_results.csv: 1, 2, 3, 4, readme-cifar10, readme-cub; published_results.csv: crd-same, crd-cross"
    )
    with pytest.raises(ReportInputError, match=known):
        paper_table("5")


# ---------------------------------------------------------------------------------------------------- tables


def successful(key: tuple[str, str, str]) -> list[float]:
    return [v for v in BEST_TOP1.get(key, []) if v is not None]


def position(row: str, column: str) -> tuple[str, str, str]:
    """The fixture key of a table position (teacher / student row, method column)."""
    student = {f"{T} / {S18}": S18, f"{T} / {S34}": S34}[row]
    if column == "Teacher":
        return ("", T, "Teacher")
    return ("" if column == "CE" else T, student, column)


def test_markdown_reproduced_table_cell_by_cell(runs: pd.DataFrame, tmp_path: Path) -> None:
    paths = render_report(FixtureSuite(), runs, tmp_path / "reports")
    markdown = paths[0]
    assert markdown.name == "fixture.md"
    table = markdown_table(markdown.read_text(), "## Top-1 accuracy (%), reproduced")
    assert list(table) == [f"{T} / {S18}", f"{T} / {S34}"]
    assert list(table[f"{T} / {S18}"]) == ["CE", "KD", "FitNet", "CSKD", "Teacher"]
    best = {f"{T} / {S18}": "CSKD", f"{T} / {S34}": "KD"}  # highest mean of the row, Teacher excluded
    for row, cells in table.items():
        for column, text in cells.items():
            key = position(row, column)
            if key == (T, S34, "FitNet"):
                assert text == "—"
            elif key == (T, S34, "CSKD"):
                assert text == "failed"
            else:
                assert_stats_cell(text, successful(key), bold=best[row] == column)
    assert table[f"{T} / {S18}"]["Teacher"] == "92.50 (n=1)"  # one seed: no std


def test_markdown_paper_table_values_differences_and_best(runs: pd.DataFrame, tmp_path: Path) -> None:
    text = render_report(FixtureSuite(), runs, tmp_path / "reports")[0].read_text()
    heading = "## Top-1 accuracy (%): Table 1, CIFAR-10, and reproduced − paper in brackets, at the epoch each paper"
    table = markdown_table(
        text, f"{heading} value's source reports (best where it states none; another epoch is named)"
    )
    for row, cells in table.items():
        student = position(row, "KD")[1]
        assert cells["best: reproduced / paper"] == ("CSKD / CSKD" if student == S18 else "KD / CSKD")
        for column in ["CE", "KD", "FitNet", "CSKD", "Teacher"]:
            printed, _, diff = cells[column].partition(" (")
            paper = PAPER[(student, column)]
            assert float(printed.strip("*")) == paper
            assert printed.startswith("**") == (column == "CSKD"), cells[column]  # the paper's best of both rows
            values = successful(position(row, column))
            if values:
                assert float(diff.rstrip(")")) == pytest.approx(round(statistics.mean(values) - paper, 2), abs=0.006)
            else:
                assert diff == "—)"


def test_caption_is_one_sentence_and_the_notes_say_data_recipe_seeds_and_sources(
    runs: pd.DataFrame, tmp_path: Path
) -> None:
    text = render_report(FixtureSuite(), runs, tmp_path / "reports")[0].read_text()
    caption, notes = text.split("\n\n")[1:3]
    assert caption == (
        "Test top-1 accuracy (%) at the best epoch of suite fixture, profile full: "
        "mean ± sample standard deviation over seeds (n: successful seeds)."
    )
    notes = notes.splitlines()
    assert all(line.startswith("- ") for line in notes)
    assert "- Best epoch: the highest test accuracy over all epochs, as the official code reports." in notes
    assert (
        "- Training: teachers 3 epochs, students 3 epochs; 50000 training and 10000 test images. "
        "Recipe: 3 epochs of SGD (momentum 0.9, weight decay 0.0001), batch 128, lr 0.1 x0.1 after epoch 2." in notes
    )
    assert (
        "- Data: cifar10-jpeg from CIFAR-10 JPEG copy (lossy re-encode, not the official release) "
        f"(sha256 {SHA[:12]}), a JPEG copy of CIFAR-10, not the official release; "
        "the paper used the official CIFAR-10." in notes
    )
    assert "- Seeds: 0, 1 (the suite declares 0, 1)." in notes
    assert "- Paper values: Table 1, CIFAR-10, as printed, from the CSKD paper (Chen et al., ECCV 2020)." in notes
    assert "- Gain over CE: a cell's mean minus the mean of CE of the same student (points)." in notes
    failed = markdown_table(text, "## Failed runs")
    assert set(failed) == {"R101_0.5-R34_0.25-CSKD-0", "R101_0.5-R34_0.25-CSKD-1"}  # the retried run succeeded
    assert failed["R101_0.5-R34_0.25-CSKD-0"]["error"] == (
        "RuntimeError: out of memory while training (batch from cifar10-jpeg)"
    )


def test_no_report_file_shows_the_machines_absolute_paths(runs: pd.DataFrame, tmp_path: Path) -> None:
    epochs = tmp_path / "results" / "fixture" / "epochs"
    write_epochs(epochs, f"{T}-{S18}-KD-0", [50.0, 60.0])
    paths = render_report(FixtureSuite(), runs, tmp_path / "reports", epochs_dir=epochs)
    texts = [p for p in paths if p.suffix in (".md", ".tex", ".csv")]
    assert len(texts) == 4  # the report's .md, .tex, .csv and the index
    for path in texts:
        text = path.read_text()
        assert "/home/alice" not in text and str(tmp_path) not in text, path
    assert "CIFAR-10 JPEG copy (lossy re-encode, not the official release) (sha256" in paths[0].read_text()


def latex_rows(text: str) -> list[list[str]]:
    """The body rows of every tabular, cells split."""
    rows = []
    for block in re.findall(r"\\midrule\n(.*?)\\bottomrule", text, flags=re.S):
        rows += [line.removesuffix(r" \\").split(" & ") for line in block.strip().splitlines()]
    return rows


def test_latex_tables_cell_by_cell(runs: pd.DataFrame, tmp_path: Path) -> None:
    latex = render_report(FixtureSuite(), runs, tmp_path / "reports")[1]
    text = latex.read_text()
    assert latex.suffix == ".tex"
    assert text.count(r"\toprule") == text.count(r"\bottomrule") == 3  # reproduced, gain over CE, paper + difference
    table = report_table(FixtureSuite(), runs)
    captions = re.findall(r"\\caption\{(.*)\}", text)
    assert captions[0] == table.caption.replace("%", r"\%").replace("±", r"$\pm$")  # the report's one sentence
    assert captions[1] == r"Gain over CE (top-1 accuracy, points) of the methods of Table~\ref{tab:fixture-top1}."
    assert captions[2] == (
        r"Table 1, CIFAR-10 (top-1 \%, as printed) and, in brackets, the reproduced mean minus the paper value "
        "(points), at the epoch the value's source reports (best where it states none; another epoch is named)."
    )
    assert all(caption.count(". ") == 0 for caption in captions)  # one sentence each
    notes = re.findall(r"\\parbox\{\\linewidth\}\{\\footnotesize (.*)\}", text)
    assert notes[0].startswith("Notes. Best epoch: the highest test accuracy over all epochs")
    assert r"Paper values: Table 1, CIFAR-10, as printed, from the CSKD paper" in notes[0]
    assert notes[1] == r"Notes: see Table~\ref{tab:fixture-top1}."
    rows = latex_rows(text)
    reproduced, gain, paper = rows[:2], rows[2:4], rows[4:]
    assert gain[0] == [
        r"R101\_0.5 / R18\_0.25",
        *(f"{statistics.mean(successful((T, S18, m))) - 90.2:+.2f}" for m in ("KD", "FitNet", "CSKD")),
    ]
    assert gain[1][1:] == [f"{92.1 - 91.1:+.2f}", "---", "---"]
    assert reproduced[0][0] == r"R101\_0.5 / R18\_0.25"
    kd = expected_stats(successful((T, S18, "KD")))
    assert reproduced[0][2] == rf"{kd[0]:.2f} $\pm$ {kd[1]:.2f}\,{{\scriptsize(n=2)}}"
    cskd = expected_stats(successful((T, S18, "CSKD")))
    assert reproduced[0][4] == rf"\textbf{{{cskd[0]:.2f} $\pm$ {cskd[1]:.2f}\,{{\scriptsize(n=2)}}}}"
    assert reproduced[1][3:5] == ["---", "failed"]
    assert reproduced[0][5] == r"92.50\,{\scriptsize(n=1)}"
    assert paper[0][4] == rf"\textbf{{91.99}} ({cskd[0] - 91.99:+.2f})"
    assert paper[1][3] == "91.61 (---)"


def test_long_csv_has_every_cell_with_raw_numbers(runs: pd.DataFrame, tmp_path: Path) -> None:
    cells = pd.read_csv(render_report(FixtureSuite(), runs, tmp_path / "reports")[2])
    assert len(cells) == 2 * 5  # 2 pairs x (4 methods + Teacher), top-1 only for Table 1
    kd = cells[(cells["student"] == S18) & (cells["method"] == "KD")].iloc[0]
    mean, std, n = expected_stats(successful((T, S18, "KD")))
    assert (kd["n"], kd["mean"], kd["std"], kd["paper"]) == (n, pytest.approx(mean), pytest.approx(std), 91.01)
    assert kd["diff"] == pytest.approx(mean - 91.01)
    assert (kd["accuracy"], kd["metric"], kd["pair"]) == ("best", "top1", f"{T} / {S18}")
    statuses = dict(zip(cells["student"] + " " + cells["method"], cells["status"], strict=True))
    assert statuses[f"{S34} FitNet"] == "missing"
    assert statuses[f"{S34} CSKD"] == "failed"
    assert statuses[f"{S18} FitNet"] == "ok"
    assert cells.loc[cells["status"] == "missing", "mean"].isna().all()  # never 0


def test_last_epoch_report_has_its_own_files_and_numbers(runs: pd.DataFrame, tmp_path: Path) -> None:
    paths = render_report(FixtureSuite(), runs, tmp_path / "reports", metric="last")
    assert paths[0].name == "fixture-last.md"
    text = paths[0].read_text()
    assert "at the last epoch" in text
    table = markdown_table(text, "## Top-1 accuracy (%), reproduced")
    last = [round(v - 0.3, 2) for v in successful((T, S18, "KD"))]
    assert_stats_cell(table[f"{T} / {S18}"]["KD"], last, bold=False)


def test_profiles_are_never_mixed(tmp_path: Path) -> None:
    quick = [run_row(T, S18, "KD", 0, 80.0, profile="quick", run_id="q1")]
    runs = write_runs(tmp_path / "runs.csv", [*fixture_rows(), *quick])
    with pytest.raises(ReportInputError, match=r"several profiles are present \(full, quick\): choose one"):
        render_report(FixtureSuite(), runs, tmp_path / "reports")
    with pytest.raises(ReportInputError, match=r"no runs of profile 'slow' \(profiles present: full, quick\)"):
        render_report(FixtureSuite(), runs, tmp_path / "reports", profile="slow")
    paths = render_report(FixtureSuite(), runs, tmp_path / "reports", profile="quick")
    assert paths[0].name == "fixture-quick.md"
    text = paths[0].read_text()
    table = markdown_table(text, "## Top-1 accuracy (%), reproduced")
    assert table == {  # the profile runs KD only: its layout, not the full suite's; one seed each: no "(n=1)"
        f"{T} / {S18}": {"KD": "80.00", "Teacher": "—"},
        f"{T} / {S34}": {"KD": "—", "Teacher": "—"},
    }
    assert "Seeds: 0 (the suite declares 0)" in text
    assert "- No gain over CE: this profile does not run it." in text.splitlines()
    assert "gain over" not in text.lower().replace("no gain over ce", "")


def test_runs_of_another_suite_are_refused(runs: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ReportInputError, match=r"belong to suite\(s\) fixture, not other"):
        render_report(FixtureSuite(name="other"), runs, tmp_path / "reports")


# ---------------------------------------------------------------------------------------- suites without a paper

#: Table 4's ablation: column label -> the cskd switches (intra, inter)
ABLATION = {"neither": (False, False), "intra": (True, False), "inter": (False, True), "both": (True, True)}


def ablation_suite() -> FixtureSuite:
    methods = [MethodEntry(label, "cskd", {"intra": a, "inter": b}) for label, (a, b) in ABLATION.items()]
    return FixtureSuite(
        name="ablation", paper_table=None, pairs=[Pair(T, S18)], methods=methods, report=ReportSettings()
    )


def ablation_runs(tmp_path: Path, missing: str = "inter") -> pd.DataFrame:
    values = {"neither": [60.0, 61.0], "intra": [62.0, 62.5], "inter": [63.0], "both": [64.0, 65.0]}
    rows = [run_row("", T, "Teacher", 0, 70.0, suite="ablation")]
    rows += [
        run_row(T, S18, label, seed, top1, suite="ablation")
        for label, seeds in values.items()
        if label != missing
        for seed, top1 in enumerate(seeds)
    ]
    return write_runs(tmp_path / "ablation.csv", rows)


def test_suite_without_paper_has_no_paper_columns(tmp_path: Path) -> None:
    paths = render_report(ablation_suite(), ablation_runs(tmp_path), tmp_path / "reports")
    text = paths[0].read_text()
    assert "## Top-1 accuracy (%): " not in text  # no paper/difference table
    assert "Paper values" not in text and "the paper used" not in text
    assert "gain over" not in text.lower()  # the suite has no CE method: no baseline
    table = markdown_table(text, "## Top-1 accuracy (%), reproduced")
    assert list(table[f"{T} / {S18}"]) == [*ABLATION, "Teacher"]
    assert table[f"{T} / {S18}"]["inter"] == "—"
    assert table[f"{T} / {S18}"]["both"].startswith("**64.50 ± 0.71 (n=2)**")
    assert [p.name for p in paths if p.suffix == ".png"] == ["ablation-ablation.png"]


def test_labels_the_paper_does_not_use_are_named(tmp_path: Path) -> None:
    suite = ablation_suite()
    suite.paper_table = "4"
    table = report_table(suite, ablation_runs(tmp_path))
    assert (
        "The paper's Table 4, Tiny ImageNet does not use the label(s) R101_0.5 "
        "(its labels: R18_0.25, ResNet152): those positions have no paper value." in table.notes
    )
    assert table.cell(Row(T, S18), "both", "top1").paper is None


def test_runs_outside_the_suite_layout_are_shown_after_it(tmp_path: Path) -> None:
    rows = [*fixture_rows(), run_row(T, "R50_0.25", "AB", 0, 91.0), run_row("", "R50_0.25", "CE", 0, 90.0)]
    table = report_table(FixtureSuite(), write_runs(tmp_path / "runs.csv", rows))
    assert table.rows[-1] == Row(T, "R50_0.25")
    assert table.columns == ["CE", "KD", "FitNet", "CSKD", "AB", "Teacher"]
    assert table.cell(Row(T, "R50_0.25"), "CE", "top1").stats.mean == 90.0


def test_every_cell_of_one_seed_says_so_once(tmp_path: Path) -> None:
    rows = [run_row(t, s, m, 0, values[0]) for (t, s, m), values in BEST_TOP1.items() if values[0] is not None]
    paths = render_report(FixtureSuite(seeds=[0]), write_runs(tmp_path / "runs.csv", rows), tmp_path / "reports")
    markdown, latex = (p.read_text() for p in paths[:2])
    assert "n=" not in markdown and "n=" not in latex
    assert "profile full: one seed per cell." in markdown
    table = markdown_table(markdown, "## Top-1 accuracy (%), reproduced")
    assert table[f"{T} / {S18}"]["KD"] == "91.00"
    assert table[f"{T} / {S18}"]["Teacher"] == "92.50"


# ------------------------------------------------------------------------------------------------------- plots


def assert_figure_files(paths: list[Path]) -> None:
    png, pdf = paths
    with Image.open(png) as image:
        image.verify()
        assert image.format == "PNG"
    assert pdf.read_bytes().startswith(b"%PDF")


def test_ablation_is_detected_from_the_method_and_its_arguments_not_the_labels(tmp_path: Path) -> None:
    suite = ablation_suite()
    suite.methods = [  # labels that say nothing; cskd's defaults are both terms on
        MethodEntry("A", "cskd", {"variant": "paper", "intra": False}),
        MethodEntry("B", "cskd", {"variant": "paper"}),
        MethodEntry("intra", "kd", {"form": "mse"}),  # spelled like Table 4's label, but KD
        MethodEntry("C", "fitnet"),
    ]
    table = report_table(suite, write_runs(tmp_path / "runs.csv", []))
    assert table.roles == {"A": "inter", "B": "both", "intra": "kd"}
    assert ablation_columns(table) == ["intra", "A", "B"]
    suite.methods = suite.methods[1:]  # one CSKD variant only: no ablation
    assert ablation_columns(report_table(suite, write_runs(tmp_path / "runs.csv", []))) == []


def test_ablation_figure_shows_ce_and_kd_from_zero_and_paired_differences(tmp_path: Path) -> None:
    suite = ablation_suite()
    suite.methods = [MethodEntry("CE", "ce"), MethodEntry("KD", "kd", {"form": "mse"}), *suite.methods[1:]]
    suite.report = ReportSettings(baseline="CE")
    values = {
        "CE": [60.0, 61.0, 60.5],
        "KD": [62.0, 62.5, 62.0],
        "intra": [62.5, 63.5, 62.0],
        "both": [63.0, 63.8, 63.9],
    }
    rows = [run_row("", T, "Teacher", 0, 70.0, suite="ablation")]
    rows += [
        run_row("" if label == "CE" else T, S18, label, seed, top1, suite="ablation")
        for label, seeds in values.items()
        for seed, top1 in enumerate(seeds)
    ]
    table = report_table(suite, write_runs(tmp_path / "runs.csv", rows))
    figure = ablation_figure(table)
    accuracy, gains = figure.axes
    assert accuracy.get_ylim()[0] == 0  # no axis cut
    ticks = [t.get_text() for t in accuracy.get_xticklabels()]
    assert ticks == ["CE", "KD", "intra\n(intra only)", "inter\n(inter only)", "both\n(both terms)"]
    assert [round(p.get_height(), 2) for p in accuracy.patches] == [60.5, 62.17, 62.67, 63.57]
    texts = [t.get_text() for t in accuracy.texts]
    assert texts == ["60.50", "62.17", "62.67", "missing", "63.57"]  # the means; inter has no run: no bar, never 0
    paper = [line for line in accuracy.lines if line.get_label() == "paper value"]
    assert paper == []  # the suite has no paper table
    assert [t.get_text() for t in gains.get_xticklabels()] == [
        "KD",
        "intra\n(intra only)",
        "inter\n(inter only)",
        "both\n(both terms)",
    ]
    assert "difference to CE" in gains.get_title()
    # KD - CE per seed: 2.0, 1.5, 1.5 -> mean 5/3, std 0.288675, 95% half-width 4.302653 * 0.288675 / sqrt(3)
    assert gains.patches[0].get_height() == pytest.approx(5 / 3)
    errorbars = [c for c in gains.containers if isinstance(c, ErrorbarContainer)]
    low, high = errorbars[0].lines[2][0].get_segments()[0][:, 1]
    assert (low, high) == pytest.approx((5 / 3 - 0.717109, 5 / 3 + 0.717109), abs=1e-5)
    seeds = gains.collections[1].get_offsets()  # the seeds' dots of KD
    assert sorted(np.asarray(seeds)[:, 1].round(4)) == [1.5, 1.5, 2.0]
    paths = render_report(suite, write_runs(tmp_path / "runs.csv", rows), tmp_path / "reports")
    assert_figure_files([p for p in paths if "ablation-ablation" in p.name])


def write_epochs(directory: Path, run_id: str, top1: list[float], init: int = 0) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    rows = [{"epoch": e + 1, "phase": "init", "test_top1": 10.0} for e in range(init)]
    rows += [{"epoch": e + 1, "phase": "main", "test_top1": v} for e, v in enumerate(top1)]
    frame = pd.DataFrame(rows).assign(lr=0.1, train_loss=1.0, train_top1=50.0, test_loss=1.0, test_top5=90.0)
    frame.assign(seconds=1.0, loss_ce=1.0).to_csv(directory / f"{run_id}.csv", index=False)


def test_curves_are_small_multiples_with_the_baseline_in_every_panel_and_one_n(
    runs: pd.DataFrame, tmp_path: Path
) -> None:
    epochs = tmp_path / "results" / "fixture" / "epochs"
    for method in ["CE", "KD", "FitNet"]:
        teacher = "none" if method == "CE" else T
        for seed in (0, 1):
            write_epochs(epochs, f"{teacher}-{S18}-{method}-{seed}", [80.0 + seed, 85.0, 90.0], init=2)
    table = report_table(FixtureSuite(), runs)
    figure = curves_figure(table, Row(T, S18), epochs)
    panels = [ax for ax in figure.axes if ax.axison]
    assert [ax.get_title() for ax in panels] == ["KD", "FitNet"]  # one panel per method; CE in each, not its own
    for ax in panels:
        ce, method, paper = ax.lines[:3]
        assert ce.get_label() == "CE" and ce.get_linestyle() == ":"
        assert ce.get_xdata().tolist() == [1, 2, 3]  # the main phase only
        assert ce.get_ydata().tolist() == [80.5, 85.0, 90.0]
        assert method.get_ydata().tolist() == [80.5, 85.0, 90.0]
        assert paper.get_xdata()[0] == 3.6  # the paper's value, a diamond past the last epoch
    assert panels[0].lines[2].get_ydata()[0] == 91.01 and panels[1].lines[2].get_ydata()[0] == 91.05  # Table 1
    assert [line.get_ydata()[0] for line in panels[0].lines[3:]] == [92.5, 92.91]  # teacher: ours, the paper's
    assert "mean ± std over n=2 seeds" in figure.get_suptitle()  # the number of seeds once, not per line
    assert all(ax.get_legend() is None for ax in panels) and len(figure.legends) == 1  # one legend, the figure's
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert labels == [
        "the panel's method (mean, band ± std)",
        "CE (in every panel)",
        "Teacher R101_0.5: 92.50 (best epoch, n=1)",
        "Teacher R101_0.5, paper: 92.91",
        "paper value",
    ]
    assert curves_figure(table, Row(T, S34), epochs) is None
    paths = render_report(FixtureSuite(), runs, tmp_path / "reports", epochs_dir=epochs)
    curves = [p for p in paths if "curves" in p.name]
    assert [p.name for p in curves] == ["fixture-curves-R101_0.5-R18_0.25.png", "fixture-curves-R101_0.5-R18_0.25.pdf"]
    assert_figure_files(curves)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    legend = figure.legends[0].get_window_extent()
    assert all(legend.y1 <= ax.get_window_extent().y0 for ax in panels)  # below the panels: it hides no line


def test_curves_name_a_teacher_far_above_the_curves_without_squashing_them(runs: pd.DataFrame, tmp_path: Path) -> None:
    epochs = tmp_path / "epochs"
    for method in ["CE", "KD"]:
        write_epochs(epochs, f"{'none' if method == 'CE' else T}-{S18}-{method}-0", [20.0, 30.0, 40.0])
    figure = curves_figure(report_table(FixtureSuite(), runs), Row(T, S18), epochs)
    panel = next(ax for ax in figure.axes if ax.axison)
    assert all(line.get_ydata()[0] < 92 for line in panel.lines)  # no teacher line at 92.5 over curves below 40
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert "Teacher R101_0.5: 92.50 (best epoch, n=1, far above the curves: not drawn)" in labels
    assert "Teacher R101_0.5, paper: 92.91 (not drawn)" in labels
    assert "mean ± std over n=1 seed " in figure.get_suptitle()


def test_paper_difference_heatmap(runs: pd.DataFrame, tmp_path: Path) -> None:
    table = report_table(FixtureSuite(), runs)
    figure = paper_diff_figure(table)
    ax = figure.axes[0]
    numbers = [t.get_text() for t in ax.texts if re.fullmatch(r"[+-]\d+\.\d\d", t.get_text())]
    assert len(numbers) == 10 - 2  # every cell has a paper value; two have no result
    kd = statistics.mean(successful((T, S18, "KD"))) - 91.01
    assert f"{kd:+.2f}" in numbers
    hatched = [p for p in ax.patches if p.get_hatch() == "//"]
    assert len(hatched) == 2
    assert sorted(t.get_text() for t in ax.texts if t.get_text() not in numbers) == ["failed", "missing"]
    image = ax.images[0]
    assert image.norm.vmin == -image.norm.vmax  # centred at 0
    assert "reproduced − paper" in figure.axes[1].get_ylabel()
    assert ax.get_title() == "fixture: reproduced − paper (best epoch, profile full)\nTable 1, CIFAR-10"
    paths = render_report(FixtureSuite(), runs, tmp_path / "reports")
    assert_figure_files([p for p in paths if "paper-diff" in p.name])


def test_reports_index_lists_every_report_and_figure(runs: pd.DataFrame, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    render_report(FixtureSuite(), runs, reports)
    paths = render_report(FixtureSuite(), runs, reports, metric="last")
    index = paths[-1]
    assert index == reports / "README.md"
    lines = [line for line in index.read_text().splitlines() if line.startswith("- ")]
    listed = [re.match(r"- \[([^]]+)\]", line)[1] for line in lines]
    assert listed == [
        "fixture.md",
        "fixture.tex",
        "fixture.csv",
        "fixture-last.md",
        "fixture-last.tex",
        "fixture-last.csv",
        "figures/fixture-last-paper-diff.png",
        "figures/fixture-paper-diff.png",
    ]
    assert lines[0].endswith("fixture: reproduction of Table 1, CIFAR-10 (best epoch, profile full)")
    assert "(figures/fixture-paper-diff.pdf)" in lines[-1]
    assert lines[-1].endswith("fixture: reproduced − Table 1, CIFAR-10 (best epoch, profile full)")
