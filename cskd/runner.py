"""The batch runner: executes a plan group by group, skipping finished runs and resuming interrupted ones.

Every finished or failed run appends one row to ``results/<suite>/runs.csv``. Each pending run is guarded by a
per-run file lock, so two runners on one suite share the work instead of duplicating it: a run locked by the other
runner is left to it (its students wait for a teacher it is still training).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import timm
import torch
from filelock import FileLock, Timeout
from torch import nn

import cskd
from cskd.data import DeviceLoader, ImageDataset, load_dataset, subset
from cskd.engine.trainer import EngineOptions, RunOutcome, StudentJob, evaluate, load_trained_model, train_group
from cskd.plan import Plan, RunSpec
from cskd.results import append_run_row, finished_run_ids, read_runs

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class SuitePaths:
    """Where a suite's results live."""

    root: Path

    @property
    def runs_csv(self) -> Path:
        return self.root / "runs.csv"

    def epochs_csv(self, run_id: str) -> Path:
        return self.root / "epochs" / f"{run_id}.csv"

    def checkpoint(self, run_id: str) -> Path:
        return self.root / "checkpoints" / f"{run_id}.pt"

    def lock(self, run_id: str) -> FileLock:
        return FileLock(str(self.checkpoint(run_id)) + ".lock")


@dataclass
class RunnerOptions:
    results_dir: Path = REPO / "results"
    data_dir: Path | None = None
    engine: EngineOptions = field(default_factory=EngineOptions)
    lockstep: bool = True


@dataclass
class SweepSummary:
    done_before: int = 0
    trained: int = 0
    failed: int = 0
    left_to_others: int = 0


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
    except OSError:
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Runner:
    """Runs a :class:`~cskd.plan.Plan`; data are loaded once and shared by every group."""

    def __init__(self, plan: Plan, options: RunnerOptions) -> None:
        self.plan = plan
        self.options = options
        self.paths = SuitePaths(options.results_dir / plan.suite.name)
        self._data: dict[tuple, ImageDataset] = {}
        self._commit = git_commit()

    def status(self, run: RunSpec, finished: set[str]) -> str:
        if run.run_id in finished:
            return "done"
        if self.paths.checkpoint(run.run_id).exists():
            return "resume"
        return "to do"

    def data(self, run: RunSpec) -> ImageDataset:
        key = (run.dataset, run.train_subset, run.test_subset)
        if key not in self._data:
            full = load_dataset(run.dataset, self.options.data_dir)
            self._data[key] = subset(full, run.train_subset, run.test_subset, seed=0)
        return self._data[key]

    def load_all_data(self) -> None:
        """Load (and cache) the data of every run now, so that missing data fail before any training."""
        for run in self.plan.runs:
            self.data(run)

    def groups(self) -> list[list[RunSpec]]:
        """The plan's lockstep groups in training order, or one group per run without lockstep."""
        return self.plan.groups() if self.options.lockstep else [[r] for g in self.plan.groups() for r in g]

    def sweep(self) -> SweepSummary:
        summary = SweepSummary()
        for group in self.groups():
            self._run_group(group, summary)
        return summary

    def _run_group(self, group: list[RunSpec], summary: SweepSummary) -> None:
        finished = finished_run_ids(self.paths.runs_csv)
        pending = [r for r in group if r.run_id not in finished]
        summary.done_before += len(group) - len(pending)
        locks, mine = [], []
        for run in pending:
            lock = self.paths.lock(run.run_id)
            self.paths.checkpoint(run.run_id).parent.mkdir(parents=True, exist_ok=True)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                print(f"  {run.describe()}: being trained by another runner, left to it")
                summary.left_to_others += 1
                continue
            locks.append(lock)
            mine.append(run)
        try:
            finished = finished_run_ids(self.paths.runs_csv)  # the other runner may have just finished some
            summary.done_before += sum(r.run_id in finished for r in mine)
            mine = [r for r in mine if r.run_id not in finished and not self._reuse(r)]
            if mine:
                self._train(mine, summary)
        finally:
            for lock in locks:
                lock.release()

    def _reuse(self, run: RunSpec) -> bool:
        """Take a run finished with the same configuration (same run id) in another suite, instead of retraining it.

        Table 4's teacher is Table 3's, for example. The checkpoint and epoch CSV are copied and the row is recorded
        again under this suite.
        """
        for runs_csv in sorted(self.options.results_dir.glob("*/runs.csv")):
            other = SuitePaths(runs_csv.parent)
            if other.root == self.paths.root or not other.checkpoint(run.run_id).exists():
                continue
            rows = read_runs(runs_csv)
            ok = rows[(rows["run_id"] == run.run_id) & (rows["status"] == "ok")]
            if ok.empty:
                continue
            self.paths.checkpoint(run.run_id).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(other.checkpoint(run.run_id), self.paths.checkpoint(run.run_id))
            if other.epochs_csv(run.run_id).exists():
                self.paths.epochs_csv(run.run_id).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(other.epochs_csv(run.run_id), self.paths.epochs_csv(run.run_id))
            row = {k: (None if v != v else v) for k, v in ok.iloc[-1].to_dict().items()}  # NaN -> empty
            row |= {
                "suite": run.suite,
                "profile": run.profile,
                "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            append_run_row(self.paths.runs_csv, row)
            print(f"  reused {run.describe()} ({run.run_id}) from suite {runs_csv.parent.name}")
            return True
        return False

    def _teacher(self, run: RunSpec, data: ImageDataset) -> tuple[nn.Module, float | None]:
        """The trained teacher of ``run`` and its best top-1, from its run or a supplied checkpoint."""
        engine = self.options.engine
        if run.teacher_checkpoint is not None:
            supplied = run.teacher_checkpoint
            if not supplied.path.exists():
                raise FileNotFoundError(
                    f"teacher checkpoint {supplied.path} does not exist (suite teacher_checkpoints)"
                )
            actual = sha256_of(supplied.path)
            if actual != supplied.sha256:
                raise ValueError(
                    f"teacher checkpoint {supplied.path}: sha256 {actual}, the suite expects {supplied.sha256}"
                )
            model = load_trained_model(
                run.teacher_model.name, run.teacher_model.kwargs, data.num_classes, supplied.path, engine
            )
            return model, evaluate(model, _test_loader(data, engine), engine)["test_top1"]
        with self.paths.lock(run.teacher_run):  # waits while another runner trains this teacher
            rows = read_runs(self.paths.runs_csv)
        ok = rows[(rows["run_id"] == run.teacher_run) & (rows["status"] == "ok")]
        if ok.empty:
            raise RuntimeError(f"teacher run {run.teacher_run} ({run.teacher}) has not finished successfully")
        model = load_trained_model(
            run.teacher_model.name,
            run.teacher_model.kwargs,
            data.num_classes,
            self.paths.checkpoint(run.teacher_run),
            engine,
        )
        return model, float(ok["best_top1"].iloc[-1])

    def _train(self, runs: list[RunSpec], summary: SweepSummary) -> None:
        first = runs[0]
        engine = EngineOptions(**{**self.options.engine.__dict__, "seed": first.seed})
        try:
            data = self.data(first)
            teacher, teacher_top1 = (
                (None, None)
                if first.teacher_run is None and first.teacher_checkpoint is None
                else self._teacher(first, data)
            )
        except Exception as error:
            for run in runs:
                self._record(run, RunOutcome(run.run_id, "failed", f"{type(error).__name__}: {error}"), None, None)
                summary.failed += 1
            return
        jobs = [
            StudentJob(
                run_id=run.run_id,
                model=run.student_model.name,
                model_kwargs=run.student_model.kwargs,
                method=run.method.name,
                method_args=run.method.args,
                checkpoint=self.paths.checkpoint(run.run_id),
                epochs_csv=self.paths.epochs_csv(run.run_id),
                label=run.method.label,
            )
            for run in runs
        ]
        print(f"training {len(runs)} run(s) in lockstep: " + "; ".join(r.describe() for r in runs))
        outcomes = {o.run_id: o for o in train_group(jobs, data, first.recipe, engine, teacher)}
        for run in runs:
            outcome = outcomes[run.run_id]
            self._record(run, outcome, data, teacher_top1)
            if outcome.status == "ok":
                summary.trained += 1
                print(
                    f"  done {run.describe()}: best top-1 {outcome.best_top1:.2f} (epoch {outcome.best_epoch}), "
                    f"last {outcome.last_top1:.2f}, {outcome.wall_seconds:.0f}s"
                )
            else:
                summary.failed += 1
                print(f"  FAILED {run.describe()}: {outcome.error}")

    def _record(self, run: RunSpec, outcome: RunOutcome, data: ImageDataset | None, teacher_top1: float | None) -> None:
        row: dict[str, Any] = {
            "suite": run.suite,
            "run_id": run.run_id,
            "kind": run.kind,
            "dataset": run.dataset,
            "dataset_source": data.source if data else "",
            "data_sha256": data.sha256 if data else "",
            "teacher": run.teacher,
            "student": run.student,
            "teacher_model": json.dumps(run.teacher_model.to_dict(), sort_keys=True) if run.teacher_model else "",
            "student_model": json.dumps(run.student_model.to_dict(), sort_keys=True),
            "method": run.method.label,
            "method_name": run.method.name,
            "method_args": json.dumps(run.method.args, sort_keys=True),
            "profile": run.profile,
            "seed": run.seed,
            "epochs": run.recipe.epochs,
            "init_epochs": outcome.init_epochs,
            "train_size": len(data.train_labels) if data else None,
            "test_size": len(data.test_labels) if data else None,
            "best_top1": outcome.best_top1,
            "best_top5": outcome.best_top5,
            "best_epoch": outcome.best_epoch,
            "last_top1": outcome.last_top1,
            "last_top5": outcome.last_top5,
            "teacher_top1": teacher_top1,
            "student_params": outcome.student_params,
            "wall_seconds": round(outcome.wall_seconds, 3),
            "images_per_second": round(outcome.images_per_second, 2) if outcome.images_per_second else None,
            "lockstep": outcome.lockstep,
            "device": device_name(self.options.engine.device),
            "torch_version": torch.__version__,
            "timm_version": timm.__version__,
            "cskd_version": cskd.__version__,
            "git_commit": self._commit,
            "status": outcome.status,
            "error": outcome.error,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        append_run_row(self.paths.runs_csv, row)


def _test_loader(data: ImageDataset, engine: EngineOptions) -> DeviceLoader:
    return DeviceLoader(
        data.test_images,
        data.test_labels,
        batch_size=256,
        augment=data.augment,
        train=False,
        seed=0,
        device=engine.device,
    )
