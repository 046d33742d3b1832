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
from cskd.report.errors import ReportInputError
from cskd.report.paper import PUBLISHED_RESULTS, PaperTable
from cskd.report.tables import source_note

REPO = Path(__file__).resolve().parents[1]
BENCHMARK_MD = REPO / "docs" / "kd-benchmark.md"
CRD = "CRD README (HobbitLong/RepDistiller)"
MDISTILLER = "mdistiller README (DKD, CVPR 2022)"
CRD_PAPER = "CRD paper (Tian et al., ICLR 2020), Tables 1-2, CRD+KD row"
REVIEWKD = "ReviewKD paper (Chen et al., CVPR 2021) and DKD paper (Zhao et al., CVPR 2022), Tables 1-2"
#: the pair of mdistiller's README column "ResNet32x4 / MobileNet-V2", which is ShuffleV2 (issue 19)
MISLABELLED = ("resnet32x4", "MobileNetV2")
CORRECTED = ("resnet32x4", "ShuffleV2")
SAME_ORDER = ["wrn_40_2/wrn_16_2", "wrn_40_2/wrn_40_1", "resnet56/resnet20", "resnet110/resnet20", "resnet110/resnet32"]
SAME_ORDER += ["resnet32x4/resnet8x4", "vgg13/vgg8"]
CROSS_ORDER = ["vgg13/MobileNetV2", "ResNet50/MobileNetV2", "ResNet50/vgg8", "resnet32x4/ShuffleV1"]
CROSS_ORDER += ["resnet32x4/ShuffleV2", "wrn_40_2/ShuffleV1"]
#: the CRD paper's CRD+KD rows (Tables 1-2) and ReviewKD's published values (the ReviewKD paper, Tables 1-2, as the DKD
#: paper's Tables 1-2 reprint them; "—": not published for that pair), in the pair order above
CRD_KD = {
    "crd-same": [75.64, 74.38, 71.63, 71.56, 73.75, 75.46, 74.29],
    "crd-cross": [69.94, 69.54, 74.58, 75.12, 76.05, 76.27],
}
REVIEW_KD = {
    "crd-same": [76.12, 75.09, 71.89, None, 73.89, 75.63, 74.84],
    "crd-cross": [70.37, 69.89, None, 77.45, 77.78, 77.14],
}
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
    "CRD+KD",
    "DKD",
    "ReviewKD",
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


def added_cells() -> list[Cell]:
    """The CRD+KD and ReviewKD rows, which kd-benchmark.md does not list."""
    cells = []
    for table, order in (("crd-same", SAME_ORDER), ("crd-cross", CROSS_ORDER)):
        for method, values, source in (("CRD+KD", CRD_KD, CRD_PAPER), ("ReviewKD", REVIEW_KD, REVIEWKD)):
            for pair, value in zip(order, values[table], strict=True):
                if value is not None:
                    cells.append((table, *pair.split("/"), method, value, source))
    return cells


def test_every_published_number_is_in_the_file_with_its_source() -> None:
    text = benchmark_text()
    expected = document_cells(text, "## Same-architecture pairs", "crd-same")
    expected += document_cells(text, "## Different-architecture pairs", "crd-cross")
    extra = re.search(r"mdistiller also reports DKD on (\w+) -> (\w+): KD ([\d.]+), DKD ([\d.]+)", text)
    # the document copies mdistiller's column "ResNet32x4 / MobileNet-V2", which is resnet32x4 -> ShuffleV2: its KD is
    # the CRD README's KD of that pair (one row, already expected), its DKD the row corrected to ShuffleV2
    assert (extra[1], extra[2]) == MISLABELLED
    assert ("crd-cross", *CORRECTED, "KD", float(extra[3]), CRD) in expected
    expected.append(("crd-cross", *CORRECTED, "DKD", float(extra[4]), MDISTILLER))
    # 16 rows x 7 pairs less FSP's "n/a" and one DKD "—"; 15 rows x 6 pairs less two DKD "—"; the corrected DKD
    assert len(expected) == 16 * 7 - 2 + 15 * 6 - 2 + 1
    expected += added_cells()
    # a teacher or student alone appears once per table, and every copy of it in the document has the same value
    unique = {cell[:4]: cell for cell in expected}
    assert len({cell[:4] + cell[4:] for cell in expected}) == len(unique)
    rows = load_published_results()
    stored = [
        (r.table, r.teacher, r.student, r.method, float(r.value), r.source.split("; ")[0])
        for r in rows.itertuples(index=False)
    ]
    assert sorted(stored) == sorted(unique.values())
    assert len(stored) == 193 - 2 + 1 + 13 + 11


def test_the_mislabelled_mdistiller_column_is_resnet32x4_to_shufflev2_with_its_evidence() -> None:
    rows = load_published_results()
    assert rows[(rows["teacher"] == MISLABELLED[0]) & (rows["student"] == MISLABELLED[1])].empty
    pair = rows[(rows["teacher"] == CORRECTED[0]) & (rows["student"] == CORRECTED[1])].set_index("method")
    assert (pair.loc["DKD", "value"], pair.loc["KD", "value"]) == (77.07, 74.45)
    evidence = pair.loc["DKD", "source"]
    assert evidence.startswith(MDISTILLER + "; printed under ResNet32x4 / MobileNet-V2, corrected to ShuffleV2")
    assert "74.45" in evidence and "res32x4_shuv2" in evidence
    assert pair.loc["KD", "source"].startswith(CRD + "; mdistiller's README reprints it")


def test_every_published_row_carries_its_sources_epoch_rule_and_trial_count() -> None:
    rows = load_published_results()
    rule = {CRD: "last", CRD_PAPER: "last", MDISTILLER: "best", REVIEWKD: "unknown"}
    trials = {CRD: "unknown", CRD_PAPER: "unknown", MDISTILLER: "5", REVIEWKD: "unknown"}
    for r in rows.itertuples(index=False):
        source = r.source.split("; ")[0]
        assert (r.epoch_rule, r.trials) == (rule[source], trials[source]), r


def test_a_published_row_without_its_epoch_rule_is_refused(tmp_path: Path) -> None:
    text = PUBLISHED_RESULTS.read_text().splitlines()
    text[1] = text[1].replace(",last,", ",,")
    broken = tmp_path / "published_results.csv"
    broken.write_text("\n".join(text) + "\n")
    with pytest.raises(ReportInputError, match="every row needs its 'epoch_rule'"):
        load_published_results(broken)


def test_published_file_layout() -> None:
    rows = load_published_results()
    assert list(rows.columns) == [
        *("table", "dataset", "teacher", "student", "method", "metric", "value", "epoch_rule", "trials", "source")
    ]
    assert set(rows["table"]) == {"crd-same", "crd-cross"}
    assert set(rows["dataset"]) == {"cifar100"} and set(rows["metric"]) == {"top1"}
    assert set(rows["method"]) == METHODS
    assert {source.split("; ")[0] for source in rows["source"]} == {CRD, MDISTILLER, CRD_PAPER, REVIEWKD}
    assert set(rows.loc[rows["source"].str.startswith(MDISTILLER), "method"]) == {"DKD"}
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
    assert same.epoch_rule(Row("wrn_40_2", "wrn_16_2").key("DKD"), "top1") == "best"
    assert same.trial_count(Row("wrn_40_2", "wrn_16_2").key("DKD"), "top1") == "5"
    assert same.epoch_rule(Row("wrn_40_2", "wrn_16_2").key("KD"), "top1") == "last"
    assert same.epoch_rule(Row("wrn_40_2", "wrn_16_2").key("ReviewKD"), "top1") == "unknown"
    cross = paper_table("crd-cross")
    assert cross.value(Row("resnet32x4", "MobileNetV2").key("DKD"), "top1") is None
    assert cross.value(Row("resnet32x4", "ShuffleV2").key("DKD"), "top1") == 77.07
    assert cross.value(Row("resnet32x4", "ShuffleV2").key("CRD+KD"), "top1") == 76.05
    assert cross.source(Row("resnet32x4", "ShuffleV2").key("KD"), "top1").startswith(CRD)
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
    heading = (
        f"## Top-1 accuracy (%): {table}, and reproduced − published in brackets, at the epoch each published value's "
        "source reports (best where it states none; another epoch is named)"
    )
    published = markdown_table(text, heading)
    assert published["wrn_40_2 / wrn_16_2"]["DKD"] == "**76.23** (-4.48)"  # DKD the published best; 71.75 - 76.23
    # KD and CE are RepDistiller's last-epoch values: compared with our last-epoch means (the fixture's are 0.3 lower)
    assert published["wrn_40_2 / wrn_16_2"]["KD"] == "74.92 (-4.07, last)"
    assert published["resnet110 / resnet20"]["DKD"] == "—"  # mdistiller prints none for this pair
    assert published["resnet110 / resnet20"]["best: reproduced / published"] == "CSKD / KD"
    assert published["wrn_40_2 / wrn_16_2"]["best: reproduced / published"] == "DKD / DKD"
    assert published["resnet110 / resnet20"]["CE"] == "69.06 (-1.16, last)"
    assert (
        "- Published values: the CRD benchmark's same-architecture pairs, CIFAR-100, as printed, from the "
        "CRD README (HobbitLong/RepDistiller); DKD from the mdistiller README (DKD, CVPR 2022)." in text.splitlines()
    )
    assert "the published values used the official CIFAR-100" in text
    assert (
        "- Epoch rule of each reference value (its source's): CRD README (HobbitLong/RepDistiller): last epoch (number "
        "of runs not stated), compared with our last-epoch mean; mdistiller README (DKD, CVPR 2022): best epoch (mean "
        "of 5 runs), compared with our best-epoch mean." in text.splitlines()
    )
    cells = pd.read_csv(paths[2])
    dkd = cells[(cells["method"] == "DKD") & (cells["student"] == "wrn_16_2")].iloc[0]
    assert (dkd["paper"], dkd["paper_source"]) == (76.23, MDISTILLER)
    assert any(p.name == "kd_cifar100_same-paper-diff.png" for p in paths)  # two rows: a heatmap


def test_a_method_from_two_sources_names_its_pairs(tmp_path: Path) -> None:
    suite = crd_suite()
    suite.paper_table = "crd-cross"
    suite.pairs = [Pair("resnet32x4", "ShuffleV2"), Pair("ResNet50", "vgg8")]
    table = report_table(suite, write_runs(tmp_path / "runs.csv", []))
    note = next(note for note in table.notes if note.startswith("Published values"))
    assert note == (  # sources are cited without their notes (the corrected ShuffleV2 column's evidence)
        "Published values: the CRD benchmark's different-architecture pairs, CIFAR-100, as printed, from the "
        "CRD README (HobbitLong/RepDistiller); DKD from the mdistiller README (DKD, CVPR 2022)."
    )
    rows = [Row("a", "b"), Row("c", "d")]
    values = {(row.key(m), "top1"): 70.0 for row in rows for m in ("KD", "CE")}
    sources = {key: "X" for key in values} | {(rows[1].key("KD"), "top1"): "Y; a note"}
    paper = PaperTable("t", "cifar100", values, sources, published=True)
    positions = [(row, m) for row in rows for m in ("KD", "CE")]
    assert (
        source_note(paper, positions, "top1")
        == "Published values: t, CIFAR-100, as printed, from the X; KD of c / d from the Y."
    )


def test_check_against_the_published_values(crd_runs: pd.DataFrame) -> None:
    result = check(crd_runs, "paper", tolerance=10.0, suite=crd_suite())
    assert result.against == "the published values (the CRD benchmark's same-architecture pairs, CIFAR-100)"
    compared = {cell.name: cell.expected for cell in result.cells}
    assert compared["wrn_40_2 / wrn_16_2 · DKD · top-1"] == 76.23
    assert compared["— / resnet20 · CE · top-1"] == 69.06
    assert "resnet110 / resnet20 · DKD · top-1" not in compared  # no published value: not expected
    assert len(compared) == 2 * 3 - 1 + 2  # CE, KD, DKD of 2 pairs (no DKD for resnet110 / resnet20), 2 teachers
    # the cells with no published value are listed and fail the check, unless a subset was asked for (--partial)
    assert {key.label for key in result.unchecked} >= {"resnet110 / resnet20 · DKD"} and not result.ok
    assert check(crd_runs, "paper", tolerance=10.0, suite=crd_suite(), partial=True).ok
    assert not check(crd_runs, "paper", tolerance=1.0, suite=crd_suite()).ok  # the fixture's values are far off


@pytest.mark.parametrize("metric", ["best", "last"])
def test_check_compares_each_published_value_at_its_sources_epoch_rule(crd_runs: pd.DataFrame, metric: str) -> None:
    result = check(crd_runs, "paper", tolerance=10.0, suite=crd_suite(), metric=metric)
    cells = {cell.name: cell for cell in result.cells}
    kd, dkd = cells["wrn_40_2 / wrn_16_2 · KD · top-1"], cells["wrn_40_2 / wrn_16_2 · DKD · top-1"]
    assert (kd.rule, kd.got.mean) == ("last", pytest.approx((71.3 + 71.0) / 2 - 0.3))  # RepDistiller: last epoch
    assert (dkd.rule, dkd.got.mean) == ("best", pytest.approx((71.9 + 71.6) / 2))  # mdistiller: best epoch
    text = result.render()
    assert check(crd_runs, "published", tolerance=10.0, suite=crd_suite(), metric=metric).cells == result.cells
    header = next(line for line in text.splitlines() if line.startswith("cell"))
    assert "each at its source's epoch rule" in text and header.split() == [
        *("cell", "expected", "got", "epoch", "difference", "result")
    ]
