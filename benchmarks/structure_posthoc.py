"""The category-structure metrics (docs/structure.md) of finished runs that did not record them, from their last-epoch
weights.

Runs trained before the engine recorded the ``struct_*`` columns (issue 23) have them empty in runs.csv, but their
last-epoch weights (``RESULTS/SUITE/checkpoints/RUN_ID.pt``) are kept. For every ok student row of
``RESULTS/S/runs.csv`` (the latest row of each run) whose ``struct_*`` values are all empty, this rebuilds the run
as it trained (:func:`cskd.evaluation.find_run`: its suite, model and data path), loads its teacher as the training
did (the suite's supplied checkpoint, sha256-checked, or its teacher run's checkpoint) and runs the engine's own
test pass on it: :func:`cskd.engine.structure_eval.forward_test_set` for the teacher, then
:func:`~cskd.engine.structure_eval.evaluate_with_structure` for the student, through the test loader of
:func:`cskd.engine.trainer.train_group` (batch ``max(batch_size, 256)``, channels_last unless
:func:`~cskd.engine.trainer.cpu_safe_options` keeps NCHW, eval mode, bf16 autocast where the row's precision is bf16).

Each run gets one row of the output CSV (default ``RESULTS/S/structure_posthoc.csv``; runs.csv is never written):
run_id, suite, method, seed, the recomputed test_top1, the recorded last_top1 and every ``struct_*`` column. A run
whose recomputed top-1 differs from its recorded last_top1 by more than 0.05 points is refused (its checkpoint is not
the last epoch's weights) and gets no row; the script then exits 1. Runs already in the output are skipped, so an
interrupted pass resumes.

``--teachers`` writes instead ``RESULTS/S/teacher_structure.csv``: one row per distinct teacher (its checkpoint's
sha256 or its run id) of those runs, with the teacher's own top-1 and the metrics defined for one network (NC1,
distance ratio, ECE) on the same test pass, so that a student's compactness can be read against its teacher's (what
CSKD's intra-class term, Eq. 6-7, asks the student to copy).

``--verify`` recomputes the runs that did record the metrics instead, writes nothing and prints, per metric, the
largest absolute difference from the recorded values (exit 1 when one exceeds ``--tolerance`` relative to
max(1, |recorded|), or when the recorded and recomputed values disagree on which are empty).

    python benchmarks/structure_posthoc.py RESULTS --suite study [--out FILE] [--device cpu]
    python benchmarks/structure_posthoc.py RESULTS --suite study --verify
    python benchmarks/structure_posthoc.py RESULTS --suite study --teachers
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from cskd.data import DeviceLoader, ImageDataset
from cskd.engine.checkpoint import CheckpointError
from cskd.engine.structure_eval import NetworkOutputs, evaluate_with_structure, forward_test_set
from cskd.engine.trainer import (
    EngineOptions,
    StudentJob,
    apply_global_flags,
    autocast,
    cpu_safe_options,
    evaluation_loader,
    load_trained_model,
    prepare_model,
)
from cskd.evaluation import EvaluationError, FoundRun, build, find_run, run_data, run_weights
from cskd.plan import RunSpec
from cskd.results import latest_rows, read_runs
from cskd.run_status import RunStatuses
from cskd.runs_schema import STRUCTURE_COLUMNS
from cskd.store import ResultsStore
from cskd.structure import structure_metrics

#: largest accepted |recomputed - recorded| last-epoch top-1, in points (0.01 is one image in 10,000)
TOP1_TOLERANCE = 0.05
#: the file --teachers writes, which benchmarks/findings.py reads
TEACHER_CSV = "teacher_structure.csv"
OUTPUT_COLUMNS: tuple[str, ...] = ("run_id", "suite", "method", "seed", "test_top1", "last_top1", *STRUCTURE_COLUMNS)


class RefusedRun(RuntimeError):
    """A run whose checkpoint does not give its recorded last-epoch top-1: its weights are not the last epoch's."""


def recorded(value: Any) -> bool:
    """Whether a runs.csv cell holds a value (not empty / NaN)."""
    return value is not None and value == value and value != ""


def student_rows(results: Path, suite: str) -> list[dict[str, Any]]:
    """The latest row of every ok student run of ``RESULTS/suite/runs.csv``, in file order."""
    runs_csv = results / suite / "runs.csv"
    if not runs_csv.is_file():
        raise SystemExit(f"error: no {runs_csv} (RESULTS is the folder holding SUITE/runs.csv; check --suite)")
    rows = latest_rows(read_runs(runs_csv)).values()
    return [r for r in rows if r["kind"] == "student" and r["status"] == "ok"]


def has_structure(row: dict[str, Any]) -> bool:
    return any(recorded(row.get(column)) for column in STRUCTURE_COLUMNS)


def engine_options(row: dict[str, Any], device: torch.device) -> EngineOptions:
    """The engine settings of the run's test pass: its precision (bf16 autocast on CUDA) and channels_last as
    recorded (rows from before those columns: the defaults, fp32 and channels_last)."""
    amp = row.get("precision") == "bf16" and device.type == "cuda"
    channels_last = not recorded(row.get("channels_last")) or bool(int(float(row["channels_last"])))
    return EngineOptions(device=device, amp=amp, channels_last=channels_last, progress=False)


@dataclass
class Recomputer:
    """Recomputes runs' test passes, loading each dataset and each teacher's test outputs once."""

    results: Path
    data_dir: Path | None
    device: torch.device
    suite_file: str | None = None
    _data: dict[tuple, ImageDataset] = field(default_factory=dict)
    _teachers: dict[tuple, nn.Module] = field(default_factory=dict)
    _teacher_outputs: dict[tuple, NetworkOutputs] = field(default_factory=dict)

    def find(self, run_id: str) -> FoundRun:
        return find_run(run_id, self.results, self.suite_file)

    def data(self, found: FoundRun) -> ImageDataset:
        spec = found.spec
        key = (spec.dataset, spec.normalization, spec.train_subset, spec.test_subset)
        if key not in self._data:
            self._data[key] = run_data(found, self.data_dir, None, None)
        return self._data[key]

    def teacher_model(self, found: FoundRun, data: ImageDataset, options: EngineOptions) -> nn.Module | None:
        """The run's teacher as :meth:`cskd.runner.Runner._teacher` loads it (None for a run without one)."""
        spec = found.spec
        key = (repr(spec.teacher_checkpoint), spec.teacher_run, found.results, repr(spec.teacher_model), options)
        if key not in self._teachers:
            self._teachers[key] = self._load_teacher(found, data, options)
        return self._teachers[key]

    def _load_teacher(self, found: FoundRun, data: ImageDataset, options: EngineOptions) -> nn.Module | None:
        spec = found.spec
        if spec.teacher_checkpoint is not None:
            store = ResultsStore(found.results.parent, found.results.name)
            problem = RunStatuses([spec], store).supplied_problem(spec.teacher_checkpoint)
            if problem:
                raise CheckpointError(problem)
            path, run_id = spec.teacher_checkpoint.path, None
        elif spec.teacher_run is not None:
            latest = latest_rows(read_runs(found.results / "runs.csv")).get(spec.teacher_run)
            if latest is None or latest["status"] != "ok":
                raise EvaluationError(
                    f"teacher run {spec.teacher_run} of {spec.run_id} has no ok row in {found.results}"
                )
            path, run_id = found.results / "checkpoints" / f"{spec.teacher_run}.pt", spec.teacher_run
        else:
            return None
        model = spec.teacher_model
        return load_trained_model(model.name, model.kwargs, data.num_classes, path, options, run_id=run_id)

    def recompute(self, found: FoundRun) -> dict[str, float]:
        """Test loss, top-1, top-5 and every structure metric of ``found``'s last-epoch weights."""
        model, loader, options, teacher_outputs = self._test_pass(found)
        return evaluate_with_structure(model, loader, lambda: autocast(options), teacher_outputs)

    def teacher_structure(self, found: FoundRun) -> dict[str, float] | None:
        """The structure metrics of ``found``'s teacher itself (NC1, distance ratio, ECE; its top-1), on the test pass
        its students are evaluated on; None for a run without a teacher."""
        _, _, _, outputs = self._test_pass(found)
        if outputs is None:
            return None
        top1 = 100.0 * float((outputs.logits.argmax(dim=1) == outputs.labels).double().mean())
        return {"test_top1": top1} | structure_metrics(outputs.embedding, outputs.logits, outputs.labels)

    def _test_pass(self, found: FoundRun) -> tuple[nn.Module, DeviceLoader, EngineOptions, NetworkOutputs | None]:
        """The run's student model (last-epoch weights), test loader and engine options, and its teacher's test
        outputs (computed once per teacher and loader)."""
        spec: RunSpec = found.spec
        data = self.data(found)
        options = engine_options(found.row, self.device)
        apply_global_flags(options)
        teacher = self.teacher_model(found, data, options)
        job = StudentJob(
            run_id=spec.run_id,
            model=spec.student_model.name,
            model_kwargs=spec.student_model.kwargs,
            method=spec.method.name,
            checkpoint=found.checkpoint,
            epochs_csv=found.results / "epochs" / f"{spec.run_id}.csv",
        )
        options = cpu_safe_options(options, [job], data.num_classes, teacher)
        weights, _ = run_weights(found, "last")
        model = build(spec.student_model.name, spec.student_model.kwargs, data.num_classes, weights, found.checkpoint)
        model = prepare_model(model, options).eval()
        batch_size = max(spec.recipe.batch_size, 256)  # train_group's test loader
        loader = evaluation_loader(data, options, batch_size, spec.seed)
        teacher_outputs = None
        if teacher is not None:
            if not options.channels_last:
                teacher = teacher.to(memory_format=torch.contiguous_format)
            key = (id(teacher), id(data), options, batch_size)
            if key not in self._teacher_outputs:
                self._teacher_outputs[key] = forward_test_set(teacher, loader, lambda: autocast(options))
            teacher_outputs = self._teacher_outputs[key]
        return model, loader, options, teacher_outputs


def output_row(found: FoundRun, metrics: dict[str, float]) -> dict[str, Any]:
    """The output row of a recomputed run; refuses one whose top-1 is not its recorded last-epoch top-1."""
    row = found.row
    last = float(row["last_top1"])
    if abs(metrics["test_top1"] - last) > TOP1_TOLERANCE:
        raise RefusedRun(
            f"recomputed top-1 {metrics['test_top1']:.2f} differs from the recorded last_top1 {last:.2f} by more than "
            f"{TOP1_TOLERANCE} points: {found.checkpoint} does not hold the last epoch's weights (or the data differ)"
        )
    structure = {c: (None if metrics[c] != metrics[c] else metrics[c]) for c in STRUCTURE_COLUMNS}
    return {
        "run_id": found.spec.run_id,
        "suite": row["suite"],
        "method": row["method"],
        "seed": int(row["seed"]),
        "test_top1": metrics["test_top1"],
        "last_top1": last,
    } | structure


def done_run_ids(out: Path) -> set[str]:
    if not out.is_file() or out.stat().st_size == 0:
        return set()
    return set(pd.read_csv(out, dtype={"run_id": str})["run_id"])


def append_row(out: Path, row: dict[str, Any]) -> None:
    new = not out.is_file() or out.stat().st_size == 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=OUTPUT_COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow({k: "" if v is None else (repr(v) if isinstance(v, float) else v) for k, v in row.items()})


def describe(row: dict[str, Any]) -> str:
    return f"{row['run_id']} ({row['method']}, seed {int(row['seed'])})"


def fill_missing(recomputer: Recomputer, rows: list[dict[str, Any]], out: Path) -> int:
    """Recompute and append every row without structure metrics not yet in ``out``; the number refused."""
    done = done_run_ids(out)
    todo = [r for r in rows if not has_structure(r) and r["run_id"] not in done]
    print(f"{len(todo)} run(s) to recompute into {out} ({len(done)} already there)", flush=True)
    refused = 0
    for i, row in enumerate(todo, 1):
        start = time.perf_counter()
        try:
            found = recomputer.find(row["run_id"])
            line = output_row(found, recomputer.recompute(found))
        except (RefusedRun, EvaluationError, CheckpointError) as error:
            refused += 1
            print(f"[{i}/{len(todo)}] REFUSED {describe(row)}: {error}", flush=True)
            continue
        append_row(out, line)
        print(
            f"[{i}/{len(todo)}] {describe(row)}: top-1 {line['test_top1']:.2f} (recorded {line['last_top1']:.2f}), "
            f"nc1 {line['struct_nc1']:.4g}, {time.perf_counter() - start:.1f}s",
            flush=True,
        )
    return refused


def verify(recomputer: Recomputer, rows: list[dict[str, Any]], tolerance: float) -> bool:
    """Recompute the rows that recorded structure metrics and print the differences; True when all agree."""
    todo = [r for r in rows if has_structure(r)]
    print(f"verifying {len(todo)} run(s) that recorded the structure metrics", flush=True)
    worst = dict.fromkeys(("test_top1", *STRUCTURE_COLUMNS), 0.0)
    agree = True
    for i, row in enumerate(todo, 1):
        metrics = recomputer.recompute(recomputer.find(row["run_id"]))
        reference = {"test_top1": row["last_top1"]} | {c: row[c] for c in STRUCTURE_COLUMNS}
        for column, value in reference.items():
            mine = metrics[column]
            if recorded(value) != (mine == mine):
                agree = False
                print(f"  {describe(row)} {column}: recorded {value!r}, recomputed {mine!r} (one of them empty)")
                continue
            if recorded(value):
                difference = abs(mine - float(value))
                worst[column] = max(worst[column], difference)
                agree &= difference <= tolerance * max(1.0, abs(float(value))) or column == "test_top1"
        agree &= abs(metrics["test_top1"] - float(row["last_top1"])) <= TOP1_TOLERANCE
        print(f"[{i}/{len(todo)}] {describe(row)}: top-1 {metrics['test_top1']:.2f} ({row['last_top1']})", flush=True)
    print("max |recomputed - recorded| per metric:")
    for column, difference in worst.items():
        print(f"  {column:24s} {difference:.3g}")
    return agree


#: the columns of teacher_structure.csv: each teacher's own test-set metrics (those defined for one network)
TEACHER_COLUMNS: tuple[str, ...] = (
    "teacher",
    "teacher_model",
    "source",
    "test_subset",
    "test_top1",
    "struct_nc1",
    "struct_distance_ratio",
    "struct_ece",
)


def teacher_source(found: FoundRun) -> str:
    """Where the run's teacher comes from: its supplied checkpoint's sha256 or its teacher run's id."""
    spec = found.spec
    if spec.teacher_checkpoint is not None:
        return f"sha256:{spec.teacher_checkpoint.sha256}"
    return f"run:{spec.teacher_run}"


def write_teachers(recomputer: Recomputer, rows: list[dict[str, Any]], out: Path) -> int:
    """One row per distinct teacher (and test set) of ``rows``: the teacher's own NC1, distance ratio and ECE on
    the test pass its students are evaluated on, so that a student's metric can be read against its teacher's.
    Rewrites ``out``; returns the number of teachers."""
    seen: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        found = recomputer.find(row["run_id"])
        spec = found.spec
        if spec.teacher_model is None:
            continue
        key = (teacher_source(found), spec.dataset, spec.test_subset)
        if key in seen:
            continue
        metrics = recomputer.teacher_structure(found)
        assert metrics is not None  # the run has a teacher model
        seen[key] = {
            "teacher": spec.teacher,
            "teacher_model": spec.teacher_model.name,
            "source": key[0],
            "test_subset": "" if spec.test_subset is None else spec.test_subset,
        } | {c: metrics[c] for c in TEACHER_COLUMNS[4:]}
        print(
            f"teacher {spec.teacher} ({key[0]}): top-1 {metrics['test_top1']:.2f}, nc1 "
            f"{metrics['struct_nc1']:.4g}, distance ratio {metrics['struct_distance_ratio']:.4g}",
            flush=True,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(list(seen.values()), columns=list(TEACHER_COLUMNS)).to_csv(out, index=False)
    return len(seen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="the results folder (holding SUITE/runs.csv)")
    parser.add_argument("--suite", required=True, help="the suite folder under RESULTS")
    parser.add_argument("--suite-file", default=None, help="the suite's YAML when it is not a suite cskd knows by name")
    parser.add_argument("--out", type=Path, default=None, help="default: RESULTS/SUITE/structure_posthoc.csv")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--verify", action="store_true", help="recompute the runs that recorded the metrics; compare")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="--verify: relative to max(1, |recorded|)")
    parser.add_argument(
        "--teachers",
        action="store_true",
        help="write each teacher's own NC1, distance ratio and ECE to RESULTS/SUITE/teacher_structure.csv instead",
    )
    args = parser.parse_args(argv)
    recomputer = Recomputer(args.results, args.data_dir, torch.device(args.device), args.suite_file)
    rows = student_rows(args.results, args.suite)
    if args.verify:
        return 0 if verify(recomputer, rows, args.tolerance) else 1
    if args.teachers:
        out = args.out or args.results / args.suite / TEACHER_CSV
        print(f"{write_teachers(recomputer, rows, out)} teacher(s) written to {out}")
        return 0
    refused = fill_missing(recomputer, rows, args.out or args.results / args.suite / "structure_posthoc.csv")
    if refused:
        print(f"error: {refused} run(s) refused (see REFUSED above); their rows were not written", file=sys.stderr)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
