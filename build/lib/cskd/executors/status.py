"""``cskd status``: where every run of a plan stands, from runs.csv, checkpoints, job records and squeue.

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
from cskd.results import read_runs
from cskd.runner import Runner

STATES = ("done", "running", "queued", "failed", "to do", "unknown")


@dataclass(frozen=True)
class RunStatus:
    run: RunSpec
    state: str
    detail: str


def run_statuses(runner: Runner) -> list[RunStatus]:
    """The status of every run of ``runner``'s plan, in training order."""
    rows = read_runs(runner.paths.runs_csv).drop_duplicates("run_id", keep="last").set_index("run_id")
    jobs = records.read_all(records.jobs_dir(runner.paths.root))
    slurm_jobs = records.squeue() if any(r.get("executor") == "slurm" for r in jobs) else None
    latest: dict[str, dict[str, Any]] = {}
    for record in jobs:  # oldest first: later records replace earlier ones
        latest.update({run["run_id"]: record for run in record.get("runs", [])})
    states = {record["path"]: records.liveness(record, slurm_jobs) for record in latest.values()}
    statuses = []
    for group in runner.groups():
        for run in group:
            row = rows.loc[run.run_id].to_dict() if run.run_id in rows.index else None
            record = latest.get(run.run_id)
            statuses.append(_status(runner, run, row, record, states[record["path"]] if record else None))
    return statuses


def _status(
    runner: Runner,
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
        return RunStatus(run, "running", f"{job} on {live.where or '?'} since {since}; {_progress(runner, run)}")
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
        return RunStatus(run, "failed", f"{job}: {reason}; log {log}; {_progress(runner, run)}")
    if row is not None:
        return RunStatus(run, "failed", f"{row['error']}" + (f" ({job}, log {log})" if record else ""))
    return RunStatus(run, "to do", _progress(runner, run) if runner.paths.checkpoint(run.run_id).exists() else "")


def _when(row: dict[str, Any] | None) -> str:
    return str(row["finished_at"]) if row is not None and isinstance(row.get("finished_at"), str) else ""


def _int(value: Any) -> str:
    return "?" if pd.isna(value) else str(int(value))


def _progress(runner: Runner, run: RunSpec) -> str:
    """Epochs recorded so far in the run's epoch CSV (a resubmitted run resumes after them)."""
    path = runner.paths.epochs_csv(run.run_id)
    if not path.exists() or not path.stat().st_size:
        return "no epoch recorded yet"
    phases = pd.read_csv(path)["phase"]
    init = int((phases == "init").sum())
    return f"epoch {int((phases == 'main').sum())}/{run.recipe.epochs} recorded" + (f" (+ {init} init)" if init else "")


def print_status(runner: Runner) -> dict[str, int]:
    """Print one line per run and the totals; the count of each state."""
    plan = runner.plan
    statuses = run_statuses(runner)
    print(f"suite {plan.suite.name} [{plan.profile.name}]: {runner.paths.root}")
    for status in statuses:
        print(f"  {status.state:<8} {status.run.run_id}  {status.run.describe():<45} {status.detail}")
    counts = {state: sum(s.state == state for s in statuses) for state in STATES}
    shown = ", ".join(f"{n} {state}" for state, n in counts.items() if n or state != "unknown")
    print(f"totals: {shown} ({len(statuses)} runs)")
    return counts
