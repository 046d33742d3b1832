"""``check`` against a reference runs.csv and against the paper, and the ``report`` / ``check`` command lines."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd
import pytest
from test_report import BEST_TOP1, PAPER, S18, S34, FixtureSuite, T, fixture_rows, run_row, write_runs

from cskd.cli import report_command as report_cli
from cskd.report.check import check
from cskd.report.errors import ReportInputError


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cskd")
    subparsers = parser.add_subparsers(dest="command", required=True)
    report_cli.add_report_parser(subparsers)
    report_cli.add_check_parser(subparsers)
    return parser.parse_args(argv)


def shifted(rows: list[dict], key: tuple[str, str, str], points: float) -> list[dict]:
    """The rows with every accuracy of one cell moved by ``points``."""
    columns = ("best_top1", "best_top5", "last_top1", "last_top5")
    return [
        row | {c: row[c] + points for c in columns}
        if (row["teacher"], row["student"], row["method"]) == key and row["status"] == "ok"
        else row
        for row in rows
    ]


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    path = tmp_path / "reference" / "runs.csv"
    write_runs(path, fixture_rows())
    return path


def test_identical_results_pass_every_reference_cell(reference: Path) -> None:
    result = check(pd.read_csv(reference), reference, tolerance=0.01)
    assert result.ok
    # successful cells of the reference: teacher, 2 CE, 3 + 1 distilled (R34 CSKD failed, R34 FitNet absent); x 2
    assert len(result.cells) == 2 * 7
    assert {cell.outcome for cell in result.cells} == {"pass"}
    assert "PASS: all 14 cells within ±0.01 points" in result.render()


def test_a_planted_regression_fails_naming_the_cell(reference: Path, tmp_path: Path) -> None:
    results = write_runs(tmp_path / "runs.csv", shifted(fixture_rows(), (T, S18, "KD"), -1.5))
    result = check(results, reference, tolerance=1.0)
    assert not result.ok
    assert [cell.name for cell in result.failures] == [f"{T} / {S18} · KD · top-1", f"{T} / {S18} · KD · top-5"]
    assert [cell.difference for cell in result.failures] == pytest.approx([-1.5, -1.5])
    text = result.render()
    assert "FAIL: 2 of 14 cells outside ±1.00 points or missing:\n  R101_0.5 / R18_0.25 · KD · top-1 (FAIL)" in text
    row = next(line for line in text.splitlines() if line.startswith(f"{T} / {S18} · KD · top-1 "))
    assert re.split(r"\s{2,}", row) == [f"{T} / {S18} · KD · top-1", "91.20", "89.70 ± 0.28 (n=2)", "-1.50", "FAIL"]
    assert check(results, reference, tolerance=1.5).ok  # a difference equal to the tolerance passes


def test_a_missing_run_is_a_failure(reference: Path, tmp_path: Path) -> None:
    rows = [row for row in fixture_rows() if (row["student"], row["method"]) != (S34, "CE")]
    result = check(write_runs(tmp_path / "runs.csv", rows), reference, tolerance=1.0)
    assert [(cell.name, cell.outcome) for cell in result.failures] == [
        (f"— / {S34} · CE · top-1", "missing"),
        (f"— / {S34} · CE · top-5", "missing"),
    ]
    assert "missing" in result.render()


def test_a_reference_of_other_data_or_another_suite_is_bad_input(reference: Path, tmp_path: Path) -> None:
    other_data = write_runs(tmp_path / "a.csv", [row | {"data_sha256": "0" * 64} for row in fixture_rows()])
    with pytest.raises(ReportInputError, match="computed on other data"):
        check(other_data, reference, tolerance=1.0)
    other_suite = write_runs(tmp_path / "b.csv", [row | {"suite": "other"} for row in fixture_rows()])
    with pytest.raises(
        ReportInputError, match=r"the reference holds suite\(s\) \['fixture'\], the results \['other'\]"
    ):
        check(other_suite, reference, tolerance=1.0)


def on_cifar10(rows: list[dict]) -> list[dict]:
    """The rows as if run on the official CIFAR-10, the data of the paper's Table 1."""
    return [row | {"dataset": "cifar10", "dataset_source": "official CIFAR-10 batches"} for row in rows]


def paper_rows() -> list[dict]:
    """Every declared cell of the fixture suite at exactly the paper's Table 1 value (on the official CIFAR-10)."""
    rows = [run_row("", T, "Teacher", 0, PAPER[(S18, "Teacher")])]
    for (student, method), value in PAPER.items():
        if method != "Teacher":
            rows.append(run_row("" if method == "CE" else T, student, method, 0, value))
    return on_cifar10(rows)


def test_results_equal_to_the_paper_pass_and_the_fixture_fails_on_its_gaps(tmp_path: Path) -> None:
    result = check(write_runs(tmp_path / "paper.csv", paper_rows()), "paper", tolerance=0.0, suite=FixtureSuite())
    assert result.ok
    assert len(result.cells) == 9  # 2 pairs x 4 methods + the shared teacher, top-1 only (Table 1)
    assert result.against == "the paper (Table 1, CIFAR-10)"
    fixture_runs = write_runs(tmp_path / "runs.csv", on_cifar10(fixture_rows()))
    fixture = check(fixture_runs, "paper", tolerance=1.0, suite=FixtureSuite())
    assert [(c.name, c.outcome) for c in fixture.failures] == [
        (f"{T} / {S34} · FitNet · top-1", "missing"),
        (f"{T} / {S34} · CSKD · top-1", "missing"),
    ]
    kd = next(c for c in fixture.cells if c.name == f"{T} / {S34} · KD · top-1")
    assert kd.difference == pytest.approx(sum(BEST_TOP1[(T, S34, "KD")]) / 2 - 91.48)
    assert "official CIFAR-10 batches" in fixture.render()


def test_checking_against_the_paper_needs_a_suite_with_a_paper_table(tmp_path: Path) -> None:
    runs = write_runs(tmp_path / "runs.csv", fixture_rows())
    with pytest.raises(ReportInputError, match="checking against the paper needs the suite"):
        check(runs, "paper", tolerance=1.0)
    with pytest.raises(ReportInputError, match="suite fixture reproduces no paper table"):
        check(runs, "paper", tolerance=1.0, suite=FixtureSuite(paper_table=None))


def test_check_command_exit_codes(reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results_dir = tmp_path / "results" / "fixture"
    write_runs(results_dir / "runs.csv", fixture_rows())
    args = parse(["check", str(results_dir), "--against", str(reference), "--tolerance", "0.5"])
    assert args.func(args) == 0
    assert "PASS" in capsys.readouterr().out

    write_runs(results_dir / "runs.csv", shifted(fixture_rows(), ("", S18, "CE"), 0.8))
    args = parse(["check", str(results_dir / "runs.csv"), "--against", str(reference.parent), "--tolerance", "0.5"])
    assert args.func(args) == 1
    assert f"— / {S18} · CE · top-1 (FAIL)" in capsys.readouterr().out

    args = parse(["check", str(tmp_path / "nowhere"), "--against", str(reference)])
    assert args.func(args) == 2
    assert "no runs.csv at" in capsys.readouterr().err

    args = parse(["check", str(results_dir), "--against", str(reference), "--profile", "quick"])
    assert args.func(args) == 2
    assert "no runs of profile 'quick' (profiles present: full)" in capsys.readouterr().err


def test_check_command_against_the_paper_loads_the_suite_named_in_runs_csv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    loaded = []
    monkeypatch.setattr(report_cli, "_load_suite", lambda name: loaded.append(name) or FixtureSuite())
    write_runs(tmp_path / "runs.csv", paper_rows())
    args = parse(["check", str(tmp_path / "runs.csv"), "--against", "paper", "--tolerance", "0"])
    assert args.func(args) == 0
    assert loaded == ["fixture"]
    assert "PASS: all 9 cells" in capsys.readouterr().out


def test_report_command_writes_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(report_cli, "_load_suite", lambda name, overrides=None: FixtureSuite(name=name))
    write_runs(tmp_path / "results" / "fixture" / "runs.csv", fixture_rows())
    common = ["--results-dir", str(tmp_path / "results"), "--reports-dir", str(tmp_path / "reports")]
    args = parse(["report", "fixture", *common, "--metric", "last"])
    assert args.func(args) == 0
    assert (tmp_path / "reports" / "fixture-last.md").is_file()
    assert str(tmp_path / "reports" / "README.md") in capsys.readouterr().out.splitlines()
    args = parse(["report", "fixture", *common, "--profile", "quick"])
    assert args.func(args) == 2
    args = parse(["report", "nothing-run", *common])
    assert args.func(args) == 2
    assert "no runs.csv at" in capsys.readouterr().err


def test_help_texts_explain_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    for command, phrase in [("check", "Exit status: 0 all cells within"), ("report", "mean ± sample std (n=seeds)")]:
        with pytest.raises(SystemExit) as exit_info:
            parse([command, "--help"])
        assert exit_info.value.code == 0
        out = " ".join(capsys.readouterr().out.split())
        assert phrase in out
        assert "--metric {best,last}" in out and "--profile NAME" in out


def test_against_the_paper_only_the_paper_setting_is_compared(tmp_path: Path) -> None:
    quick = write_runs(tmp_path / "quick.csv", on_cifar10([run_row(T, S18, "KD", 0, 91.01, profile="quick")]))
    with pytest.raises(ReportInputError, match=r"profile 'quick'.*not comparable with the paper's.*reference runs.csv"):
        check(quick, "paper", tolerance=1.0, suite=FixtureSuite())
    jpeg = write_runs(tmp_path / "jpeg.csv", fixture_rows())  # the fixture's runs are on the CIFAR-10 JPEG copy
    with pytest.raises(ReportInputError, match=r"on cifar10-jpeg, Table 1, CIFAR-10 on cifar10.*not comparable"):
        check(jpeg, "paper", tolerance=1.0, suite=FixtureSuite())


def test_check_command_refuses_cpu_scale_runs_against_the_paper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(report_cli, "_load_suite", lambda name: FixtureSuite())
    write_runs(tmp_path / "runs.csv", fixture_rows())
    args = parse(["check", str(tmp_path / "runs.csv"), "--against", "paper"])
    assert args.func(args) == 2
    captured = capsys.readouterr()
    assert "FAIL" not in captured.out and "not comparable with the paper's" in captured.err


def test_a_reference_of_non_numbers_is_bad_input(reference: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad" / "runs.csv"
    write_runs(bad, [row | {"best_top1": "n/a"} for row in fixture_rows()])
    with pytest.raises(ReportInputError, match=r"damaged records; a reference must be intact:\n.*column best_top1"):
        check(pd.read_csv(reference), bad, tolerance=1.0)


def test_a_reference_missing_an_accuracy_is_bad_input(reference: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad" / "runs.csv"
    write_runs(bad, [row | {"best_top1": None} for row in fixture_rows()])
    with pytest.raises(ReportInputError, match="column best_top1 holds no number for 13 successful run"):
        check(pd.read_csv(reference), bad, tolerance=1.0)


def test_a_header_only_reference_is_bad_input(reference: Path, tmp_path: Path) -> None:
    empty = write_runs(tmp_path / "empty" / "runs.csv", [])
    assert empty.empty
    with pytest.raises(ReportInputError, match="the reference holds no runs"):
        check(pd.read_csv(reference), tmp_path / "empty" / "runs.csv", tolerance=1.0)


def test_results_without_any_expected_cell_compare_nothing_and_fail(reference: Path, tmp_path: Path) -> None:
    others = [row | {"student": "R50_0.25"} for row in fixture_rows()]
    result = check(write_runs(tmp_path / "runs.csv", others), reference, tolerance=1.0)
    assert not result.ok and not result.compared
    assert "FAIL: nothing was compared: none of the 14 expected cells" in result.render()
