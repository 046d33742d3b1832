"""What both job executors share: the jobs left, the jobs still alive from earlier submissions, records and tasks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cskd.cost import cpu_rate, gpu_rate
from cskd.data import resolve_data_dir
from cskd.engine.trainer import EngineOptions
from cskd.executors import records
from cskd.executors.jobs import GroupJob, format_hours, pending_jobs
from cskd.executors.task import GroupTask
from cskd.plan import Plan, RunSpec
from cskd.run_status import RunStatuses
from cskd.store import ResultsStore


@dataclass
class Submission:
    """A plan about to be sent to an executor, and what earlier submissions are still doing."""

    plan: Plan
    store: ResultsStore  # the suite's results: paths, latest rows
    status: RunStatuses  # which runs are finished
    groups: list[list[RunSpec]]  # the plan's lockstep groups, in training order
    data_dir: Path | None
    lockstep: bool
    engine: EngineOptions  # what each job trains with (``cskd run``'s, on the device the jobs run on)
    jobs: list[GroupJob] = field(default_factory=list)  # what this submission sends
    busy: dict[str, dict[str, Any]] = field(default_factory=dict)  # run id -> record of a job queued or running

    @property
    def jobs_dir(self) -> Path:
        return self.store.paths.jobs_dir

    @property
    def logs_dir(self) -> Path:
        return self.store.paths.logs_dir

    def prepare(self) -> None:
        """Find the jobs left, leaving out every group a job queued or running earlier already covers."""
        slurm_jobs = records.squeue()
        for record in records.read_all(self.jobs_dir):
            state = records.liveness(record, slurm_jobs)
            if state.state in ("queued", "running"):
                self.busy.update({run["run_id"]: record for run in record["runs"]})
            elif state.state == "unknown":
                print(f"note: job {record.get('job_id')} ({record['path']}): state unknown ({state.reason})")
        finished = self.status.finished_run_ids()
        for job in pending_jobs(self.groups, finished):
            taken = [r for r in job.runs if r.run_id in self.busy]
            if taken:
                record = self.busy[taken[0].run_id]
                print(f"  already {record['executor']} job {record.get('job_id') or '(queued)'}: {job.describe()}")
                if len(taken) < len(job.runs):
                    print("    (part of this group is not in that job: run again once it ends to train the rest)")
                continue
            self.jobs.append(job)

    def record(self, job: GroupJob, executor: str, **fields: Any) -> Path:
        """A new record for ``job`` in ``RESULTS/<suite>/jobs/``."""
        plan = self.plan
        cpu, gpu = (job.hours(rate) for rate in (cpu_rate(), gpu_rate(self.store.results_dir)))
        return records.create(
            self.jobs_dir,
            executor=executor,
            suite=plan.suite.name,
            profile=plan.profile.name,
            runs=[{"run_id": r.run_id, "describe": r.describe()} for r in job.runs],
            teacher_run=job.teacher_run,
            estimate={"cpu_hours": cpu, "gpu_hours": gpu},
            submitted_from=records.this_process(),
            **fields,
        )

    def task(self, job: GroupJob, record: Path, threads: int | None) -> GroupTask:
        return GroupTask(
            suite=self.plan.suite,
            profile=self.plan.profile,
            runs=job.runs,
            results_dir=self.store.results_dir.resolve(),
            data_dir=resolve_data_dir(self.data_dir),
            engine=self.engine,
            lockstep=self.lockstep,
            record=record,
            threads=threads,
        )

    def describe_estimate(self, job: GroupJob) -> str:
        hours = job.hours(cpu_rate())
        return "cost unknown" if hours is None else f"~{format_hours(hours)} CPU-h here"
