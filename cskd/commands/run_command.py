"""``cskd run SUITE``: train every run of a suite (or show the plan with ``--dry-run``)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from cskd.cli import add_engine_arguments, add_results_argument, engine_options
from cskd.commands.data_command import add_mirror_argument
from cskd.executors.cli import add_executor_arguments

if TYPE_CHECKING:
    from cskd.data import Availability

#: the keys of --only (cskd.plan.FILTER_KEYS, named here so that --help needs no import of the training stack)
ONLY_KEYS = ("kind", "teacher", "student", "method", "seed")


def add_plan_arguments(parser: argparse.ArgumentParser, as_given: bool = False) -> None:
    """The arguments that choose a plan's runs and groups: the suite, --profile, --only, --seeds, the results folder,
    --no-lockstep and --lockstep-size (``as_given``: for a command that shows the plan ``cskd run`` was given)."""

    def explained(text: str) -> str:
        return "as given to cskd run" if as_given else text

    parser.add_argument("suite", help="suite name (see `cskd list suites`) or path to a suite YAML file")
    parser.add_argument(
        "--profile", default=None, help=explained("a scaled-down profile declared in the suite (e.g. smoke)")
    )
    verb = "show" if as_given else "keep"
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"{verb} only matching runs (and the teachers they need); KEY in {', '.join(ONLY_KEYS)}; values match "
        "exactly (case-sensitive); repeatable",
    )
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=None, help=explained("override the suite's (profile's) seeds")
    )
    add_results_argument(parser)
    add_set_argument(parser)  # hook (issue 21): --set KEY=VALUE overrides
    parser.add_argument(
        "--no-lockstep",
        action="store_true",
        help=explained("train each run alone (each with its own teacher forward) instead of in lockstep groups"),
    )
    parser.add_argument(
        "--lockstep-size",
        type=group_size,
        default=None,
        metavar="N",
        help=explained(
            "at most N runs per lockstep group: a larger group is split into near-equal parts, each its own job "
            "(more jobs for --executor local/slurm to spread over workers, at the cost of one teacher forward per "
            "part)"
        ),
    )


def add_set_argument(parser: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE``, repeatable: a suite key changed for this command (cskd.overrides)."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change a key of the suite file for this command: KEY is its dotted path as the YAML nests it "
        "(recipe.lr, methods.CSKD.args.beta, profiles.smoke.epochs), VALUE a YAML value (0.05, [0, 1]); checked like "
        "the file; changes the run ids of the runs it changes; repeatable",
    )


def group_size(text: str) -> int:
    """--lockstep-size's value: a whole number >= 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1 (runs per lockstep group), got {text!r}")
    return int(text)


def lockstep_options(args: argparse.Namespace) -> dict[str, bool | int | None]:
    """The RunnerOptions fields of --no-lockstep and --lockstep-size."""
    return {"lockstep": not args.no_lockstep, "lockstep_size": args.lockstep_size}


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


def parse_only(items: list[str]) -> dict[str, str]:
    from cskd.suite import SuiteError

    only = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SuiteError(f"--only {item!r}: expected KEY=VALUE, e.g. --only method=KD")
        only[key] = value
    return only


def fail(message: object) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from cskd.commands.dry_run import print_plan
    from cskd.data import FETCHABLE, DatasetError, choose_dataset, fetch_dataset
    from cskd.engine.checkpoint import CheckpointError
    from cskd.executors.cli import check_executor_arguments, run_with_executor
    from cskd.locations import results_dir
    from cskd.plan import dataset_alternatives, expand
    from cskd.runner import Runner, RunnerOptions
    from cskd.suite import SuiteError, check_builds, load_suite

    try:
        suite = load_suite(args.suite, args.set)
        plan_alternatives = dataset_alternatives(suite, args.profile)
        data = choose_dataset(plan_alternatives, args.data_dir, download=not args.no_download, mirror=args.mirror)
        plan = expand(suite, args.profile, args.seeds, parse_only(args.only), dataset=data.name)
        check_builds(suite, plan.profile)  # every model and method, with the dataset's published sizes
    except (SuiteError, DatasetError) as error:
        return fail(error)
    problem = check_executor_arguments(args)
    if problem:
        return fail(problem)
    options = RunnerOptions(
        results_dir=results_dir(args.results_dir),
        data_dir=args.data_dir,
        engine=engine_options(args),
        **lockstep_options(args),
    )
    runner = Runner(plan, options)
    if args.dry_run:
        print_data(plan_alternatives, data, args)
        print_plan(runner, args)
        return 0
    try:  # missing data, an unbuildable model or a bad supplied teacher stop here, before anything trains
        if data.state == FETCHABLE and not args.no_download:
            print(f"fetching {data.name} before training: {data.detail} (--no-download to opt out)", flush=True)
            print(f"{data.name}: {fetch_dataset(data.name, args.data_dir, args.mirror)}", flush=True)
        runner.load_all_data()
        runner.check_builds()  # again with the loaded data's sizes (an image folder's are only known now)
        runner.verify_supplied_teachers()
    except (DatasetError, SuiteError, CheckpointError) as error:
        return fail(error)
    if args.executor != "inprocess":  # the device is chosen where the jobs run
        return run_with_executor(runner, args)
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
