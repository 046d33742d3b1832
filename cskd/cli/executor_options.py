"""The ``cskd run`` options that choose an executor, and the hand-over from ``cskd run`` to the chosen one.

``inprocess`` (the default) is the runner in this process; ``local`` and ``slurm`` send one job per lockstep group
through submitit (imported only here, when one of them is chosen).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cskd.cluster_config import ClusterConfig, ClusterConfigError, check_section, read_user_config, resolve
from cskd.cluster_config import user_config_path as default_user_config_path

if TYPE_CHECKING:
    from cskd.runner import Runner
    from cskd.suite import Suite

EXECUTORS = ("inprocess", "local", "slurm")
#: command-line option -> cluster setting
SLURM_OPTIONS = {
    "partition": "partition",
    "time": "time",
    "gpus_per_job": "gpus_per_job",
    "cpus_per_task": "cpus_per_task",
    "mem": "mem",
    "array_parallelism": "array_parallelism",
    "account": "account",
    "qos": "qos",
}


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("executors (docs/cluster.md)")
    group.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="inprocess",
        help="inprocess: this process trains the groups one after another (default); local: one submitit job per "
        "lockstep group over this machine's GPUs or CPU workers; slurm: one SLURM job per group",
    )
    group.add_argument(
        "--gpus",
        type=int,
        default=None,
        metavar="N",
        help="local: jobs at once, one per GPU (default: every visible GPU); without a GPU (or with --device cpu), "
        "N CPU workers sharing the cores (default 1)",
    )
    group.add_argument("--wait", action="store_true", help="slurm: wait until the submitted jobs end, then report")
    group.add_argument(
        "--cluster-config",
        type=Path,
        default=None,
        metavar="FILE",
        help="slurm: settings file (default: $CSKD_CLUSTER_CONFIG, else ~/.config/cskd/cluster.yaml)",
    )
    group.add_argument("--partition", default=None, help="slurm: partition")
    group.add_argument(
        "--time", default=None, help="slurm: time limit per job (minutes, HH:MM:SS or D-HH:MM:SS; default: estimated)"
    )
    group.add_argument("--gpus-per-job", type=int, default=None, metavar="N", help="slurm: GPUs per job (default 1)")
    group.add_argument(
        "--cpus-per-task", type=int, default=None, metavar="N", help="slurm: CPUs (torch threads) per job"
    )
    group.add_argument("--mem", default=None, help="slurm: memory per job, e.g. 32G")
    group.add_argument(
        "--array-parallelism", type=int, default=None, metavar="N", help="slurm: running tasks per job array"
    )
    group.add_argument("--account", default=None, help="slurm: account")
    group.add_argument("--qos", default=None, help="slurm: quality of service")
    group.add_argument(
        "--sbatch",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="slurm: an extra sbatch option, e.g. --sbatch constraint=a100 (repeatable)",
    )


def check_executor_arguments(args: argparse.Namespace) -> str | None:
    """The problem with the executor options as given (an option of another executor, a bad number), or None."""
    slurm_given = [f"--{o.replace('_', '-')}" for o in SLURM_OPTIONS if getattr(args, o) is not None]
    flags = {"--sbatch": bool(args.sbatch), "--wait": args.wait, "--cluster-config": args.cluster_config is not None}
    slurm_given += [flag for flag, given in flags.items() if given]
    if slurm_given and args.executor != "slurm" and not args.dry_run:
        return f"{', '.join(slurm_given)}: only with --executor slurm"
    if args.gpus is not None and args.executor != "local" and not args.dry_run:
        return "--gpus: only with --executor local (SLURM jobs take --gpus-per-job)"
    if args.gpus is not None and args.gpus < 1:
        return f"--gpus must be at least 1, got {args.gpus}"
    return None


def cluster_config(args: argparse.Namespace, suite: Suite) -> ClusterConfig:
    """SLURM settings: command line over the suite's ``cluster:`` section over the user's file over the defaults."""
    path = default_user_config_path(args.cluster_config)
    command_line: dict[str, Any] = {key: getattr(args, option) for option, key in SLURM_OPTIONS.items()}
    extra = {}
    for item in args.sbatch:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ClusterConfigError(f"--sbatch {item!r}: expected KEY=VALUE, e.g. --sbatch constraint=a100")
        extra[key] = value
    command_line = check_section({k: v for k, v in command_line.items() if v is not None}, "--") | (
        {"sbatch": extra} if extra else {}
    )
    return resolve(
        [
            (str(path), read_user_config(path, required=args.cluster_config is not None)),
            (f"{suite.path}: cluster", suite.cluster),
            ("the command line", command_line),
        ]
    )


def run_with_executor(runner: Runner, args: argparse.Namespace) -> int:
    """Send the plan of ``runner`` to ``args.executor``; the exit code."""
    import torch

    device = runner.options.engine.device
    try:
        if args.executor == "local":
            from cskd.executors.local import slots

            worker_slots = slots(args.gpus, args.device)
            device = torch.device("cuda" if worker_slots[0].gpu is not None else "cpu")
        else:
            config = cluster_config(args, runner.plan.suite)
            if args.device == "auto":  # chosen for the nodes the jobs run on, not for this one
                device = torch.device("cuda" if config.gpus_per_job > 0 else "cpu")
    except ValueError as error:
        print(f"error: {error}")
        return 2
    from cskd.executors.submission import Submission

    plan = runner.plan
    print(f"suite {plan.suite.name} [{plan.profile.name}] -> {runner.paths.root}")
    engine = dataclasses.replace(runner.options.engine, device=device, progress=False)
    submission = Submission(
        plan=plan,
        store=runner.store,
        status=runner.status,
        groups=runner.groups(),
        data_dir=runner.options.data_dir,
        lockstep=runner.options.lockstep,
        engine=engine,
    )
    submission.prepare()
    if args.executor == "local":
        from cskd.executors.local import run_local

        return run_local(submission, worker_slots)
    from cskd.executors.slurm import submit_slurm

    try:
        return submit_slurm(submission, config, args.wait)
    except ValueError as error:  # a job whose time limit cannot be estimated
        print(f"error: {error}")
        return 2
