"""``cskd status SUITE``: every run of a suite done, running, queued, failed or to do, with the totals."""

from __future__ import annotations

import argparse

from cskd.commands.run_command import add_plan_arguments, fail, lockstep_options, parse_only


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "status",
        help="where every run of a suite stands: done, running, queued, failed, to do",
        description="One line per run of the plan: done (its best top-1), running (job, where, since when, epochs "
        "recorded), queued (job, why it waits), failed (job id, log path, the log's last error line, or the error "
        "of its row), to do; then the totals. Reads RESULTS_DIR/SUITE/runs.csv, the epoch CSVs and checkpoints, the "
        "job records of --executor local|slurm (RESULTS_DIR/SUITE/jobs/) and squeue; no accounting database needed.",
    )
    add_plan_arguments(parser, as_given=True)
    parser.set_defaults(func=status)


def status(args: argparse.Namespace) -> int:
    from cskd.executors.status import print_status
    from cskd.locations import results_dir
    from cskd.plan import expand
    from cskd.runner import Runner, RunnerOptions
    from cskd.suite import SuiteError, load_suite

    try:
        plan = expand(load_suite(args.suite, args.set), args.profile, args.seeds, parse_only(args.only))
    except SuiteError as error:
        return fail(error)
    print_status(Runner(plan, RunnerOptions(results_dir(args.results_dir), **lockstep_options(args))))
    return 0
