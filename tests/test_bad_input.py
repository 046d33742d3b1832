"""Bad input is refused with one clear line before anything trains (issue 22): suite names and run ids that would
reach outside their folder, values out of bounds, YAML that is too large, repeats a key or is not UTF-8."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from test_suite import VALID, error_of, write_suite

from cskd.cli import main
from cskd.results import RUN_COLUMNS, append_run_row, read_runs

HUGE = 1180591620717411303424  # 2**70


def run_fails(capsys, *argv: str) -> str:
    """``cskd ARGV`` exits 2 with one error line; that line."""
    assert main([*argv, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("name", ["../../escape", "a/b", ".", "..", "", "/tmp/abs", ".hidden", "x" * 101])
def test_a_suite_name_that_is_not_one_folder_name_is_refused(tmp_path, capsys, name):
    path = write_suite(tmp_path, {"name": name})
    assert "tiny.yaml: name: must be 1 to 100 letters" in error_of(path)
    results = tmp_path / "deep" / "er" / "results"
    run_fails(capsys, "run", str(path), "--dry-run", "--results-dir", str(results))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.yaml"]  # nothing written anywhere


def test_suite_names_cskd_ships_are_accepted(tmp_path):
    for name in ("table1", "kd_cifar100_same", "readme_cifar10", "ci-2.0+x"):
        assert error_of_or_none(write_suite(tmp_path, {"name": name})) is None


def error_of_or_none(path: Path) -> str | None:
    from cskd.suite import SuiteError, load_suite

    try:
        load_suite(path)
    except SuiteError as error:
        return str(error)
    return None


@pytest.mark.parametrize(
    ("changes", "key", "problem"),
    [
        ({"seeds": [HUGE]}, "seeds", "a seed must be between 0 and 2**63-1"),
        ({"seeds": [-1]}, "seeds", "a seed must be between 0 and 2**63-1"),
        ({"teacher_seed": 2**63}, "teacher_seed", "a seed must be between 0 and 2**63-1"),
        ({"recipe": {"epochs": 10**12, "milestones": []}}, "recipe.epochs", "must be between 1 and 10000"),
        ({"recipe": {"epochs": 1, "milestones": [5]}}, "recipe.milestones", "must be at most epochs (1)"),
        ({"recipe": {"epochs": 3, "milestones": [1, 1]}}, "recipe.milestones", "must be increasing"),
        ({"recipe": {"epochs": 3, "batch_size": 10**9, "milestones": []}}, "recipe.batch_size", "between 1 and"),
        (
            {
                "models": {
                    "T": "cifar_resnet18_w0_25",
                    "S": {"model": "cifar_resnet18_w0_25", "kwargs": {"width_multiplier": 1000}},
                }
            },
            "models.S.kwargs.width_multiplier",
            "must be a number > 0 and <= 16, got 1000",
        ),
        (
            {"profiles": {"q": {"width_multiplier": 1000.0}}},
            "profiles.q.width_multiplier",
            "must be a number > 0 and <= 16",
        ),
        ({"profiles": {"q": {"seeds": [HUGE]}}}, "profiles.q.seeds", "a seed must be between 0 and 2**63-1"),
        ({"profiles": {"q": {"epochs": 10**12}}}, "profiles.q.epochs", "must be between 1 and 10000"),
        (
            {"methods": {"KD": {"method": "kd"}, "KD2": {"method": "kd"}, "CE": "ce"}},
            "methods.KD2",
            "the same configuration as methods.KD",
        ),
        (
            {"methods": {"KD": {"method": "kd"}, "KD4": {"method": "kd", "args": {"temperature": 4.0}}}},
            "methods.KD4",
            "the same configuration as methods.KD",  # 4 is kd's default temperature
        ),
    ],
)
def test_values_out_of_bounds_are_refused_with_the_key(tmp_path, capsys, changes, key, problem):
    message = error_of(write_suite(tmp_path, changes))
    assert f"tiny.yaml: {key}: " in message and problem in message
    assert len(message) < 400  # no huge value materialised
    err = run_fails(capsys, "run", str(tmp_path / "tiny.yaml"), "--dry-run", "--results-dir", str(tmp_path))
    assert problem in err


def test_seeds_on_the_command_line_are_bounded(tmp_path, capsys):
    path = write_suite(tmp_path, {})
    with pytest.raises(SystemExit) as caught:
        main(["run", str(path), "--dry-run", "--seeds", str(HUGE)])
    assert caught.value.code == 2 and "a seed must be between 0 and 2**63-1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--model", "cifar_resnet18_w0_25", "--seed", "-3"])
    assert "a seed must be between 0 and 2**63-1" in capsys.readouterr().err


def test_a_batch_larger_than_the_subset_and_a_subset_smaller_than_the_classes_are_refused(
    tmp_path, capsys, subset_data_dir
):
    common = ("--results-dir", str(tmp_path), "--data-dir", str(subset_data_dir), "--device", "cpu")
    recipe = {"epochs": 1, "batch_size": 64, "milestones": []}
    path = write_suite(tmp_path, {"train_subset": 50, "test_subset": 50, "recipe": recipe})
    assert "recipe.batch_size: 64 is more than the 50 training images" in run_fails(capsys, "run", str(path), *common)
    path = write_suite(tmp_path, {"train_subset": 5, "test_subset": 50, "recipe": {**recipe, "batch_size": 5}})
    err = run_fails(capsys, "run", str(path), *common)
    assert "5 training images cannot hold one of each of the 10 classes: use at least 10" in err
    assert not (tmp_path / "tiny").exists()  # nothing trained


def test_yaml_duplicate_keys_are_refused_with_both_lines(tmp_path):
    path = tmp_path / "tiny.yaml"
    text = yaml.safe_dump(VALID, sort_keys=False)
    path.write_text(text + "seeds: [1]\n")
    message = error_of(path)
    assert "found the key 'seeds' twice (first on line" in message and "keep one" in message
    path.write_text(text.replace("methods:\n", "methods:\n  KD: {method: ce}\n"))
    assert "found the key 'KD' twice" in error_of(path)


def test_a_suite_file_too_large_an_alias_bomb_and_latin_1_are_refused(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(VALID) + "description: '" + "x" * (2 << 20) + "'\n")
    assert "is larger than 1048576 bytes" in error_of(path)
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    path.write_text("\n".join(lines) + "\n")
    assert "expands to more than" in error_of(path)
    path.write_bytes(yaml.safe_dump(VALID).encode() + "description: caf\u00e9\n".encode("latin-1"))
    assert "byte 0xe9 is not UTF-8: save the file as UTF-8" in error_of(path)


def test_a_suite_path_that_is_a_directory_is_one_line(tmp_path, capsys):
    folder = tmp_path / "dir.yaml"
    folder.mkdir()
    assert "is a directory, not a suite file" in run_fails(capsys, "run", str(folder), "--dry-run")


def row(run_id: str, seed: int | str = 0) -> dict:
    values = dict.fromkeys(RUN_COLUMNS, "")
    return values | {"run_id": run_id, "seed": seed, "suite": "tiny", "status": "ok", "best_top1": 50.0}


def test_rows_with_a_path_for_run_id_or_an_impossible_seed_are_ignored_not_fatal(tmp_path, capsys):
    path = tmp_path / "runs.csv"
    append_run_row(path, row("0123456789abcdef"))
    append_run_row(path, row("../../../x"))
    with path.open("a", newline="") as stream:  # a huge seed, as an old version let through
        csv.writer(stream).writerow(row("fedcba9876543210", HUGE).values())
    runs = read_runs(path)
    assert list(runs["run_id"]) == ["0123456789abcdef"] and runs["seed"].dtype == "int64"
    err = capsys.readouterr().err
    assert "'../../../x' is not a run id" in err and "is not a seed between 0 and 2**63-1" in err


def test_report_reads_no_epoch_file_outside_the_results_folder(tmp_path, capsys):
    from test_report import FixtureSuite, fixture_rows, write_epochs

    from cskd.report.cells import read_runs_csv
    from cskd.report.render import render_report

    results = tmp_path / "results" / "fixture"
    rows = fixture_rows()
    for item in rows:
        append_run_row(results / "runs.csv", item)
    forged = rows[-1] | {"run_id": "../../../outside"}  # the same cell again, its epochs from elsewhere
    append_run_row(results / "runs.csv", forged)
    write_epochs(tmp_path, "outside", [99.0, 99.0, 99.0])
    runs = read_runs_csv(results / "runs.csv")
    assert len(runs) == len(rows) and "../../../outside" not in set(runs["run_id"])
    assert "is not a run id" in capsys.readouterr().err
    render_report(FixtureSuite(), runs, tmp_path / "reports", epochs_dir=results / "epochs")


def test_train_refuses_an_unknown_model_with_close_names_before_loading_data(tmp_path, capsys):
    common = ("--dataset", "cifar10-jpeg", "--data-dir", str(tmp_path / "no-data"), "--out", str(tmp_path / "out"))
    err = run_fails(capsys, "train", "--model", "cifar_resnet18_w0_2", *common)
    assert "--model: unknown model 'cifar_resnet18_w0_2' (closest: cifar_resnet18_w0_25" in err
    err = run_fails(capsys, "train", "--model", "cifar_resnet18_w0_25", "--teacher-model", "resnet8", *common)
    assert "--teacher-model: unknown model 'resnet8'" in err
    assert not (tmp_path / "out").exists()
