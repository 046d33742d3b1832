"""``cskd run --dry-run``: the plan, one line per run with its estimated hours, the totals, and the jobs per executor.

Hours come from :mod:`cskd.cost` (MACs of every run's schedule, init stages included, over a stated rate);
the basis of both rates is printed under the totals.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from cskd.cli.executor_options import cluster_config
from cskd.cluster_config import ClusterConfigError
from cskd.cost import GroupCost, Rate, cpu_rate, gpu_rate, group_cost
from cskd.executors.jobs import format_hours, format_minutes, pending_jobs, time_limit_minutes
from cskd.learned_rates import calibrated
from cskd.plan import Plan, RunSpec
from cskd.run_status import RunStatuses
from cskd.store import ResultsStore


def print_plan(plan: Plan, store: ResultsStore, groups: list[list[RunSpec]], args: argparse.Namespace) -> None:
    """Print what a sweep of ``plan`` (its lockstep ``groups``) would do with each run, given the results in
    ``store`` (:class:`cskd.run_status.RunStatuses`, as the runner decides), its cost and its jobs."""
    statuses = RunStatuses(plan.runs, store).statuses()
    finished = {run_id for run_id, status in statuses.items() if status.state == "done"}
    results = store.results_dir  # hook (issue 18): rates learned from the runs recorded (cskd.learned_rates)
    suite = plan.suite.name
    cpu, gpu = calibrated(cpu_rate(), "cpu", results, suite), calibrated(gpu_rate(results), "cuda", results, suite)
    print(f"suite {plan.suite.name} [{plan.profile.name}] on {plan.runs[0].dataset if plan.runs else '-'}")
    if plan.suite.overrides:  # hook (issue 21)
        print(f"  with --set {' --set '.join(plan.suite.overrides)}")
    total = {"all": [0.0, 0.0], "left": [0.0, 0.0]}
    unknown: list[str] = []
    counts: Counter[str] = Counter()
    for group in groups:
        try:
            cost: GroupCost | None = group_cost(group)
        except (ValueError, TypeError) as error:
            cost = None
            unknown.append(f"{group[0].describe().strip()} and its group: {error}")
        for run in group:
            status = statuses[run.run_id]
            counts[status.state] += 1
            why = f"  ({status.note})" if status.state in ("failed", "blocked", "redo") else ""
            print(f"  [{status.state:>6}] {run.run_id}  {run.describe():<45} {_cost(run, cost, cpu, gpu)}{why}")
            if cost is not None:
                for key in ("all",) + (("left",) if status.state != "done" else ()):
                    total[key][0] += cpu.hours(cost.run_macs[run.run_id])
                    total[key][1] += gpu.hours(cost.run_macs[run.run_id])
    stuck = "".join(f", {counts[s]} {s}" for s in ("failed", "blocked") if counts[s])
    to_do = len(plan.runs) - counts["done"] - counts["failed"] - counts["blocked"]
    print(f"{len(plan.runs)} runs ({counts['done']} done, {to_do} to do{stuck})")
    print(
        f"estimated hours: {format_hours(total['left'][0])} CPU-hours or {format_hours(total['left'][1])} GPU-hours "
        f"left to do; all runs {format_hours(total['all'][0])} CPU-hours or {format_hours(total['all'][1])} GPU-hours"
        + (" (without the runs of unknown cost below)" if unknown else "")
    )
    print(f"  CPU: {cpu.basis}")
    print(f"  GPU: {gpu.basis}")
    print("  counted: every epoch of every run, init stages included, the teacher's forward shared by its lockstep")
    print("  group; not counted: the per-epoch evaluation (about 7% more on CIFAR)")
    for line in unknown:
        print(f"  cost unknown: {line}")
    _print_jobs(plan, groups, results, args, finished)


def _cost(run: RunSpec, cost: GroupCost | None, cpu: Rate, gpu: Rate) -> str:
    if cost is None:
        return "cost unknown"
    macs = cost.run_macs[run.run_id]
    init = cost.init_epochs[run.run_id]
    schedule = f"{run.recipe.epochs} ep" + (f" + {init} init" if init else "") + f" x {cost.images:,} img"
    return f"{format_hours(cpu.hours(macs))} CPU-h, {format_hours(gpu.hours(macs))} GPU-h ({schedule})"


def _print_jobs(
    plan: Plan, groups: list[list[RunSpec]], results: Path, args: argparse.Namespace, finished: set[str]
) -> None:
    """How each executor would run what is left."""
    jobs = pending_jobs(groups, finished)
    waves = len({job.teacher_run for job in jobs})
    print(f"jobs for what is left: {len(jobs)} lockstep group(s) of {len(groups)}")
    print(f"  --executor inprocess (default): this process trains the {len(jobs)} group(s) one after another")
    print(
        f"  --executor local: {len(jobs)} job(s), one per group, one at a time per GPU (or CPU worker); "
        "students start once their teacher is done"
    )
    try:
        config = cluster_config(args, plan.suite)
    except ClusterConfigError as error:
        print(f"  --executor slurm: {len(jobs)} job(s); settings invalid: {error}")
        return
    rate = gpu_rate(results) if config.gpus_per_job > 0 else cpu_rate()
    try:
        limits = sorted(time_limit_minutes(job, rate, config.time_min) for job in jobs)
        if limits:
            last = f" to {format_minutes(limits[-1])}" if limits[-1] != limits[0] else ""
            sized = "as set" if config.time_min else f"from the {rate.device} estimate x1.5 + 15 min"
            limit = f"time limit {format_minutes(limits[0])}{last} ({sized})"
        else:
            limit = "no time limit needed"
    except ValueError as error:
        limit = f"time limit unknown ({error})"
    print(
        f"  --executor slurm: {len(jobs)} job(s) in {waves} submission(s) (a job array per dependency), "
        f"{config.gpus_per_job} GPU(s) each, {limit}"
    )
