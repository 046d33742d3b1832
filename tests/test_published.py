"""benchmarks/published_results.csv against docs/kd-benchmark.md (every number, parsed from the document here), and
the reports and checks of suites that name one of its tables (``paper_table: crd-same`` / ``crd-cross``)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from test_report import FixtureSuite, MethodEntry, Pair, ReportSettings, markdown_table, run_row, write_runs

from cskd.report import load_published_results, paper_table, render_report, report_table
from cskd.report.cells import Row
from cskd.report.check import check
from cskd.report.paper import PUBLISHED_RESULTS

REPO = Path(__file__).resolve().parents[1]
BENCHMARK_MD = REPO / "docs" / "kd-benchmark.md"
CRD = "CRD README (HobbitLong/RepDistiller)"
MDISTILLER = "mdistiller README (DKD, CVPR 2022)"
#: the benchmark's column spellings that differ from the model labels
SPELLING = {"wrn40_2": "wrn_40_2", "wrn16_2": "wrn_16_2", "wrn40_1": "wrn_40_1"}
METHODS = {
    "CE",
    "KD",
    "FitNet",
    "AT",
    "SP",
    "CC",
    "VID",
    "RKD",
    "PKT",
    "AB",
    "FT",
    "FSP",
    "NST",
    "CRD",
    "DKD",
    "Teacher",
}
Cell = tuple[str, str, str, str, float, str]  # table, teacher, student, method, value, source


def benchmark_text() -> str:
    return BENCHMARK_MD.read_text()


def document_cells(text: str, heading: str, table: str) -> list[Cell]:
    """Every number of one of the document's tables, in the cell convention of runs.csv."""
    lines = text.split(heading, 1)[1].strip().split("\n\n", 1)[0].splitlines()
    pairs = [
        tuple(SPELLING.get(label, label) for label in column.strip().split("/"))
        for column in lines[0].strip().strip("|").split("|")[1:]
    ]
    cells = []
    for line in lines[2:]:
        name, *values = (value.strip() for value in line.strip().strip("|").split("|"))
        method = {"Student": "CE", "DKD (mdistiller)": "DKD"}.get(name, name)
        source = MDISTILLER if name.startswith("DKD") else CRD
        for (teacher, student), value in zip(pairs, values, strict=True):
            if value in ("n/a", "—"):
                continue
            key = {"Teacher": ("", teacher), "CE": ("", student)}.get(method, (teacher, student))
            cells.append((table, *key, method, float(value), source))
    return cells


def test_every_published_number_is_in_the_file_with_its_source() -> None:
    text = benchmark_text()
    expected = document_cells(text, "## Same-architecture pairs", "crd-same")
    expected += document_cells(text, "## Different-architecture pairs", "crd-cross")
    extra = re.search(r"mdistiller also reports DKD on (\w+) -> (\w+): KD ([\d.]+), DKD ([\d.]+)", text)
    expected += [
        ("crd-cross", extra[1], extra[2], "KD", float(extra[3]), MDISTILLER),
        ("crd-cross", extra[1], extra[2], "DKD", float(extra[4]), MDISTILLER),
    ]
    # 16 rows x 7 pairs less FSP's "n/a" and one DKD "—"; 15 rows x 6 pairs less two DKD "—"; the extra pair's two
    assert len(expected) == 16 * 7 - 2 + 15 * 6 - 2 + 2
    # a teacher or student alone appears once per table, and every copy of it in the document has the same value
    unique = {cell[:4]: cell for cell in expected}
    assert len({cell[:4] + cell[4:] for cell in expected}) == len(unique)
    rows = load_published_results()
    stored = [(r.table, r.teacher, r.student, r.method, float(r.value), r.source) for r in rows.itertuples(index=False)]
    assert sorted(stored) == sorted(unique.values())
    assert len(stored) == 193


def test_published_file_layout() -> None:
    rows = load_published_results()
    assert list(rows.columns) == ["table", "dataset", "teacher", "student", "method", "metric", "value", "source"]
    assert set(rows["table"]) == {"crd-same", "crd-cross"}
    assert set(rows["dataset"]) == {"cifar100"} and set(rows["metric"]) == {"top1"}
    assert set(rows["method"]) == METHODS
    assert set(rows["source"]) == {CRD, MDISTILLER}
    assert set(rows.loc[rows["source"] == MDISTILLER, "method"]) == {"DKD", "KD"}
    assert not rows.duplicated(["table", "teacher", "student", "method", "metric"]).any()
    assert (rows.loc[rows["method"].isin(["CE", "Teacher"]), "teacher"] == "").all()
    labels = set(rows["teacher"]) | set(rows["student"])
    assert labels == {
        "",
        *("wrn_40_2", "wrn_16_2", "wrn_40_1", "resnet56", "resnet20", "resnet110", "resnet32"),
        *("resnet32x4", "resnet8x4", "vgg13", "vgg8", "MobileNetV2", "ResNet50", "ShuffleV1", "ShuffleV2"),
    }
    assert PUBLISHED_RESULTS.name == "published_results.csv"


def test_published_tables_are_looked_up_like_the_papers() -> None:
    same = paper_table("crd-same")
    assert same.published and same.noun == "published"
    assert same.title == "the CRD benchmark's same-architecture pairs, CIFAR-100"
    assert same.value(Row("wrn_40_2", "wrn_16_2").key("DKD"), "top1") == 76.23
    assert same.source(Row("wrn_40_2", "wrn_16_2").key("DKD"), "top1") == MDISTILLER
    assert same.value(Row("resnet110", "resnet20").key("DKD"), "top1") is None  # "—"
    assert same.value(Row("wrn_40_2", "wrn_40_1").key("FSP"), "top1") is None  # "n/a"
    assert same.value(Row("wrn_40_2", "wrn_40_1").key("CE"), "top1") == 71.98  # the "Student" row
    assert same.value(Row("resnet110", "resnet32").key("Teacher"), "top1") == 74.31
    cross = paper_table("crd-cross")
    assert cross.source(Row("resnet32x4", "MobileNetV2").key("KD"), "top1") == MDISTILLER
    assert cross.value(Row("resnet32x4", "MobileNetV2").key("DKD"), "top1") == 77.07
    assert cross.source(Row("resnet32x4", "ShuffleV2").key("KD"), "top1") == CRD
    assert (
        paper_table("1").source(Row("R101_0.5", "R18_0.25").key("KD"), "top1") == "CSKD paper (Chen et al., ECCV 2020)"
    )


# ---------------------------------------------------------------------------------- a CPU profile of crd-same

PAIRS = [Pair("wrn_40_2", "wrn_16_2"), Pair("resnet110", "resnet20")]
#: (teacher, student, method) -> best top-1 of seeds 0 and 1, CPU scale on the CIFAR-10 JPEG copy
RESULTS = {
    ("", "wrn_40_2", "Teacher"): [78.2],
    ("", "resnet110", "Teacher"): [77.5],
    ("", "wrn_16_2", "CE"): [70.1, 70.5],
    ("", "resnet20", "CE"): [68.0, 68.4],
    ("wrn_40_2", "wrn_16_2", "KD"): [71.3, 71.0],
    ("wrn_40_2", "wrn_16_2", "DKD"): [71.9, 71.6],
    ("wrn_40_2", "wrn_16_2", "CSKD"): [71.5, 71.4],
    ("resnet110", "resnet20", "KD"): [69.2, 69.5],
    ("resnet110", "resnet20", "DKD"): [69.0, 69.1],
    ("resnet110", "resnet20", "CSKD"): [69.6, 69.3],
}


def crd_suite() -> FixtureSuite:
    methods = [MethodEntry("CE", "ce"), MethodEntry("KD", "kd"), MethodEntry("DKD", "dkd"), MethodEntry("CSKD", "cskd")]
    return FixtureSuite(
        name="kd_cifar100_same",
        paper_table="crd-same",
        pairs=list(PAIRS),
        methods=methods,
        report=ReportSettings(baseline="CE", paired=(("CSKD", "KD"),)),
    )


@pytest.fixture
def crd_runs(tmp_path: Path) -> pd.DataFrame:
    rows = [
        run_row(teacher, student, method, seed, top1, suite="kd_cifar100_same", dataset="cifar100")
        for (teacher, student, method), values in RESULTS.items()
        for seed, top1 in enumerate(values)
    ]
    return write_runs(tmp_path / "runs.csv", rows)


def test_report_renders_ours_beside_the_published_values_with_their_sources(
    crd_runs: pd.DataFrame, tmp_path: Path
) -> None:
    paths = render_report(crd_suite(), crd_runs, tmp_path / "reports")
    text = paths[0].read_text()
    assert text.startswith(
        "# kd_cifar100_same: reproduction of the CRD benchmark's same-architecture pairs, CIFAR-100 (best epoch"
    )
    table = "the CRD benchmark's same-architecture pairs, CIFAR-100"
    heading = f"## Top-1 accuracy (%): {table}, and reproduced − published in brackets"
    published = markdown_table(text, heading)
    assert published["wrn_40_2 / wrn_16_2"]["DKD"] == "**76.23** (-4.48)"  # DKD the published best; 71.75 - 76.23
    assert published["wrn_40_2 / wrn_16_2"]["KD"] == "74.92 (-3.77)"
    assert published["resnet110 / resnet20"]["DKD"] == "—"  # mdistiller prints none for this pair
    assert published["resnet110 / resnet20"]["best: reproduced / published"] == "CSKD / KD"
    assert published["wrn_40_2 / wrn_16_2"]["best: reproduced / published"] == "DKD / DKD"
    assert published["resnet110 / resnet20"]["CE"] == "69.06 (-0.86)"
    assert (
        "- Published values: the CRD benchmark's same-architecture pairs, CIFAR-100, as printed, from the "
        "CRD README (HobbitLong/RepDistiller); DKD from the mdistiller README (DKD, CVPR 2022)." in text.splitlines()
    )
    assert "the published values used the official CIFAR-100" in text
    cells = pd.read_csv(paths[2])
    dkd = cells[(cells["method"] == "DKD") & (cells["student"] == "wrn_16_2")].iloc[0]
    assert (dkd["paper"], dkd["paper_source"]) == (76.23, MDISTILLER)
    assert any(p.name == "kd_cifar100_same-paper-diff.png" for p in paths)  # two rows: a heatmap


def test_a_method_from_two_sources_names_its_pairs(tmp_path: Path) -> None:
    suite = crd_suite()
    suite.paper_table = "crd-cross"
    suite.pairs = [Pair("resnet32x4", "MobileNetV2"), Pair("resnet32x4", "ShuffleV2")]
    table = report_table(suite, write_runs(tmp_path / "runs.csv", []))
    note = next(note for note in table.notes if note.startswith("Published values"))
    assert note == (  # KD of the extra pair is mdistiller's, KD of the other CRD's; mdistiller has no DKD for ShuffleV2
        "Published values: the CRD benchmark's different-architecture pairs, CIFAR-100, as printed, from the "
        "CRD README (HobbitLong/RepDistiller); KD of resnet32x4 / MobileNetV2, DKD from the mdistiller README "
        "(DKD, CVPR 2022)."
    )


def test_check_against_the_published_values(crd_runs: pd.DataFrame) -> None:
    result = check(crd_runs, "paper", tolerance=10.0, suite=crd_suite())
    assert result.against == "the published values (the CRD benchmark's same-architecture pairs, CIFAR-100)"
    compared = {cell.name: cell.expected for cell in result.cells}
    assert compared["wrn_40_2 / wrn_16_2 · DKD · top-1"] == 76.23
    assert compared["— / resnet20 · CE · top-1"] == 69.06
    assert "resnet110 / resnet20 · DKD · top-1" not in compared  # no published value: not expected
    assert len(compared) == 2 * 3 - 1 + 2  # CE, KD, DKD of 2 pairs (no DKD for resnet110 / resnet20), 2 teachers
    assert result.ok
    assert not check(crd_runs, "paper", tolerance=1.0, suite=crd_suite()).ok  # the fixture's values are far off
