"""``--executor slurm``: one SLURM job per lockstep group, submitted through submitit, with SLURM's dependencies.

Groups that need no unfinished teacher go first, as one job array; the student groups of each teacher follow as
another array that starts ``afterok`` the job training that teacher (``--kill-on-invalid-dep=yes``: they are cancelled,
not left pending, when it fails). ``array_parallelism`` caps each array's running tasks. Each job's time limit is the
configured one or is sized from the cost estimate; when SLURM preempts a job or its time runs out, submitit's
checkpoint hook requeues it and the runner resumes every run from its last epoch checkpoint. The command returns
once the jobs are queued (``--wait``: once they have ended); ``cskd status`` follows them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import submitit

from cskd.bench.estimate import Rate, cpu_rate, gpu_rate
from cskd.executors import records
from cskd.executors.config import ClusterConfig
from cskd.executors.jobs import GroupJob, format_minutes, time_limit_minutes
from cskd.executors.submission import Submission, rows_of

#: how often ``--wait`` asks squeue
WAIT_POLL_SECONDS = 5.0


def rate_for(config: ClusterConfig, results_dir: Path) -> Rate:
    """The rate that sizes the jobs: the GPU's when jobs get GPUs, else the CPU's."""
    return gpu_rate(results_dir) if config.gpus_per_job > 0 else cpu_rate()


def waves(jobs: list[GroupJob]) -> list[tuple[str | None, list[GroupJob]]]:
    """Jobs by the teacher run they wait for (None first): one submission (an array when several) each."""
    batches: dict[str | None, list[GroupJob]] = {}
    for job in sorted(jobs, key=lambda j: j.teacher_run is not None):
        batches.setdefault(job.teacher_run, []).append(job)
    return list(batches.items())


def submit_slurm(submission: Submission, config: ClusterConfig, wait: bool) -> int:
    """Submit every job of ``submission``; 0 once queued (with ``wait``: 0 when every run ended ok, else 1)."""
    if not submission.jobs:
        print("nothing to submit: every run is done or in a job that is still queued or running")
        return 0
    executor = submitit.SlurmExecutor(folder=submission.logs_dir / "%j")
    rate = rate_for(config, submission.runner.options.results_dir)
    base: dict[str, Any] = {
        "job_name": f"cskd-{submission.runner.plan.suite.name}",
        "partition": config.partition,
        "gpus_per_node": config.gpus_per_job or None,
        "cpus_per_task": config.cpus_per_task,
        "mem": config.mem,
        "account": config.account,
        "qos": config.qos,
        "array_parallelism": config.array_parallelism,
        "setup": list(config.setup) or None,
    }
    trained_by: dict[str, str] = {}  # teacher run id -> the job id training it
    for record in submission.busy.values():
        if record.get("executor") == "slurm" and record.get("job_id"):
            trained_by.update({run["run_id"]: str(record["job_id"]) for run in record["runs"]})
    submitted: list[dict[str, Any]] = []
    for teacher, batch in waves(submission.jobs):
        after = None if teacher is None else trained_by.get(teacher)
        if teacher is not None and after is None:
            for job in batch:
                print(f"  not submitted: its teacher run {teacher} is trained outside SLURM; {job.describe()}")
            continue
        minutes = max(time_limit_minutes(job, rate, config.time_min) for job in batch)
        extra = dict(config.sbatch) | ({"kill-on-invalid-dep": "yes"} if after else {})
        executor.update_parameters(
            **base, time=minutes, dependency=f"afterok:{after}" if after else None, additional_parameters=extra
        )
        paths = [submission.record(job, "slurm", time_limit_min=minutes, depends_on=after) for job in batch]
        tasks = [submission.task(job, path, config.cpus_per_task) for job, path in zip(batch, paths, strict=True)]
        try:
            with executor.batch():
                handles = [executor.submit(task) for task in tasks]
        except Exception as error:  # sbatch refused (unknown partition, account, ...): say why, stop here
            for path in paths:
                records.update(path, ended_at=records.now(), outcome="not submitted", error=str(error))
            print(f"error: sbatch refused the jobs: {error}")
            return 2
        for job, path, handle in zip(batch, paths, handles, strict=True):
            fields = {"job_id": handle.job_id, "stdout": str(handle.paths.stdout), "stderr": str(handle.paths.stderr)}
            submitted.append(records.update(path, submitted_at=records.now(), **fields) | {"path": str(path)})
            trained_by.update({run.run_id: handle.job_id for run in job.runs if run.kind == "teacher"})
            when = f"after job {after}" if after else "now"
            print(f"  job {handle.job_id}: {job.describe()}; starts {when}, time limit {format_minutes(minutes)}")
            print(f"    log: {handle.paths.stderr}")
    print(f"{len(submitted)} job(s) submitted to SLURM (time limits sized from {rate.device} rate: {rate.basis})")
    if not wait:
        print(f"follow them with: cskd status {submission.runner.plan.suite.path} (same --profile/--results-dir)")
        return 0
    return wait_for(submission, submitted)


def wait_for(submission: Submission, submitted: list[dict[str, Any]]) -> int:
    """Block until none of the ``submitted`` jobs is queued or running; 0 when every one of their runs is ok."""
    ids = {str(r["job_id"]) for r in submitted}
    while True:
        queue = records.squeue()
        if queue is None:
            raise RuntimeError("squeue failed while waiting for the jobs; follow them with cskd status")
        if not ids & set(queue):
            break
        time.sleep(WAIT_POLL_SECONDS)
    run_ids = [run["run_id"] for record in submitted for run in record["runs"]]
    rows = {row["run_id"]: row for row in rows_of(submission.runner.paths.runs_csv, run_ids)}
    ok = sum(rows.get(run_id, {}).get("status") == "ok" for run_id in run_ids)
    print(f"the jobs have ended: {ok} of {len(run_ids)} run(s) ok")
    for record in submitted:
        final = records.read(Path(record["path"]))
        if any(rows.get(run["run_id"], {}).get("status") != "ok" for run in record["runs"]):
            reason = final.get("error") or records.last_error_line(final.get("stderr"))
            print(f"  job {final['job_id']} did not finish every run: {reason}\n    log: {final.get('stderr')}")
    return 0 if ok == len(run_ids) else 1
