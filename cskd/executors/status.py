"""Where every run of a plan stands across the executors, from runs.csv, checkpoints, job records and squeue (what
``cskd status`` prints: :mod:`cskd.cli.status_command`).

A run is ``done`` when runs.csv holds an ``ok`` row for it; else ``running`` or ``queued`` when the latest job that
covers it is (squeue, or the local process table); else ``failed`` when its latest row failed or its latest job ended
without finishing it (the job id, log path and the log's last error line say why); else ``to do``. ``unknown`` is a
SLURM job whose state cannot be asked here (no squeue). No accounting database (sacct) is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from cskd.executors import records
from cskd.plan import RunSpec
from cskd.store import ResultsStore

STATES = ("done", "running", "queued", "failed", "to do", "unknown")


@dataclass(frozen=True)
class RunStatus:
    run: RunSpec
    state: str
    detail: str


def run_statuses(store: ResultsStore, groups: list[list[RunSpec]]) -> list[RunStatus]:
    """The status of every run of ``groups`` (a plan's lockstep groups), in training order."""
    rows = store.latest()
    jobs = records.read_all(store.paths.jobs_dir)
    slurm_jobs = records.squeue() if any(r.get("executor") == "slurm" for r in jobs) else None
    latest: dict[str, dict[str, Any]] = {}
    for record in jobs:  # oldest first: later records replace earlier ones
        latest.update({run["run_id"]: record for run in record.get("runs", [])})
    states = {record["path"]: records.liveness(record, slurm_jobs) for record in latest.values()}
    statuses = []
    for group in groups:
        for run in group:
            row = rows.get(run.run_id)
            record = latest.get(run.run_id)
            statuses.append(_status(store, run, row, record, states[record["path"]] if record else None))
    return statuses


def _status(
    store: ResultsStore,
    run: RunSpec,
    row: dict[str, Any] | None,
    record: dict[str, Any] | None,
    live: records.Liveness | None,
) -> RunStatus:
    if row is not None and row["status"] == "ok":
        return RunStatus(run, "done", f"best top-1 {row['best_top1']:.2f} (epoch {_int(row['best_epoch'])})")
    job = f"{record['executor']} job {record.get('job_id') or '(not started)'}" if record else ""
    if record and live and live.state == "running":
        since = record.get("started_at") or "?"
        return RunStatus(run, "running", f"{job} on {live.where or '?'} since {since}; {_progress(store, run)}")
    if record and live and live.state == "queued":
        return RunStatus(run, "queued", f"{job}: {live.reason or 'waiting'}")
    if record and live and live.state == "unknown":
        return RunStatus(run, "unknown", f"{job}: {live.reason}")
    log = record.get("stderr") if record else None
    job_failed = record is not None and record.get("outcome") != "ok" and record.get("queued_at", "") >= _when(row)
    if job_failed and record.get("outcome") == "not run":
        return RunStatus(run, "to do", f"{job} not run: {record.get('error', '')}")
    if job_failed and not record.get("started_at"):
        return RunStatus(run, "to do", f"{job} never started (cancelled, or the job it waited for failed)")
    if job_failed:
        reason = records.last_error_line(log) or record.get("error") or "ended without a result"
        if not record.get("ended_at"):
            reason = f"ended without finishing (cancelled, killed or timed out): {reason}"
        return RunStatus(run, "failed", f"{job}: {reason}; log {log}; {_progress(store, run)}")
    if row is not None:
        return RunStatus(run, "failed", f"{row['error']}" + (f" ({job}, log {log})" if record else ""))
    return RunStatus(run, "to do", _progress(store, run) if store.paths.checkpoint(run.run_id).exists() else "")


def _when(row: dict[str, Any] | None) -> str:
    return str(row["finished_at"]) if row is not None and isinstance(row.get("finished_at"), str) else ""


def _int(value: Any) -> str:
    return "?" if pd.isna(value) else str(int(value))


def _progress(store: ResultsStore, run: RunSpec) -> str:
    """Epochs recorded so far in the run's epoch CSV (a resubmitted run resumes after them)."""
    path = store.paths.epochs_csv(run.run_id)
    if not path.exists() or not path.stat().st_size:
        return "no epoch recorded yet"
    phases = pd.read_csv(path)["phase"]
    init = int((phases == "init").sum())
    return f"epoch {int((phases == 'main').sum())}/{run.recipe.epochs} recorded" + (f" (+ {init} init)" if init else "")
