"""A broad sweep of bad input through the CLI (issue 22): every case must be refused with a clear error.

Each case runs ``cskd`` in this process (``cskd.cli.main``) on a file or option a careless or hostile user could give:
malformed suites, unknown names with close ones, bad ``--set`` overrides, escaping names, out-of-bound numbers, empty
and binary files, corrupt, truncated and pickled checkpoints, damaged results, a missing data folder, ``check``
against a missing or partial reference. A case fails when the command raises (a traceback), exits 0 (bad input
accepted in silence), prints PASS, prints no error line, or runs the code of a pickled checkpoint.

    python benchmarks/bad_input_sweep.py [--data-dir DIR] [--only SUBSTRING] [--fast]

prints one line per case (exit code, traceback or not, the first error line) and exits 1 when any case failed.
Cases that would train on real data when accepted use ``--data-dir`` (default: ``$CSKD_DATA``); training stays tiny.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import yaml

#: a suite that is valid: each case breaks one thing in it
VALID = {
    "name": "tiny",
    "dataset": "cifar10-jpeg",
    "train_subset": 40,
    "test_subset": 20,
    "recipe": {"epochs": 1, "batch_size": 20, "milestones": []},
    "models": {
        "T": "cifar_resnet18_w0_25",
        "S": {"model": "cifar_resnet18_w0_25", "kwargs": {"width_multiplier": 0.5}},
    },
    "pairs": [["T", "S"]],
    "methods": {"CE": {"method": "ce"}, "KD": {"method": "kd"}},
    "seeds": [0],
}
HUGE = 2**70


@dataclass
class Case:
    name: str
    argv: Callable[[Path], list[str]]  # the workspace -> the command line (files written there first)
    slow: bool = False  # builds models or loads data (seconds each on a small CPU)
    code: int = 2  # the exit status it must end with: 2, bad input (docs/cli.md); 1 for a check that fails


@dataclass
class Outcome:
    code: int | None
    traceback: bool
    first_line: str
    problem: str  # empty when the case was refused as it should be


def suite_file(work: Path, changes: dict | None = None, drop: tuple[str, ...] = (), text: str | None = None) -> Path:
    """A suite file in ``work``: VALID with ``changes`` and without ``drop``, or exactly ``text``."""
    path = work / "suite.yaml"
    if text is None:
        suite = {k: v for k, v in {**VALID, **(changes or {})}.items() if k not in drop}
        text = yaml.safe_dump(suite)
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    return path


def dry_run(changes: dict | None = None, drop: tuple[str, ...] = (), *extra: str) -> Callable[[Path], list[str]]:
    return lambda work: ["run", str(suite_file(work, changes, drop)), "--dry-run", *results(work), *extra]


def real_run(data_dir: str, changes: dict | None = None) -> Callable[[Path], list[str]]:
    """``cskd run`` for real (tiny if it wrongly trains) on VALID with ``changes``."""
    options = ["--data-dir", data_dir, "--device", "cpu", "--no-progress"]
    return lambda work: ["run", str(suite_file(work, changes)), *results(work), *options]


def raw_suite(data: bytes) -> Callable[[Path], list[str]]:
    def argv(work: Path) -> list[str]:
        path = work / "suite.yaml"
        path.write_bytes(data)
        return ["run", str(path), "--dry-run", *results(work)]

    return argv


def results(work: Path) -> list[str]:
    return ["--results-dir", str(work / "results")]


def with_runs_csv(content: bytes, command: str = "run") -> Callable[[Path], list[str]]:
    """A results folder whose runs.csv holds ``content``, then ``cskd COMMAND`` on the suite."""

    def argv(work: Path) -> list[str]:
        suite = suite_file(work)
        (work / "results" / "tiny").mkdir(parents=True, exist_ok=True)
        (work / "results" / "tiny" / "runs.csv").write_bytes(content)
        extra = {"run": ["--dry-run"], "report": ["--reports-dir", str(work / "reports")]}.get(command, [])
        return [command, str(suite), *results(work), *extra]

    return argv


class Payload:
    """Unpickling it touches ``marker``: a checkpoint must never run it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def checkpoint_file(work: Path, kind: str) -> Path:
    import torch

    from cskd.models import create_model

    path = work / f"{kind}.pt"
    if kind == "missing":
        return path
    state = create_model("cifar_resnet18_w0_25", num_classes=10).state_dict()
    if kind == "pickle":
        torch.save({"model": state, "extra": Payload(work / "pwned")}, path)
    elif kind == "truncated":
        torch.save({"model": state}, path)
        path.write_bytes(path.read_bytes()[:5000])
    elif kind == "garbage":
        path.write_bytes(os.urandom(4096))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "wrong_model":
        torch.save({"model": {"conv.weight": torch.zeros(1)}}, path)
    return path


def train_with_teacher(kind: str, data_dir: str) -> Callable[[Path], list[str]]:
    def argv(work: Path) -> list[str]:
        teacher = checkpoint_file(work, kind)
        return [
            "train",
            "--model",
            "cifar_resnet18_w0_25",
            "--dataset",
            "cifar10-jpeg",
            "--method",
            "kd",
            "--teacher-model",
            "cifar_resnet18_w0_25",
            "--teacher-checkpoint",
            str(teacher),
            "--epochs",
            "1",
            "--subset",
            "20",
            "--test-subset",
            "20",
            "--batch-size",
            "10",
            "--data-dir",
            data_dir,
            "--device",
            "cpu",
            "--out",
            str(work / "train"),
            "--milestones",
        ]

    return argv


def train(data_dir: str, *options: str) -> Callable[[Path], list[str]]:
    base = ["--model", "cifar_resnet18_w0_25", "--dataset", "cifar10-jpeg", "--epochs", "1", "--subset", "20"]
    tail = ["--test-subset", "20", "--batch-size", "10", "--device", "cpu", "--milestones"]
    return lambda work: ["train", *base, *tail, "--data-dir", data_dir, "--out", str(work / "train"), *options]


def reference_copy(work: Path) -> Path:
    import shutil

    source = Path(__file__).resolve().parents[1] / "reference" / "results" / "ci"
    target = work / "ci"
    shutil.copytree(source, target)
    return target / "runs.csv"


def check_against(make_reference: Callable[[Path, Path], Path], *extra: str) -> Callable[[Path], list[str]]:
    def argv(work: Path) -> list[str]:
        runs = reference_copy(work)
        return ["check", str(runs), "--against", str(make_reference(work, runs)), *extra]

    return argv


def without_kd(work: Path, runs: Path) -> Path:
    lines = runs.read_text().splitlines()
    kept = [lines[0], *(line for line in lines[1:] if ",KD," not in line)]
    path = work / "partial.csv"
    path.write_text("\n".join(kept) + "\n")
    return path


def cases(data_dir: str) -> list[Case]:
    nowhere = "/nonexistent/cskd-data"
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n"
        for i in range(9)
    )
    return [
        # the suite file
        Case("suite: missing key recipe", dry_run(drop=("recipe",))),
        Case("suite: unknown key reciep", dry_run({"reciep": VALID["recipe"]})),
        Case("suite: unknown model, close name", dry_run({"models": {"T": "cifar_resnet18_w0_2", "S": "resnet8"}})),
        Case("suite: unknown method, close name", dry_run({"methods": {"KD": {"method": "kdd"}}})),
        Case("suite: unknown dataset", dry_run({"dataset": "cifar1000"})),
        Case("suite: name escapes", dry_run({"name": "../../escape"})),
        Case("suite: absolute name", dry_run({"name": "/tmp/abs"})),
        Case("suite: negative epochs", dry_run({"recipe": {**VALID["recipe"], "epochs": -1}})),
        Case("suite: huge epochs", dry_run({"recipe": {**VALID["recipe"], "epochs": 10**12}})),
        Case("suite: epochs a string", dry_run({"recipe": {**VALID["recipe"], "epochs": "ten"}})),
        Case("suite: huge batch", dry_run({"recipe": {**VALID["recipe"], "batch_size": 10**9}})),
        Case("suite: zero batch", dry_run({"recipe": {**VALID["recipe"], "batch_size": 0}})),
        Case("suite: nan lr", dry_run({"recipe": {**VALID["recipe"], "lr": float("nan")}})),
        Case("suite: negative lr", dry_run({"recipe": {**VALID["recipe"], "lr": -0.1}})),
        Case("suite: milestone past the epochs", dry_run({"recipe": {**VALID["recipe"], "milestones": [5]}})),
        Case("suite: repeated milestones", dry_run({"recipe": {"epochs": 3, "batch_size": 20, "milestones": [1, 1]}})),
        Case("suite: huge seed", dry_run({"seeds": [HUGE]})),
        Case("suite: negative seed", dry_run({"seeds": [-1]})),
        Case("suite: no seeds", dry_run({"seeds": []})),
        Case(
            "suite: huge width",
            dry_run(
                {
                    "models": {
                        **VALID["models"],
                        "S": {"model": "cifar_resnet18_w0_25", "kwargs": {"width_multiplier": 1000}},
                    }
                }
            ),
        ),
        Case("suite: negative subset", dry_run({"train_subset": -5})),
        Case(
            "suite: subset below the classes",  # the dry run does not load data: a real run, refused before training
            real_run(data_dir, {"train_subset": 5, "recipe": {**VALID["recipe"], "batch_size": 5}}),
            slow=True,
        ),
        Case("suite: pair names an unknown model", dry_run({"pairs": [["T", "X"]]})),
        Case(
            "suite: one configuration, two labels",
            dry_run({"methods": {"KD": {"method": "kd"}, "KD2": {"method": "kd"}}}),
        ),
        Case("suite: unknown method argument", dry_run({"methods": {"KD": {"method": "kd", "args": {"tau": 4}}}})),
        Case("suite: duplicate key", raw_suite(b"name: tiny\nname: other\n" + yaml.safe_dump(VALID).encode())),
        Case("suite: empty file", raw_suite(b"")),
        Case("suite: binary garbage", raw_suite(os.urandom(2048))),
        Case("suite: a list, not a mapping", raw_suite(b"- a\n- b\n")),
        Case("suite: YAML syntax error", raw_suite(b"name: [tiny\nrecipe: {\n")),
        Case("suite: alias bomb", raw_suite(bomb.encode())),
        Case("suite: latin-1 byte", raw_suite(yaml.safe_dump(VALID).encode() + b"# caf\xe9\n")),
        Case("suite: 50 MB file", raw_suite(b"# " + b"x" * (50 * 2**20) + b"\n")),
        Case("suite: path is a directory", lambda work: ["run", str(work), "--dry-run", *results(work)]),
        Case("suite: file does not exist", lambda work: ["run", str(work / "nope.yaml"), "--dry-run"]),
        Case("suite: unknown suite name, close", lambda work: ["run", "quik", "--dry-run", *results(work)]),
        # the command line
        Case("--set unknown key", dry_run(None, (), "--set", "recipe.epochz=3")),
        Case("--set malformed", dry_run(None, (), "--set", "recipe.epochs")),
        Case("--set bad value", dry_run(None, (), "--set", "recipe.epochs=abc")),
        Case("--set escaping name", dry_run(None, (), "--set", "name=../x")),
        Case("--seeds huge", dry_run(None, (), "--seeds", str(HUGE))),
        Case("--seeds negative", dry_run(None, (), "--seeds", "-3")),
        Case("--only unknown key", dry_run(None, (), "--only", "methd=KD")),
        Case("--only no match", dry_run(None, (), "--only", "method=KDD")),
        Case("--device tpu", dry_run(None, (), "--device", "tpu")),
        Case("--lockstep-size 0", dry_run(None, (), "--lockstep-size", "0")),
        Case(
            "results dir below a file",  # the dry run writes nothing: a real run, refused before training
            lambda work: [*real_run(data_dir)(work), "--results-dir", str(Path(__file__) / "results")],
            slow=True,
        ),
        # damaged results
        Case("runs.csv garbage header", with_runs_csv(b"\x00garbage;header\n1;2\n")),
        Case("runs.csv binary", with_runs_csv(os.urandom(3000))),
        Case("runs.csv garbage header, status", with_runs_csv(b"\x00garbage;header\n1;2\n", "status")),
        Case("runs.csv garbage header, report", with_runs_csv(b"\x00garbage;header\n1;2\n", "report")),
        # data
        Case(
            "run: missing data dir",  # a train_subset beyond the images shipped with cskd needs the full copy
            lambda work: [*real_run(nowhere, {"train_subset": 7000})(work), "--no-download"],
            slow=True,
        ),
        Case("train: missing data dir", train(nowhere, "--subset", "7000"), slow=True),
        Case(
            "train: unknown model, close name",
            lambda work: [*train(data_dir)(work)[:2], "cifar_resnet18_w0_2", *train(data_dir)(work)[3:]],
        ),
        Case("train: zero epochs", train(data_dir, "--epochs", "0"), slow=True),
        Case("train: negative batch", train(data_dir, "--batch-size", "-1"), slow=True),
        Case("train: huge width", train(data_dir, "--width-multiplier", "1000"), slow=True),
        Case("train: unknown method", train(data_dir, "--method", "kdd"), slow=True),
        # checkpoints
        Case("teacher checkpoint: pickle with code", train_with_teacher("pickle", data_dir), slow=True),
        Case("teacher checkpoint: truncated", train_with_teacher("truncated", data_dir), slow=True),
        Case("teacher checkpoint: random bytes", train_with_teacher("garbage", data_dir), slow=True),
        Case("teacher checkpoint: empty", train_with_teacher("empty", data_dir), slow=True),
        Case("teacher checkpoint: another model's", train_with_teacher("wrong_model", data_dir), slow=True),
        Case("teacher checkpoint: missing", train_with_teacher("missing", data_dir), slow=True),
        Case(
            "eval: pickle checkpoint",
            lambda work: [
                "eval",
                str(checkpoint_file(work, "pickle")),
                "--model",
                "cifar_resnet18_w0_25",
                "--dataset",
                "cifar10-jpeg",
                "--data-dir",
                data_dir,
                "--device",
                "cpu",
            ],
        ),
        Case("eval: unknown run id", lambda work: ["eval", "deadbeefdeadbeef", *results(work)[:2]]),
        Case("eval: run id escaping", lambda work: ["eval", "../../etc/passwd", *results(work)[:2]]),
        Case(
            "convert: pickle without --trust-pickle",
            lambda work: [
                "convert-checkpoint",
                "--from",
                "repdistiller",
                "--model",
                "crd_resnet56",
                str(checkpoint_file(work, "pickle")),
                str(work / "out.pt"),
            ],
        ),
        # check
        Case(
            "check: missing reference",
            lambda work: ["check", str(reference_copy(work)), "--against", str(work / "missing.csv")],
        ),
        Case("check: empty reference", check_against(lambda work, runs: (work / "e.csv", (work / "e.csv").touch())[0])),
        Case(
            "check: binary reference",
            check_against(lambda work, runs: (work / "b.csv", (work / "b.csv").write_bytes(os.urandom(999)))[0]),
        ),
        Case("check: reference without KD", check_against(without_kd), code=1),
        Case("check: --tolerance inf", check_against(lambda work, runs: runs, "--tolerance", "inf")),
        Case("check: --tolerance nan", check_against(lambda work, runs: runs, "--tolerance", "nan")),
        Case("check: --tolerance -1", check_against(lambda work, runs: runs, "--tolerance", "-1")),
        Case(
            "check: missing results",
            lambda work: ["check", str(work / "none.csv"), "--against", str(reference_copy(work))],
        ),
    ]


def run_case(case: Case, root: Path) -> Outcome:
    """Run ``case`` in a fresh folder under ``root`` and judge it."""
    from cskd.cli import main

    work = Path(tempfile.mkdtemp(dir=root))
    argv = case.argv(work)
    out, err = io.StringIO(), io.StringIO()
    raised = ""
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code: int | None = main(argv)
        except SystemExit as exit_:  # argparse
            code = exit_.code if isinstance(exit_.code, int) else 2
        except BaseException:  # a traceback is what the sweep reports
            code, raised = None, traceback.format_exc()
    text = out.getvalue() + err.getvalue()
    lines = [line.strip() for line in err.getvalue().splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()] or lines or out.getvalue().strip().splitlines()[-1:]
    first = errors[0] if errors else ""
    tb = bool(raised) or "Traceback (most recent call last)" in text
    if tb:
        first = (raised.strip().splitlines() or [""])[-1] or first
    problem = ""
    if tb:
        problem = "traceback"
    elif (work / "pwned").exists():
        problem = "ran the code of a pickled checkpoint"
    elif "PASS" in out.getvalue():
        problem = "false PASS"
    elif code == 0:
        problem = "accepted: exit 0"
    elif not first:
        problem = "no error message"
    elif code != case.code:
        problem = f"exit {code}, not {case.code}"
    return Outcome(code, tb, first[:160], problem)


def sweep(selected: list[Case], report: Callable[[str], None] = print) -> list[tuple[Case, Outcome]]:
    """Run every case of ``selected`` in a temporary folder; report one line per case; each case and its outcome."""
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="cskd-bad-input-") as root:
        for case in selected:
            outcome = run_case(case, Path(root))
            outcomes.append((case, outcome))
            verdict = f"FAILED ({outcome.problem})" if outcome.problem else "refused"
            tb = "yes" if outcome.traceback else "no"
            report(f"{verdict:<30} exit {outcome.code!s:<4} traceback {tb:<3} {case.name:<42} {outcome.first_line}")
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("CSKD_DATA", "data"))
    parser.add_argument("--only", default="", help="run only the cases whose name holds this")
    parser.add_argument("--fast", action="store_true", help="skip the cases that build models or load data")
    args = parser.parse_args(argv)
    selected = [case for case in cases(args.data_dir) if args.only in case.name and not (args.fast and case.slow)]
    outcomes = sweep(selected, lambda line: print(line, flush=True))
    failed = sum(bool(outcome.problem) for _, outcome in outcomes)
    print(f"{len(selected)} case(s): {len(selected) - failed} refused as they should be, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
