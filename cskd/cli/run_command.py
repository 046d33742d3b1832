"""``cskd run SUITE``: train every run of a suite (or show the plan with ``--dry-run``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cskd.cli.arguments import (
    add_engine_arguments,
    add_plan_arguments,
    check_engine_arguments,
    engine_options,
    fail,
    lockstep_groups,
    lockstep_options,
)
from cskd.cli.data_command import add_mirror_argument
from cskd.cli.executor_options import add_executor_arguments

if TYPE_CHECKING:
    from cskd.data import Availability


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "run",
        help="train every run of a suite (resumable)",
        description="Expand a suite (benchmarks/SUITE.yaml or a path) into runs and train them: teachers first, "
        "students sharing a teacher in lockstep on one teacher stream. Finished runs are skipped, interrupted ones "
        "resume from their last checkpoint, failed ones are recorded and the sweep goes on (a diverged run stays "
        "failed). A missing dataset is fetched (official archive, checksum-verified) unless --no-download. The suite, "
        "its models and methods and the data are all checked before anything trains. Results: "
        "RESULTS_DIR/SUITE/runs.csv (one row per run) and epochs/RUN_ID.csv.",
    )
    add_plan_arguments(parser)
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (the data, then one line per run: what the sweep would do, its estimated CPU- and "
        "GPU-hours), the totals and the jobs per executor, and exit; fetches nothing",
    )
    parser.add_argument(
        "--no-download",
        action="store_true",
        help="never fetch a missing dataset (it is then an error naming how to supply it)",
    )
    add_mirror_argument(parser)
    add_engine_arguments(parser)
    add_executor_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cskd.cli.dry_run import print_plan
    from cskd.cli.executor_options import check_executor_arguments, run_with_executor
    from cskd.cli.plan_options import resolve_plan
    from cskd.data import FETCHABLE, DatasetError, fetch_dataset
    from cskd.engine.checkpoint import CheckpointError
    from cskd.locations import results_dir
    from cskd.plan import check_builds, check_plan
    from cskd.store import ResultsStore
    from cskd.suite import SuiteError, load_suite

    try:
        suite = load_suite(args.suite, args.set)  # --set overrides, checked like the file (cskd.overrides)
        plan, data, plan_alternatives = resolve_plan(suite, args)  # the rule status shares (cskd/cli/plan_options.py)
        check_builds(plan)  # every model and every run's method, with the dataset's published sizes
        check_plan(plan)  # seeds (--seeds), widths, batch vs subset (bounds: cskd/limits.py)
    except (SuiteError, DatasetError) as error:
        return fail(error)
    problem = check_executor_arguments(args)
    if problem:
        return fail(problem)
    if args.dry_run:  # the plan, without a runner: torch only to check a --device or --amp given
        store = ResultsStore(results_dir(args.results_dir), plan.suite.name)
        check_engine_arguments(args)  # checked in the order training checks them, before anything is printed
        groups = lockstep_groups(plan, args)
        print_data(plan_alternatives, data, args)
        print_plan(plan, store, groups, args)
        return 0
    from cskd.engine.speed import COMPILE_CACHE, use_compile_cache
    from cskd.repair import repair_torn_tail
    from cskd.runner import Runner, RunnerOptions
    from cskd.stopping import stop_between_steps

    options = RunnerOptions(
        results_dir=results_dir(args.results_dir),
        data_dir=args.data_dir,
        engine=engine_options(args),
        **lockstep_options(args),
    )
    if options.engine.compile:  # compiled kernels kept with the results, so a sweep compiles each graph once
        use_compile_cache(options.results_dir / COMPILE_CACHE)
    runner = Runner(plan, options)
    try:  # missing data, an unbuildable model or a bad supplied teacher stop here, before anything trains
        if data.state == FETCHABLE and not args.no_download:
            print(f"fetching {data.name} before training: {data.detail} (--no-download to opt out)", flush=True)
            print(f"{data.name}: {fetch_dataset(data.name, args.data_dir, args.mirror)}", flush=True)
        runner.check_before_training()  # the loaded data, the builds at its sizes, the supplied teachers
    except (DatasetError, SuiteError, CheckpointError) as error:
        return fail(error)
    if args.executor != "inprocess":  # the device is chosen where the jobs run
        return run_with_executor(runner, args)
    repair_torn_tail(runner.paths.runs_csv)  # a torn last row is set aside once (cskd/repair.py)
    with stop_between_steps():  # SIGTERM/SIGINT stop between steps (cskd/stopping.py)
        summary = runner.sweep()
    print(
        f"{suite.name} [{plan.profile.name}]: {summary.trained} trained, {summary.done_before} already done, "
        f"{summary.failed} failed, {summary.left_to_others} left to another runner -> {runner.paths.runs_csv}"
    )
    return 1 if summary.failed else 0


def print_data(alternatives: tuple[str, ...], chosen: Availability, args: argparse.Namespace) -> None:
    """The data the runs would use, and what a real run would do about it (nothing is fetched here)."""
    from cskd.data import FETCHABLE, PRESENT, availability

    if chosen.state == PRESENT:
        action = f"present at {chosen.detail}"
    elif chosen.state == FETCHABLE and not args.no_download:
        action = f"will be fetched before training: {chosen.detail}"
    elif chosen.state == FETCHABLE:
        action = f"missing (--no-download: not fetched; {chosen.detail}). `cskd data fetch {chosen.name}` fetches it"
    else:
        action = f"missing and not fetchable. {chosen.detail}"
    print(f"data: {chosen.name}: {action}")
    for name in alternatives[: alternatives.index(chosen.name)]:
        other = availability(name, args.data_dir, args.mirror)
        print(f"  (preferred {name} is {other.state}: {other.detail})")
