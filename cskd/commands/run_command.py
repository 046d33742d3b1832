"""``cskd run SUITE``: train every run of a suite (or show the plan with ``--dry-run``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cskd.cli import add_engine_arguments, engine_options
from cskd.data import DatasetError
from cskd.executors.cli import add_executor_arguments, check_executor_arguments, run_with_executor
from cskd.plan import FILTER_KEYS, expand
from cskd.runner import REPO, Runner, RunnerOptions
from cskd.suite import SuiteError, load_suite


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "run",
        help="train every run of a suite (resumable)",
        description="Expand a suite (benchmarks/SUITE.yaml or a path) into runs and train them: teachers first, "
        "students sharing a teacher in lockstep on one teacher stream. Finished runs are skipped, interrupted ones "
        "resume from their last checkpoint, failed ones are recorded and the sweep goes on. Results: "
        "RESULTS_DIR/SUITE/runs.csv (one row per run) and epochs/RUN_ID.csv.",
    )
    parser.add_argument("suite", help="suite name (see `cskd list suites`) or path to a suite YAML file")
    parser.add_argument("--profile", default=None, help="a scaled-down profile declared in the suite (e.g. quick)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (one line per run with its estimated CPU- and GPU-hours), the totals and the jobs per "
        "executor, and exit",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"keep only matching runs (and the teachers they need); KEY in {', '.join(FILTER_KEYS)}; repeatable",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="override the suite's (profile's) seeds")
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=REPO / "results",
        help="where results/<suite>/ goes (default: the repository's results/)",
    )
    parser.add_argument(
        "--no-lockstep",
        action="store_true",
        help="train each run alone (each with its own teacher forward) instead of in lockstep groups",
    )
    add_engine_arguments(parser)
    add_executor_arguments(parser)
    parser.set_defaults(func=run)


def parse_only(items: list[str]) -> dict[str, str]:
    only = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SuiteError(f"--only {item!r}: expected KEY=VALUE, e.g. --only method=KD")
        only[key] = value
    return only


def run(args: argparse.Namespace) -> int:
    try:
        suite = load_suite(args.suite)
        plan = expand(suite, args.profile, args.seeds, parse_only(args.only))
    except SuiteError as error:
        print(f"error: {error}")
        return 2
    problem = check_executor_arguments(args)
    if problem:
        print(f"error: {problem}")
        return 2
    if args.dry_run or args.executor != "inprocess":  # the device is chosen where the jobs run
        runner = Runner(plan, RunnerOptions(args.results_dir, args.data_dir, lockstep=not args.no_lockstep))
        if not args.dry_run:
            return run_with_executor(runner, args)
        from cskd.commands.dry_run import print_plan

        print_plan(runner, args)
        return 0
    options = RunnerOptions(
        results_dir=args.results_dir, data_dir=args.data_dir, engine=engine_options(args), lockstep=not args.no_lockstep
    )
    runner = Runner(plan, options)
    try:
        runner.load_all_data()  # missing data stops here, before anything trains or any row is written
    except DatasetError as error:
        print(f"error: {error}")
        return 2
    summary = runner.sweep()
    print(
        f"{suite.name} [{plan.profile.name}]: {summary.trained} trained, {summary.done_before} already done, "
        f"{summary.failed} failed, {summary.left_to_others} left to another runner -> {runner.paths.runs_csv}"
    )
    return 1 if summary.failed else 0
