"""The command line as a user meets it: fast help, one rule for where results live, consistent option lists."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cskd.cli import main

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "timm", "pandas", "matplotlib", "numpy", "PIL", "yaml", "tabulate")


def test_help_and_version_import_no_heavy_library():
    """``cskd --help`` answers at once: building the parser and printing any help imports none of the heavy libraries
    (each command imports them when it runs). Checked in a fresh interpreter, by module, not by a wall-clock time."""
    script = (
        "import sys\n"
        "from cskd.cli import main\n"
        "for argv in (['--help'], ['--version'], ['list', '--help'], ['train', '--help'], ['run', '--help'],\n"
        "             ['report', '--help'], ['check', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print('IMPORTED', sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert "cskd 0.1.0" in result.stdout and "--teacher-width-multiplier" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "IMPORTED []"


#: the libraries a planning command must not import (issue 18: they cost seconds of start-up; cskd.method_index,
#: cskd.model_facts and the lazy cskd.data package answer what planning needs of them)
TRAINING_ONLY = ("torch", "timm", "torchvision")


@pytest.mark.parametrize(
    "argv",
    [
        ["list", "suites"],
        ["status", "quick"],
        ["status", "ci", "--results-dir", str(REPO / "reference" / "results")],  # rows, epoch CSVs, checkpoints
        ["run", "table1", "--dry-run"],  # every method built (the table of builds), costed, learned rates
        ["run", "quick", "--dry-run", "--results-dir", str(REPO / "reference" / "results"), "--executor", "slurm"],
    ],
    ids=["list-suites", "status", "status-with-results", "dry-run", "dry-run-with-results"],
)
def test_planning_commands_import_no_torch(argv, tmp_path):
    """The planning commands answer without torch: run in a fresh interpreter, which then holds none of them."""
    script = (
        "import sys\n"
        "from cskd.cli import main\n"
        f"code = main({argv!r})\n"
        f"print('IMPORTED', code, sorted(m for m in {TRAINING_ONLY!r} if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "CSKD_DATA": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "IMPORTED 0 []"


def test_option_lists_named_for_help_agree_with_the_code():
    from cskd.cli import report_command as report_cli
    from cskd.cli.arguments import ONLY_KEYS
    from cskd.plan import FILTER_KEYS
    from cskd.report import cells

    assert ONLY_KEYS == FILTER_KEYS and report_cli.EPOCH_RULES == cells.EPOCH_RULES


@pytest.fixture
def ci_results(tmp_path: Path) -> Path:
    """A results folder holding the committed CI reference runs, as if trained here."""
    folder = tmp_path / "elsewhere" / "ci"
    folder.mkdir(parents=True)
    shutil.copy(REPO / "reference" / "results" / "ci" / "runs.csv", folder / "runs.csv")
    return folder.parent


def test_run_and_report_find_results_by_one_rule(ci_results, tmp_path, monkeypatch, capsys):
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    monkeypatch.delenv("CSKD_RESULTS", raising=False)
    shutil.copytree(ci_results, workdir / "results")  # ./results, relative to the working directory
    assert main(["run", "ci", "--dry-run"]) == 0
    assert "6 runs (6 done, 0 to do)" in capsys.readouterr().out.splitlines()
    shutil.rmtree(workdir / "results")
    monkeypatch.setenv("CSKD_RESULTS", str(ci_results))  # then $CSKD_RESULTS, for every command
    assert main(["run", "ci", "--dry-run"]) == 0
    assert "6 runs (6 done, 0 to do)" in capsys.readouterr().out.splitlines()
    assert main(["report", "ci"]) == 0
    assert (workdir / "reports" / "ci.md").is_file()  # reports: ./reports
    assert main(["run", "ci", "--dry-run", "--results-dir", str(tmp_path / "empty")]) == 0  # the flag wins
    assert "6 runs (0 done, 6 to do)" in capsys.readouterr().out.splitlines()


def test_engine_options_are_one_value_with_deterministic_and_the_engine_applies_its_flags(monkeypatch):
    import dataclasses

    import torch

    from cskd.cli.arguments import engine_options
    from cskd.cli.main import build_parser
    from cskd.engine.trainer import apply_global_flags

    argv = ["train", "--model", "cifar_resnet8", "--dataset", "cifar10", "--device", "cpu", "--deterministic"]
    options = engine_options(build_parser().parse_args(argv), seed=3)
    assert options.deterministic and options.seed == 3 and options.device == torch.device("cpu")
    calls = []
    monkeypatch.setattr(torch, "use_deterministic_algorithms", calls.append)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", True)
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    apply_global_flags(dataclasses.replace(options, deterministic=False))
    assert calls == [] and torch.backends.cudnn.benchmark  # building the options set nothing; neither does this
    apply_global_flags(options)
    assert calls == [True] and not torch.backends.cudnn.benchmark
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
