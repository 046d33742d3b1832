"""benchmarks/bad_input_sweep.py, its cases that need no model training or data (issue 22): every bad input is
refused with its exit status and an error line; no traceback, no silent exit 0, no PASS, no pickled code run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bad_input_sweep.py"


def load_sweep():
    spec = importlib.util.spec_from_file_location("bad_input_sweep", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_fast_part_of_the_bad_input_sweep_refuses_every_case(subset_data_dir):
    sweep = load_sweep()
    fast = [case for case in sweep.cases(str(subset_data_dir)) if not case.slow]
    lines: list[str] = []
    outcomes = sweep.sweep(fast, lines.append)
    assert len(outcomes) >= 50
    failed = [line for line, (_, outcome) in zip(lines, outcomes, strict=True) if outcome.problem]
    assert not failed, "\n".join(failed)


def test_the_sweep_catches_what_it_looks_for(tmp_path):
    sweep = load_sweep()
    accepted = sweep.Case("a valid suite", sweep.dry_run())  # exit 0: what the sweep must call silent acceptance
    traceback = sweep.Case("no such command", lambda work: ["run", "--dry-run", object()])
    false_pass = sweep.Case("a check that passes", sweep.check_against(lambda work, runs: runs))
    outcomes = [sweep.run_case(case, tmp_path) for case in (accepted, traceback, false_pass)]
    assert [outcome.problem for outcome in outcomes] == ["accepted: exit 0", "traceback", "false PASS"]
