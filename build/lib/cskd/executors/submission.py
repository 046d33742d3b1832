"""What both job executors share: the jobs left, the jobs still alive from earlier submissions, records and tasks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cskd.bench.estimate import cpu_rate, gpu_rate
from cskd.data import resolve_data_dir
from cskd.executors import records
from cskd.executors.jobs import GroupJob, format_hours, pending_jobs
from cskd.executors.task import GroupTask
from cskd.runner import Runner


@dataclass
class Submission:
    """A plan about to be sent to an executor, and what earlier submissions are still doing."""

    runner: Runner  # the plan, the results paths and the grouping (the runner's own)
    engine: dict[str, Any]  # cskd.executors.task.ENGINE_ARGUMENTS as given to ``cskd run``
    jobs: list[GroupJob] = field(default_factory=list)  # what this submission sends
    busy: dict[str, dict[str, Any]] = field(default_factory=dict)  # run id -> record of a job queued or running

    @property
    def jobs_dir(self) -> Path:
        return records.jobs_dir(self.runner.paths.root)

    @property
    def logs_dir(self) -> Path:
        return self.jobs_dir / "logs"

    def prepare(self) -> None:
        """Find the jobs left, leaving out every group a job queued or running earlier already covers."""
        slurm_jobs = records.squeue()
        for record in records.read_all(self.jobs_dir):
            state = records.liveness(record, slurm_jobs)
            if state.state in ("queued", "running"):
                self.busy.update({run["run_id"]: record for run in record["runs"]})
            elif state.state == "unknown":
                print(f"note: job {record.get('job_id')} ({record['path']}): state unknown ({state.reason})")
        finished = self.runner.finished_run_ids()
        for job in pending_jobs(self.runner.groups(), finished):
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
        plan = self.runner.plan
        cpu, gpu = (job.hours(rate) for rate in (cpu_rate(), gpu_rate(self.runner.options.results_dir)))
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
        options = self.runner.options
        return GroupTask(
            suite=self.runner.plan.suite,
            profile=self.runner.plan.profile,
            runs=job.runs,
            results_dir=options.results_dir.resolve(),
            data_dir=resolve_data_dir(options.data_dir),
            engine=self.engine,
            lockstep=options.lockstep,
            record=record,
            threads=threads,
        )

    def describe_estimate(self, job: GroupJob) -> str:
        hours = job.hours(cpu_rate())
        return "cost unknown" if hours is None else f"~{format_hours(hours)} CPU-h here"


def rows_of(runs_csv: Path, run_ids: list[str]) -> list[dict[str, Any]]:
    """The latest row of each run in ``run_ids`` that has one."""
    from cskd.results import read_runs

    rows = read_runs(runs_csv)
    latest = rows.drop_duplicates("run_id", keep="last").set_index("run_id")
    return [latest.loc[run_id].to_dict() | {"run_id": run_id} for run_id in run_ids if run_id in latest.index]
