"""``cskd status SUITE``: every run of a suite done, running, queued, failed or to do, with the totals."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cskd.cli.arguments import add_plan_arguments, fail, lockstep_groups
from cskd.cli.plan_options import add_data_arguments

if TYPE_CHECKING:
    from cskd.plan import Plan, RunSpec
    from cskd.store import ResultsStore


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
    add_data_arguments(parser)  # hook (issue 18): the data options and dataset rule of cskd run
    parser.set_defaults(func=status)


def status(args: argparse.Namespace) -> int:
    from cskd.cli.plan_options import resolve_plan
    from cskd.data import DatasetError
    from cskd.locations import results_dir
    from cskd.store import ResultsStore
    from cskd.suite import SuiteError, load_suite

    try:
        plan, _, _ = resolve_plan(load_suite(args.suite, args.set), args)  # hook (issue 18): the plan cskd run makes
    except (SuiteError, DatasetError) as error:
        return fail(error)
    print_status(plan, ResultsStore(results_dir(args.results_dir), plan.suite.name), lockstep_groups(plan, args))
    return 0


def print_status(plan: Plan, store: ResultsStore, groups: list[list[RunSpec]]) -> dict[str, int]:
    """Print one line per run of ``plan`` (its lockstep ``groups``) and the totals; the count of each state."""
    from cskd.executors.status import STATES, run_statuses

    statuses = run_statuses(store, groups)
    print(f"suite {plan.suite.name} [{plan.profile.name}]: {store.paths.root}")
    for status in statuses:
        print(f"  {status.state:<8} {status.run.run_id}  {status.run.describe():<45} {status.detail}")
    counts = {state: sum(s.state == state for s in statuses) for state in STATES}
    shown = ", ".join(f"{n} {state}" for state, n in counts.items() if n or state != "unknown")
    print(f"totals: {shown} ({len(statuses)} runs)")
    return counts
