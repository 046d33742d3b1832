"""Lockstep groups as jobs: what is left to train, which teacher each job waits for, and how long it may run.

A job is one lockstep group of the runner (:meth:`cskd.runner.Runner.groups`) minus its finished runs. A group of
students whose teacher run is not finished needs the job that trains it; a group whose runs are all finished is no
job at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cskd.bench.estimate import GroupCost, Rate, group_cost
from cskd.plan import RunSpec

#: a job's time limit is the estimate times this factor, plus :data:`TIME_MARGIN_MIN` (start-up, data loading)
TIME_FACTOR = 1.5
TIME_MARGIN_MIN = 15


@dataclass
class GroupJob:
    """One lockstep group's unfinished runs, the teacher run they need (when unfinished) and their cost."""

    runs: list[RunSpec]
    teacher_run: str | None
    cost: GroupCost | None
    cost_error: str = ""

    @property
    def key(self) -> str:
        """A stable name: the first run's id."""
        return self.runs[0].run_id

    def describe(self) -> str:
        first = self.runs[0]
        whose = f"students of {first.teacher}" if first.teacher else "teacher-free runs"
        labels = ", ".join(r.student if r.kind == "teacher" else f"{r.method.label} {r.student}" for r in self.runs)
        return f"{whose}, seed {first.seed}: {labels}"

    def hours(self, rate: Rate) -> float | None:
        return None if self.cost is None else rate.hours(self.cost.macs)


def pending_jobs(groups: list[list[RunSpec]], finished: set[str]) -> list[GroupJob]:
    """The jobs left: each group's runs not in ``finished``, teacher-free groups first (the runner's order)."""
    jobs = []
    for group in groups:
        runs = [r for r in group if r.run_id not in finished]
        if not runs:
            continue
        teacher = runs[0].teacher_run
        try:
            cost, error = group_cost(runs), ""
        except (ValueError, TypeError) as problem:
            cost, error = None, str(problem)
        jobs.append(GroupJob(runs, teacher if teacher and teacher not in finished else None, cost, error))
    return jobs


def time_limit_minutes(job: GroupJob, rate: Rate, given: int | None) -> int:
    """``given`` when set, else the estimate x :data:`TIME_FACTOR` + :data:`TIME_MARGIN_MIN`, rounded up to 5 min."""
    if given is not None:
        return given
    hours = job.hours(rate)
    if hours is None:
        raise ValueError(f"no time limit for the job of {job.describe()}: {job.cost_error}; give --time")
    return 5 * math.ceil((hours * 60 * TIME_FACTOR + TIME_MARGIN_MIN) / 5)


def format_hours(hours: float) -> str:
    """Hours with two significant digits below 10, whole hours above."""
    return f"{hours:,.0f}" if hours >= 10 else f"{hours:.2g}"


def format_minutes(minutes: int) -> str:
    """A SLURM time limit, D-HH:MM:SS."""
    days, rest = divmod(minutes, 1440)
    return f"{days}-{rest // 60:02d}:{rest % 60:02d}:00"
