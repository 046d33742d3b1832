"""The CSV files a result is made of: text stays text, a damaged line is named and skipped, appends are whole lines."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from cskd import csvfiles
from cskd.report.cells import CellTable, read_runs_csv
from cskd.report.errors import ReportInputError
from cskd.report.paper import load_paper_results
from cskd.results import RUN_COLUMNS, append_run_row, latest_rows, read_epochs, read_runs

#: texts pandas reads as missing values by default
NA_TEXTS = ("NA", "nan", "null", "None", "N/A")


def row(run_id: str, **values) -> dict:
    base = {
        "suite": "mini",
        "run_id": run_id,
        "kind": "student",
        "teacher": "T",
        "student": "S",
        "method": "KD",
        "method_args": '{"form": "mse", "note": "a, \\"quoted\\" text"}',
        "profile": "full",
        "seed": 0,
        "best_top1": 50.5,
        "best_top5": 90.0,
        "last_top1": 50.0,
        "last_top5": 89.0,
        "status": "ok",
        "error": "",
    }
    return base | values


def test_text_columns_keep_texts_pandas_would_read_as_missing(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    for i, text in enumerate(NA_TEXTS):
        append_run_row(path, row(f"r{i}", method=text, suite=text, teacher=text, student=text))
    append_run_row(path, row("empty", teacher="", best_top5=None))
    runs = read_runs(path)
    assert list(runs["method"]) == [*NA_TEXTS, "KD"] and list(runs["suite"]) == [*NA_TEXTS, "mini"]
    assert runs.loc[5, "teacher"] == "" and pd.isna(runs.loc[5, "best_top5"])  # only numbers may be missing
    assert runs["best_top1"].dtype == "float64" and runs["seed"].dtype == "int64"
    cells = CellTable(read_runs_csv(path), "best")
    assert {key.method for key in cells.cell_keys()} == {*NA_TEXTS, "KD"}


def test_paper_results_keep_a_method_labelled_na(tmp_path: Path) -> None:
    path = tmp_path / "paper.csv"
    path.write_text(
        "table,dataset,teacher,student,method,metric,value\n1,cifar10,T,S,NA,top1,90.5\n1,cifar10,,S,None,top1,\n"
    )
    frame = load_paper_results(path)
    assert list(frame["method"]) == ["NA", "None"] and list(frame["teacher"]) == ["T", ""]
    assert frame["value"].iloc[0] == 90.5 and pd.isna(frame["value"].iloc[1])


def damaged_file(tmp_path: Path, tail: str) -> Path:
    """Two good rows, then ``tail`` (a partly written row) as the last line."""
    path = tmp_path / "runs.csv"
    append_run_row(path, row("a"))
    append_run_row(path, row("b"))
    with path.open("a", newline="") as stream:
        stream.write(tail)
    return path


def test_a_damaged_last_line_is_named_and_the_other_rows_count(tmp_path: Path, capsys) -> None:
    path = damaged_file(tmp_path, "mini,c,student,cifar10-jpeg,,,T,S,")  # a crash in the middle of an append
    assert list(read_runs(path)["run_id"]) == ["a", "b"]
    assert f"{path}, line 4: 9 fields where the header has {len(RUN_COLUMNS)}" in capsys.readouterr().err
    append_run_row(path, row("d"))  # the next append starts on a line of its own
    assert set(latest_rows(read_runs(path))) == {"a", "b", "d"}


def test_an_unclosed_quote_does_not_swallow_the_rows_after_it(tmp_path: Path, capsys) -> None:
    path = damaged_file(tmp_path, 'mini,c,student,cifar10-jpeg,,,T,S,,"{""name"": ')
    append_run_row(path, row("d"))
    append_run_row(path, row("e"))
    assert list(read_runs(path)["run_id"]) == ["a", "b", "d", "e"]
    assert f"{path}, line 4:" in capsys.readouterr().err


def test_a_non_number_in_a_number_column_is_a_damaged_record(tmp_path: Path, capsys) -> None:
    path = tmp_path / "runs.csv"
    append_run_row(path, row("a", best_top1="high"))
    append_run_row(path, row("b", best_top1="nan"))  # "nan" written for a float NaN is a number
    table = read_runs(path)
    assert list(table["run_id"]) == ["b"] and pd.isna(table["best_top1"].iloc[0])
    assert "line 2: column best_top1: 'high' is not a number" in capsys.readouterr().err


def test_a_reference_must_be_intact(tmp_path: Path) -> None:
    path = damaged_file(tmp_path, "mini,c,student")
    with pytest.raises(ReportInputError, match=r"damaged records; a reference must be intact:\n.*line 4"):
        read_runs_csv(path, intact=True)
    assert len(read_runs_csv(path)) == 2


def test_multiline_quoted_errors_stay_one_record(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    append_run_row(path, row("a", status="failed", error="not found; looked at:\n  - data/x\n  - data/y"))
    append_run_row(path, row("b"))
    runs = read_runs(path)
    assert list(runs["run_id"]) == ["a", "b"] and runs["error"].iloc[0].count("\n") == 2


def test_a_short_write_leaves_no_partial_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "runs.csv"
    append_run_row(path, row("a"))
    before = path.read_bytes()
    real_write = os.write
    monkeypatch.setattr(csvfiles.os, "write", lambda fd, data: real_write(fd, data[: len(data) // 2]))
    with pytest.raises(OSError, match="disk full"):
        append_run_row(path, row("b"))
    assert path.read_bytes() == before


def test_epoch_csv_phase_is_text_and_losses_are_numbers(tmp_path: Path) -> None:
    path = tmp_path / "epochs.csv"
    path.write_text("epoch,phase,lr,train_loss,loss_kd\n1,init,0.1,,0.5\n1,main,0.1,nan,0.25\n")
    epochs = read_epochs(path)
    assert list(epochs["phase"]) == ["init", "main"] and list(epochs["loss_kd"]) == [0.5, 0.25]
    assert epochs["train_loss"].isna().all()
