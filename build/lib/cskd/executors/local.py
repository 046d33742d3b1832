"""``--executor local``: every GPU of this machine (or N CPU workers), one lockstep group per job, through submitit.

submitit's local executor starts each job at once and has no queue or dependencies, so this process keeps the queue:
each slot (a GPU, seen by its job as ``CUDA_VISIBLE_DEVICES=K``, or a CPU worker with its share of the cores as torch
threads) runs one job at a time; a group of students starts once its teacher's run is recorded ``ok`` in runs.csv and
is not run when that teacher's job failed. The command returns when every job has ended. Jobs write their own logs
(``RESULTS/<suite>/jobs/logs/<job>/``) and records, so ``cskd status`` follows them from another shell.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import submitit
import torch

from cskd.executors import records
from cskd.executors.jobs import GroupJob
from cskd.executors.submission import Submission, rows_of

#: submitit's local jobs are killed after their timeout: a year is no limit for a training run
NO_TIMEOUT_MIN = 365 * 24 * 60
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Slot:
    """Where one job runs at a time: a GPU index (None: a CPU worker) and the job's torch threads."""

    index: int
    gpu: int | None
    threads: int

    def describe(self) -> str:
        return f"GPU {self.gpu}" if self.gpu is not None else f"CPU worker {self.index + 1}"


def slots(count: int | None, device: str) -> list[Slot]:
    """``count`` GPUs (default: every visible GPU) when CUDA is present and ``device`` is not the CPU, else ``count``
    CPU workers (default 1); each slot's torch threads are its share of this machine's cores."""
    cores = os.cpu_count() or 1
    if device != "cpu" and torch.cuda.is_available():
        available = visible_gpu_indices()
        count = len(available) if count is None else count
        if count > len(available):
            raise ValueError(f"--gpus {count}: this machine has {len(available)} visible GPU(s) ({available})")
        return [Slot(i, available[i], max(1, cores // count)) for i in range(count)]
    if device.startswith("cuda"):
        raise ValueError(f"--device {device}: CUDA is not available on this machine; use --device auto or cpu")
    count = 1 if count is None else count
    return [Slot(i, None, max(1, cores // count)) for i in range(count)]


def visible_gpu_indices() -> list[int]:
    """The GPU indices a job may be given in ``CUDA_VISIBLE_DEVICES``: this process's own list, else 0..N-1."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return list(range(torch.cuda.device_count()))
    ids = [item.strip() for item in visible.split(",") if item.strip()]
    if not all(item.isdigit() for item in ids):
        raise ValueError(
            f"CUDA_VISIBLE_DEVICES={visible}: --executor local gives each job one GPU by its index; "
            "list indices there or unset it"
        )
    return [int(item) for item in ids]


@dataclass
class _Running:
    job: GroupJob
    slot: Slot
    record: Path
    handle: Any  # submitit.local.local.LocalJob


def run_local(submission: Submission, worker_slots: list[Slot]) -> int:
    """Run every job of ``submission`` over ``worker_slots``; 0 when all ended ``ok``, 1 otherwise."""
    jobs = submission.jobs
    if not jobs:
        print("nothing to submit: every run is done or in a job that is still queued or running")
        return 0
    executor = submitit.LocalExecutor(folder=submission.logs_dir / "%j")
    dispatcher = records.this_process()
    waiting = {job.key: submission.record(job, "local", dispatcher=dispatcher) for job in jobs}
    print(
        f"{len(jobs)} job(s), one per lockstep group, {len(worker_slots)} at a time "
        f"({', '.join(s.describe() for s in worker_slots)}; {worker_slots[0].threads} torch thread(s) each)"
    )
    producer = {run.run_id: job.key for job in jobs for run in job.runs}
    running: dict[int, _Running] = {}
    ended: dict[str, str] = {}  # job key -> "ok", "failed" or "not run"
    by_key = {job.key: job for job in jobs}
    try:
        while waiting or running:
            for index, active in list(running.items()):
                if not active.handle.done():
                    continue
                ended[active.job.key] = _finish(submission, active)
                del running[index]
            finished = submission.runner.finished_run_ids()
            for key in list(waiting):
                job = by_key[key]
                state = _teacher_state(job, finished, producer, ended, submission.busy)
                if state == "failed":
                    _not_run(waiting.pop(key), job)
                    ended[key] = "not run"
                    continue
                free = [s for s in worker_slots if s.index not in running]
                if state == "ok" and free:
                    running[free[0].index] = _start(executor, submission, job, free[0], waiting.pop(key))
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        for active in running.values():
            active.handle.cancel()
        for record in waiting.values():
            records.update(record, ended_at=records.now(), outcome="not run", error="the local dispatcher was stopped")
        print("interrupted: running jobs were stopped; run the same command again to resume them")
        return 130
    counts = {state: sum(v == state for v in ended.values()) for state in ("ok", "failed", "not run")}
    print(f"{len(jobs)} job(s): {counts['ok']} ok, {counts['failed']} failed, {counts['not run']} not run")
    if counts["ok"] < len(jobs):
        print("run the same command again to resubmit only what is left (or pick runs with --only KEY=VALUE)")
    return 0 if counts["ok"] == len(jobs) else 1


def _teacher_state(
    job: GroupJob, finished: set[str], producer: dict[str, str], ended: dict[str, str], busy: dict[str, dict]
) -> str:
    """``ok`` (no teacher needed, or its run is recorded ok), ``waiting`` or ``failed``."""
    teacher = job.teacher_run
    if teacher is None or teacher in finished:
        return "ok"
    if teacher in producer:
        return "failed" if producer[teacher] in ended else "waiting"
    if teacher in busy and records.liveness(busy[teacher], records.squeue()).state in ("queued", "running"):
        return "waiting"
    return "failed"


def _start(executor: Any, submission: Submission, job: GroupJob, slot: Slot, record: Path) -> _Running:
    gpus = {"gpus_per_node": 1, "visible_gpus": (slot.gpu,)} if slot.gpu is not None else {"gpus_per_node": 0}
    executor.update_parameters(timeout_min=NO_TIMEOUT_MIN, **gpus)
    handle = executor.submit(submission.task(job, record, slot.threads))
    controller = {"host": records.this_process()["host"], "pid": int(handle.job_id)}
    controller["start"] = records.process_start(controller["pid"])
    records.update(
        record,
        job_id=handle.job_id,
        controller=controller,
        submitted_at=records.now(),
        slot=slot.describe(),
        stdout=str(handle.paths.stdout),
        stderr=str(handle.paths.stderr),
    )
    print(f"started job {handle.job_id} on {slot.describe()}: {job.describe()}", flush=True)
    return _Running(job, slot, record, handle)


def _finish(submission: Submission, active: _Running) -> str:
    """Report an ended job (its runs' results, or why it failed with its log path) and close its record."""
    handle = active.handle
    try:
        handle.result()
        outcome = "ok"
    except Exception as error:  # the job raised, or was killed before it could write a result
        outcome = "failed"
        record = records.read(active.record)
        if not record.get("ended_at"):
            reason = records.last_error_line(handle.paths.stderr) or f"{type(error).__name__}: {error}".splitlines()[0]
            records.update(active.record, ended_at=records.now(), outcome="failed", error=f"ended early: {reason}")
    rows = rows_of(submission.runner.paths.runs_csv, [r.run_id for r in active.job.runs])
    print(f"{'finished' if outcome == 'ok' else 'FAILED'} job {handle.job_id} on {active.slot.describe()}:")
    for row in rows:
        if row["status"] == "ok":
            print(f"  done {row['method']} {row['student']} seed {row['seed']}: best top-1 {row['best_top1']:.2f}")
        else:
            print(f"  failed {row['method']} {row['student']} seed {row['seed']}: {row['error']}")
    if outcome == "failed":
        reason = records.read(active.record).get("error", "")
        print(f"  {reason}\n  log: {handle.paths.stderr}", flush=True)
    return outcome


def _not_run(record: Path, job: GroupJob) -> None:
    records.update(
        record, ended_at=records.now(), outcome="not run", error=f"its teacher run {job.teacher_run} did not finish ok"
    )
    print(f"not run (its teacher failed): {job.describe()}", flush=True)
