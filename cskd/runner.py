"""The batch runner: executes a plan group by group, skipping finished runs and resuming interrupted ones.

Every finished or failed run appends one row to ``results/<suite>/runs.csv`` (:class:`cskd.store.ResultsStore`); a
run's latest row is its state. Each pending run is guarded by a per-run file lock, so two runners on one suite share
the work instead of duplicating it: a run locked by the other runner is left to it (its students wait for a teacher it
is still training). What the runner does with each run (also what ``--dry-run`` prints) is its status
(:mod:`cskd.run_status`); each dataset is loaded once (:mod:`cskd.run_data`), each teacher loaded and checked by
:mod:`cskd.teachers`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import Timeout

from cskd import locations
from cskd.cost import run_work, sweep_clock
from cskd.data import ImageDataset
from cskd.data.files import resolve_data_dir
from cskd.engine.progress import EpochLog, SweepClock
from cskd.engine.trainer import (
    EngineOptions,
    RunOutcome,
    StudentJob,
    apply_global_flags,
    train_group,
)
from cskd.plan import Plan, RunSpec, check_builds, check_data
from cskd.repair import sweep_run_temporaries
from cskd.run_data import RunData
from cskd.run_status import RunStatus, RunStatuses
from cskd.settings import row_settings
from cskd.store import ResultsStore
from cskd.teachers import load_teacher, verify_supplied_teachers
from cskd.tracking import run_config


@dataclass
class RunnerOptions:
    results_dir: Path = field(default_factory=locations.results_dir)
    data_dir: Path | None = None
    engine: EngineOptions = field(default_factory=EngineOptions)
    lockstep: bool = True
    lockstep_size: int | None = None  # at most this many runs per lockstep group (None: every run sharing a stream)


@dataclass
class SweepSummary:
    done_before: int = 0
    trained: int = 0
    failed: int = 0
    left_to_others: int = 0


class Runner:
    """Runs a :class:`~cskd.plan.Plan`; data are loaded once and shared by every group."""

    def __init__(self, plan: Plan, options: RunnerOptions) -> None:
        self.plan = plan
        self.options = options
        self.store = ResultsStore(options.results_dir, plan.suite.name)
        self.paths = self.store.paths
        self.status = RunStatuses(plan.runs, self.store)
        self.data = RunData(options.data_dir)
        self.clock = SweepClock(suite=plan.suite.name)

    def statuses(self, runs: list[RunSpec] | None = None) -> dict[str, RunStatus]:
        """What the sweep would do now with each of ``runs`` (default: every run of the plan)."""
        return self.status.statuses(runs)

    def check_before_training(self) -> None:
        """Load every run's data and check what would fail only later, so that it fails now, before anything trains:
        training sets too small (:func:`cskd.plan.check_data`), models and methods that do not build at the loaded
        data's sizes (:func:`cskd.plan.check_builds`; an image folder's are only known now) and supplied teacher
        checkpoints (:func:`cskd.teachers.verify_supplied_teachers`). Raises ``DatasetError``, ``SuiteError`` or
        ``CheckpointError`` naming the problem."""
        self.data.load_all(self.plan.runs)
        check_data(self.plan, self.data.of)
        if self.plan.runs:
            first = self.data.of(self.plan.runs[0])
            check_builds(self.plan, (first.input_size, first.num_classes))
        verify_supplied_teachers(self.plan.runs, self.status, self.data)

    def groups(self) -> list[list[RunSpec]]:
        """The plan's lockstep groups in training order (of at most ``lockstep_size`` runs), or one group per run
        without lockstep."""
        return self.plan.groups(self.options.lockstep_size if self.options.lockstep else 1)

    def sweep(self) -> SweepSummary:
        summary = SweepSummary()
        pending = {run_id for run_id, status in self.statuses().items() if status.state != "done"}
        self.clock = sweep_clock(self.plan.suite.name, self.groups(), pending)  # hook (issue 18): epoch lines' ETAs
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
            # temporary files a killed writer left for this run, now that it is ours (cskd/repair.py)
            sweep_run_temporaries(self.paths.checkpoint(run.run_id), self.paths.epochs_csv(run.run_id))
        try:
            statuses = self.statuses(mine)  # the other runner may have just finished some
            summary.done_before += sum(statuses[r.run_id].state == "done" for r in mine)
            mine = [r for r in mine if statuses[r.run_id].state != "done"]
            for run in mine:
                if statuses[run.run_id].state == "redo":
                    self.store.set_aside(run, statuses[run.run_id].note)
            mine = [r for r in mine if not self.store.reuse(r)]
            if mine:
                self._train(mine, summary)
        finally:
            for lock in locks:
                lock.release()

    def _train(self, runs: list[RunSpec], summary: SweepSummary) -> None:
        first = runs[0]
        engine = EngineOptions(**{**self.options.engine.__dict__, "seed": first.seed})
        apply_global_flags(engine)  # before a supplied teacher is evaluated, as train_group does before training
        try:
            data = self.data.of(first)
            teacher, teacher_top1 = (
                (None, None)
                if first.teacher_run is None and first.teacher_checkpoint is None
                else load_teacher(first, data, engine, self.status)
            )
        except Exception as error:
            for run in runs:
                failed = RunOutcome(run.run_id, "failed", f"{type(error).__name__}: {error}")
                self.store.record(run, failed, None, None, engine.device, self._settings(run, None))
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
                log_dir=self.paths.tracker_logs_dir,
            )
            for run in runs
        ]
        print(f"training {len(runs)} run(s) in lockstep: " + "; ".join(r.describe() for r in runs))
        self.clock.begin_group()  # hook (issue 18): the group's epoch lines, with its number and the suite's ETA
        log = EpochLog(epochs=0, clock=self.clock, work=sum(run_work(runs).values()))
        outcomes = {o.run_id: o for o in train_group(jobs, data, first.recipe, engine, teacher, log)}
        for run in runs:
            outcome = outcomes[run.run_id]
            self.store.record(run, outcome, data, teacher_top1, engine.device, self._settings(run, data))
            if outcome.status == "ok":
                summary.trained += 1
                print(
                    f"  done {run.describe()}: best top-1 {outcome.best_top1:.2f} (epoch {outcome.best_epoch}), "
                    f"last {outcome.last_top1:.2f}, {outcome.wall_seconds:.0f}s"
                )
            else:
                summary.failed += 1
                print(f"  FAILED {run.describe()}: {outcome.error}")

    def _settings(self, run: RunSpec, data: ImageDataset | None) -> dict[str, Any]:
        """The recorded settings of ``run``'s row (:func:`cskd.settings.row_settings`)."""
        source = data.source if data is not None else None
        return row_settings(self.plan, run, self.options.engine, source, resolve_data_dir(self.options.data_dir))
