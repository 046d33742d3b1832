"""The batch runner: executes a plan group by group, skipping finished runs and resuming interrupted ones.

Every finished or failed run appends one row to ``results/<suite>/runs.csv``; a run's latest row is its state. Each
pending run is guarded by a per-run file lock, so two runners on one suite share the work instead of duplicating it: a
run locked by the other runner is left to it (its students wait for a teacher it is still training).

What the runner does with each run (:meth:`Runner.statuses`, also what ``--dry-run`` prints): ``done`` (latest row ok)
is skipped; ``to do`` is trained; ``resume`` goes on from its checkpoint; ``retry`` (latest row failed, no checkpoint
left) is trained again; ``failed`` stays failed: a run that diverged (its checkpoint records the non-finite epoch) or
whose checkpoint is damaged is recorded failed again, with the file to delete to start it over. A finished teacher that
students still need is only ``done`` when its checkpoint can teach (readable, its own, finite); otherwise it is
``redo``: the unusable file is set aside (``.damaged``) and the teacher trained again. A student whose teacher cannot
teach (failed, or a supplied checkpoint missing or with the wrong sha256) is ``blocked``: nothing distils from it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import timm
import torch
from filelock import FileLock, Timeout
from torch import nn

import cskd
from cskd import locations
from cskd.data import DeviceLoader, ImageDataset, load_dataset, subset
from cskd.data.augment import normalized_as
from cskd.engine import checkpoint
from cskd.engine.best_weights import best_path
from cskd.engine.checkpoint import CheckpointError
from cskd.engine.trainer import EngineOptions, RunOutcome, StudentJob, evaluate, load_trained_model, train_group
from cskd.plan import Plan, RunSpec
from cskd.results import append_run_row, latest_rows, read_runs
from cskd.suite import TeacherCheckpoint, check_builds
from cskd.tracking import run_config
from cskd.zoo import teacher_identity

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
    results_dir: Path = field(default_factory=locations.results_dir)
    data_dir: Path | None = None
    engine: EngineOptions = field(default_factory=EngineOptions)
    lockstep: bool = True
    lockstep_size: int | None = None  # at most this many runs per lockstep group (None: every run sharing a stream)


@dataclass(frozen=True)
class RunStatus:
    """What the sweep does with a run: ``done``, ``to do``, ``resume``, ``retry``, ``failed``, ``redo`` or
    ``blocked`` (see the module docstring), and why."""

    state: str
    note: str = ""


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
        self._supplied: dict[Path, str] = {}
        self._commit = git_commit()

    def statuses(self, runs: list[RunSpec] | None = None) -> dict[str, RunStatus]:
        """What the sweep would do now with each of ``runs`` (default: every run of the plan), from the latest rows
        of runs.csv and the checkpoints on disk; teachers' checkpoints are verified before students count on them."""
        latest = latest_rows(read_runs(self.paths.runs_csv))
        unfinished = {r.run_id for r in self.plan.runs if latest.get(r.run_id, {}).get("status") != "ok"}
        needed = {r.teacher_run for r in self.plan.runs if r.teacher_run and r.run_id in unfinished}
        by_id = {r.run_id: r for r in self.plan.runs}
        known: dict[str, RunStatus] = {}

        def status_of(run: RunSpec) -> RunStatus:
            if run.run_id not in known:
                known[run.run_id] = self._status(run, latest.get(run.run_id), run.run_id in needed, by_id, status_of)
            return known[run.run_id]

        return {r.run_id: status_of(r) for r in (self.plan.runs if runs is None else runs)}

    def finished_run_ids(self) -> set[str]:
        """The runs the sweep would skip: latest row ``ok`` and, for a teacher, a checkpoint that can teach."""
        return {run_id for run_id, status in self.statuses().items() if status.state == "done"}

    def _status(
        self,
        run: RunSpec,
        latest: dict[str, Any] | None,
        needed: bool,
        by_id: dict[str, RunSpec],
        status_of: Callable[[RunSpec], RunStatus],
    ) -> RunStatus:
        if latest is not None and latest["status"] == "ok":
            problem = self._teacher_checkpoint_problem(run) if needed else ""
            return RunStatus("redo", f"{problem}; it is trained again") if problem else RunStatus("done")
        own = self._unfinished_status(run, latest)
        if own.state == "failed":
            return own
        if run.teacher_checkpoint is not None:
            problem = self._supplied_problem(run.teacher_checkpoint)
            if problem:
                return RunStatus("blocked", problem)
        if run.teacher_run in by_id:  # a job's plan may hold its group only: its teacher is then another job's
            teacher = status_of(by_id[run.teacher_run])
            if teacher.state in ("failed", "blocked"):
                return RunStatus("blocked", f"its teacher {run.teacher} cannot teach: {teacher.note}")
        return own

    def _unfinished_status(self, run: RunSpec, latest: dict[str, Any] | None) -> RunStatus:
        path = self.paths.checkpoint(run.run_id)
        try:
            state = checkpoint.load(path)
        except CheckpointError as error:
            return RunStatus("failed", str(error))
        if state is not None:
            problem = checkpoint.diverged(state.get("history", []))
            if problem:
                return RunStatus("failed", f"{problem}: it stays failed (delete {path} to train it again)")
            return RunStatus("resume", f"after epoch {state.get('done')}")
        if latest is not None:
            return RunStatus("retry", f"its last attempt failed: {latest['error']}")
        return RunStatus("to do")

    def _teacher_checkpoint_problem(self, run: RunSpec) -> str:
        """Why the finished run's checkpoint cannot teach ("" when it can)."""
        try:
            checkpoint.load_teacher_state(self.paths.checkpoint(run.run_id), "", run.run_id)
        except CheckpointError as error:
            return str(error).rstrip(": ")
        return ""

    def _supplied_problem(self, supplied: TeacherCheckpoint) -> str:
        """Why a teacher checkpoint named by the suite cannot be used ("" when it can), checked once per file."""
        if supplied.path not in self._supplied:
            if not supplied.path.is_file():
                problem = f"teacher checkpoint {supplied.path} does not exist (suite key teacher_checkpoints)"
            elif (actual := sha256_of(supplied.path)) != supplied.sha256:
                problem = (
                    f"teacher checkpoint {supplied.path} has sha256 {actual}, the suite expects {supplied.sha256}: the "
                    f"file is damaged or another one; download it again (or fix the suite's sha256)"
                )
            else:
                problem = ""
            self._supplied[supplied.path] = problem
        return self._supplied[supplied.path]

    def data(self, run: RunSpec) -> ImageDataset:
        key = (run.dataset, run.normalization, run.train_subset, run.test_subset)
        if key not in self._data:
            full = load_dataset(run.dataset, self.options.data_dir)
            data = subset(full, run.train_subset, run.test_subset, seed=0)
            if run.normalization != "dataset":
                augment = normalized_as(data.augment, run.normalization)
                source = f"{data.source}; normalised with mean {augment.mean}, std {augment.std} ({run.normalization})"
                data = dataclasses.replace(data, augment=augment, source=source)
            self._data[key] = data
        return self._data[key]

    def load_all_data(self) -> None:
        """Load (and cache) the data of every run now, so that missing data fail before any training."""
        for run in self.plan.runs:
            self.data(run)

    def check_builds(self) -> None:
        """Build every model and method of the plan (:func:`cskd.suite.check_builds`) with the loaded data's input
        size and class count; raises :class:`~cskd.suite.SuiteError` naming the key to fix."""
        if self.plan.runs:
            data = self.data(self.plan.runs[0])
            check_builds(self.plan.suite, self.plan.profile, (data.input_size, data.num_classes))

    def verify_supplied_teachers(self) -> None:
        """Raise :class:`CheckpointError` now, before any training, when a teacher checkpoint the suite supplies is
        missing, not the file the suite names (sha256), damaged or not fitting its model."""
        statuses = self.statuses()
        checked = set()
        for run in self.plan.runs:
            supplied = run.teacher_checkpoint
            if supplied is None or supplied.path in checked or statuses[run.run_id].state == "done":
                continue
            checked.add(supplied.path)
            problem = self._supplied_problem(supplied)
            if problem:
                raise CheckpointError(problem)
            load_trained_model(
                run.teacher_model.name,
                run.teacher_model.kwargs,
                self.data(run).num_classes,
                supplied.path,
                EngineOptions(),
                fix="download it again (suite key teacher_checkpoints)",
            )

    def groups(self) -> list[list[RunSpec]]:
        """The plan's lockstep groups in training order (of at most ``lockstep_size`` runs), or one group per run
        without lockstep."""
        return self.plan.groups(self.options.lockstep_size if self.options.lockstep else 1)

    def sweep(self) -> SweepSummary:
        summary = SweepSummary()
        for group in self.groups():
            self._run_group(group, summary)
        return summary

    def _run_group(self, group: list[RunSpec], summary: SweepSummary) -> None:
        statuses = self.statuses(group)
        pending = [r for r in group if statuses[r.run_id].state != "done"]
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
            statuses = self.statuses(mine)  # the other runner may have just finished some
            summary.done_before += sum(statuses[r.run_id].state == "done" for r in mine)
            mine = [r for r in mine if statuses[r.run_id].state != "done"]
            for run in mine:
                if statuses[run.run_id].state == "redo":
                    self._set_aside(run, statuses[run.run_id].note)
            mine = [r for r in mine if not self._reuse(r)]
            if mine:
                self._train(mine, summary)
        finally:
            for lock in locks:
                lock.release()

    def _set_aside(self, run: RunSpec, why: str) -> None:
        """Move a finished teacher's unusable checkpoint out of the way (kept as ``.damaged``) to train it again."""
        path = self.paths.checkpoint(run.run_id)
        if path.exists():
            path.replace(path.with_name(path.name + ".damaged"))
        print(f"  {run.describe()}: {why}")

    def _reuse(self, run: RunSpec) -> bool:
        """Take a run finished with the same configuration (same run id) in another suite, instead of retraining it.

        Table 4's teacher is Table 3's, for example. Only a run whose latest row there is ``ok`` and whose checkpoint
        is intact, its own and finite is taken; the checkpoint and epoch CSV are copied (atomically) and the row is
        recorded again under this suite.
        """
        for runs_csv in sorted(self.options.results_dir.glob("*/runs.csv")):
            other = SuitePaths(runs_csv.parent)
            if other.root == self.paths.root or not other.checkpoint(run.run_id).exists():
                continue
            latest = latest_rows(read_runs(runs_csv)).get(run.run_id)
            if latest is None or latest["status"] != "ok":
                continue
            try:
                checkpoint.load_teacher_state(other.checkpoint(run.run_id), "", run.run_id)
            except CheckpointError as error:
                print(f"  not reusing {run.describe()} from suite {runs_csv.parent.name}: {error}")
                continue
            _copy_atomic(other.checkpoint(run.run_id), self.paths.checkpoint(run.run_id))
            if other.epochs_csv(run.run_id).exists():
                _copy_atomic(other.epochs_csv(run.run_id), self.paths.epochs_csv(run.run_id))
            best = best_path(other.checkpoint(run.run_id))  # hook (issue 21): its best-epoch weights with it
            if best.exists():
                _copy_atomic(best, best_path(self.paths.checkpoint(run.run_id)))
            row = {k: (None if v != v else v) for k, v in latest.items()}  # NaN -> empty
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
        """The trained teacher of ``run`` and its best top-1, from its run or a supplied checkpoint.

        Raises when it cannot teach: a teacher run whose latest row is not ``ok``, a checkpoint that is missing,
        damaged, of a diverged run or not fitting the model, a supplied file with the wrong sha256.
        """
        engine = self.options.engine
        if run.teacher_checkpoint is not None:
            supplied = run.teacher_checkpoint
            problem = self._supplied_problem(supplied)
            if problem:
                raise CheckpointError(problem)
            model = load_trained_model(
                run.teacher_model.name,
                run.teacher_model.kwargs,
                data.num_classes,
                supplied.path,
                engine,
                fix="download it again (suite key teacher_checkpoints)",
            )
            return model, evaluate(model, _test_loader(data, engine), engine)["test_top1"]
        with self.paths.lock(run.teacher_run):  # waits while another runner trains this teacher
            latest = latest_rows(read_runs(self.paths.runs_csv)).get(run.teacher_run)
        if latest is None or latest["status"] != "ok":
            state = "no row" if latest is None else f"its latest row: {latest['status']}: {latest['error']}"
            raise RuntimeError(f"teacher run {run.teacher_run} ({run.teacher}) has not finished successfully ({state})")
        model = load_trained_model(
            run.teacher_model.name,
            run.teacher_model.kwargs,
            data.num_classes,
            self.paths.checkpoint(run.teacher_run),
            engine,
            fix="run the sweep again: a finished teacher whose checkpoint cannot teach is trained again",
            run_id=run.teacher_run,
        )
        return model, float(latest["best_top1"])

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
                config=run_config(run),  # hook (issue 21): what --log trackers record
                log_dir=self.paths.root / "logs",
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
            "teacher_model": json.dumps(teacher_identity(run), sort_keys=True) if run.teacher_model else "",
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


def _copy_atomic(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` through a temporary file, so ``target`` is never a partial copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(target.name + ".copy.tmp")
    shutil.copyfile(source, temp)
    temp.replace(target)


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
