"""The batch runner: executes a plan group by group, skipping finished runs and resuming interrupted ones.

Every finished or failed run appends one row to ``results/<suite>/runs.csv`` (:class:`cskd.store.ResultsStore`); a
run's latest row is its state. Each pending run is guarded by a per-run file lock, so two runners on one suite share
the work instead of duplicating it: a run locked by the other runner is left to it (its students wait for a teacher it
is still training). What the runner does with each run (also what ``--dry-run`` prints) is its status
(:mod:`cskd.run_status`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import Timeout
from torch import nn

from cskd import locations
from cskd.cost import run_work, sweep_clock
from cskd.data import DeviceLoader, ImageDataset, load_subset
from cskd.data.augment import normalized_as
from cskd.data.files import resolve_data_dir
from cskd.engine.checkpoint import CheckpointError
from cskd.engine.progress import EpochLog, SweepClock
from cskd.engine.trainer import (
    EngineOptions,
    RunOutcome,
    StudentJob,
    apply_global_flags,
    evaluate,
    load_trained_model,
    train_group,
)
from cskd.plan import Plan, RunSpec, check_builds
from cskd.repair import sweep_run_temporaries
from cskd.run_status import RunStatus, RunStatuses
from cskd.settings import row_settings
from cskd.store import ResultsStore
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
        self._data: dict[tuple, ImageDataset] = {}
        self.clock = SweepClock(suite=plan.suite.name)

    def statuses(self, runs: list[RunSpec] | None = None) -> dict[str, RunStatus]:
        """What the sweep would do now with each of ``runs`` (default: every run of the plan)."""
        return self.status.statuses(runs)

    def finished_run_ids(self) -> set[str]:
        """The runs the sweep would skip (:meth:`cskd.run_status.RunStatuses.finished_run_ids`)."""
        return self.status.finished_run_ids()

    def data(self, run: RunSpec) -> ImageDataset:
        key = (run.dataset, run.normalization, run.train_subset, run.test_subset)
        if key not in self._data:
            # hook (issue 18): the subset from the full copy, or from the images shipped with cskd without it
            data = load_subset(run.dataset, self.options.data_dir, run.train_subset, run.test_subset, seed=0)
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
        """Build every model and method of the plan (:func:`cskd.plan.check_builds`) with the loaded data's input
        size and class count; raises :class:`~cskd.suite.SuiteError` naming the key to fix."""
        if self.plan.runs:
            data = self.data(self.plan.runs[0])
            check_builds(self.plan, (data.input_size, data.num_classes))

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
            problem = self.status.supplied_problem(supplied)
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

    def _teacher(self, run: RunSpec, data: ImageDataset) -> tuple[nn.Module, float | None]:
        """The trained teacher of ``run`` and its best top-1, from its run or a supplied checkpoint.

        Raises when it cannot teach: a teacher run whose latest row is not ``ok``, a checkpoint that is missing,
        damaged, of a diverged run or not fitting the model, a supplied file with the wrong sha256.
        """
        engine = self.options.engine
        if run.teacher_checkpoint is not None:
            supplied = run.teacher_checkpoint
            problem = self.status.supplied_problem(supplied)
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
            latest = self.store.latest().get(run.teacher_run)
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
        apply_global_flags(engine)  # before a supplied teacher is evaluated, as train_group does before training
        try:
            data = self.data(first)
            teacher, teacher_top1 = (
                (None, None)
                if first.teacher_run is None and first.teacher_checkpoint is None
                else self._teacher(first, data)
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
                log_dir=self.paths.root / "logs",
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
