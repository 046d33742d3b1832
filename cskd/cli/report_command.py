"""The ``cskd report`` and ``cskd check`` subcommands (added to the main parser by :mod:`cskd.cli.main`).

Exit codes: 0 success (check: every cell within the tolerance), 1 check failure (a cell outside the tolerance or
missing), 2 bad input (unknown suite, no runs.csv, several profiles without ``--profile``, ...).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cskd.cli.arguments import add_results_argument
from cskd.locations import SuitePaths
from cskd.report.errors import ReportInputError

if TYPE_CHECKING:  # pandas and matplotlib are imported when a command runs, not to answer --help
    import pandas as pd

    from cskd.report.suites import SuiteLike

#: which epoch's accuracy a table shows (cskd.report.cells.EPOCH_RULES, named here so --help imports no pandas)
EPOCH_RULES = ("best", "last")
#: --against values naming the suite's printed table: the CSKD paper's or a published one ("published" requires one)
PAPER_WORDS = ("paper", "published")
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

REPORT_DESCRIPTION = """\
Render a suite's results as the paper's table: reports/<suite>.md (Markdown), .tex (booktabs LaTeX) and .csv (one
row per cell), figures in reports/figures/ (difference to the paper as a heatmap, the ablation as bars, test accuracy
per epoch for each pair) and the index reports/README.md.

Each cell is "mean ± sample std (n=seeds)" over the successful runs; a cell without runs shows "—", one whose runs all
failed shows "failed". Then the gain over the suite's baseline (CE by default), the paper's (or published) value and
the difference (reproduced − paper), and the paired differences over seeds the suite's `report: paired` names, with
95% Student-t intervals and which of them are distinguishable from seed noise. The caption (one sentence) and its
notes say which accuracy (best or last epoch), profile, recipe, data (name, source, sha256) and seeds the numbers are.

--rerun RESULTS names another training of the same runs (the same run ids: the committed reference, or a rerun on
another machine); the report then states the measured noise floor: how far the same runs and cell means moved.

A report of a profile other than "full" is written as reports/<suite>-<profile>.*, one of last-epoch accuracy as
reports/<suite>[-<profile>]-last.*, so no report overwrites another.
"""

CHECK_DESCRIPTION = """\
Compare a suite's results with the paper's numbers or with a reference runs.csv, cell by cell: each cell is the mean
over seeds of one teacher / student / method (top-1, and top-5 where the reference has it). Prints every compared cell
(expected, got, difference, pass/FAIL/missing).

--against paper: the cells of the suite's paper table (benchmarks/paper_results.csv, or the published values of
benchmarks/published_results.csv) that the suite declares (the suite is the one named in runs.csv, or --suite), each
at the epoch its source reports (--metric where the source states none); --against published: the same, for a suite
whose table is of published_results.csv.
--against FILE: every successful cell of a reference runs.csv of the same suite, profile and data (FILE may be a
results/<suite> folder).

A cell expected but without a successful result counts as "missing", a failure. Exit status: 0 all cells within the
tolerance, 1 any cell outside it or missing, 2 bad input.
"""


def _load_suite(name_or_path: str, overrides: list[str] | None = None) -> SuiteLike:
    from cskd.suite import load_suite  # the suite module imports the training stack; only the commands need it

    try:
        return load_suite(name_or_path, overrides or ())
    except (ValueError, KeyError, OSError) as error:
        raise ReportInputError(f"cannot load suite {name_or_path!r}: {error}") from error


def _runs_file(path: Path) -> Path:
    """A runs.csv given as itself or as the results folder holding it."""
    return SuitePaths(path).runs_csv if path.is_dir() else path


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metric",
        choices=EPOCH_RULES,
        default="best",
        help="accuracy at the best epoch (highest test accuracy, as the official code reports) or at the last epoch "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--profile",
        metavar="NAME",
        help="the suite profile to use, e.g. full or smoke (default: the only profile present; required when the "
        "runs hold several, since a table never mixes profiles)",
    )


def add_report_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "report",
        help="render a suite's results as the paper's tables and figures",
        description=REPORT_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("suite", metavar="SUITE", help="suite name (benchmarks/<SUITE>.yaml) or path to a suite YAML")
    add_results_argument(parser)
    parser.add_argument("--reports-dir", type=Path, default=None, help="where reports are written (default: ./reports)")
    parser.add_argument(
        "--rerun",
        metavar="RESULTS",
        type=Path,
        default=None,
        help="another training of the same runs (a runs.csv, a results/<suite> folder, or a results folder holding "
        "<suite>/runs.csv): the report adds how far the same run ids moved, its measured noise floor",
    )
    _add_common(parser)
    from cskd.cli.arguments import add_set_argument

    add_set_argument(parser)  # hook (issue 21): the report of the runs made with these --set overrides only
    parser.set_defaults(func=run_report)
    return parser


def add_check_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "check",
        help="compare results with the paper or a reference runs.csv; non-zero exit on a regression",
        description=CHECK_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("results", metavar="RESULTS", type=Path, help="a runs.csv, or a results/<suite> folder")
    parser.add_argument(
        "--against",
        required=True,
        metavar="paper|published|FILE",
        help="'paper' for the paper's numbers ('published' for a crd-* table's), or a reference runs.csv (or results "
        "folder) of the same suite",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=1.0,
        help="largest allowed |got - expected|, in accuracy points (default: %(default)s)",
    )
    parser.add_argument(
        "--partial",
        action="store_true",
        help="check only the cells the reference (or paper) holds: cells of the results without an expected value "
        "are listed but do not fail the check (without it they do)",
    )
    parser.add_argument(
        "--suite",
        metavar="NAME_OR_PATH",
        help="the suite of the results (default: the one named in runs.csv); needed to find the paper's table",
    )
    parser.add_argument(
        "--loss-tolerance",
        type=float,
        default=None,
        metavar="REL",
        help="against a reference runs.csv: also compare the mean loss terms of the first epochs of every run "
        "(epochs/RUN_ID.csv next to each runs.csv, runs matched by id) within this relative difference; a changed, "
        "missing or extra term fails the check",
    )
    parser.add_argument(
        "--loss-epochs",
        type=int,
        default=1,
        metavar="N",
        help="with --loss-tolerance: how many first epochs of each phase to compare (default: %(default)s)",
    )
    _add_common(parser)
    parser.set_defaults(func=run_check)
    return parser


def run_report(args: argparse.Namespace) -> int:
    from cskd.locations import reports_dir, results_dir
    from cskd.report.cells import read_runs_csv
    from cskd.report.render import render_report

    try:
        suite = _load_suite(args.suite, args.set)
        suite_paths = SuitePaths.of(results_dir(args.results_dir), suite.name)
        runs = read_runs_csv(suite_paths.runs_csv)
        if args.set:  # only the runs of the configuration the overrides make
            from cskd.plan import configuration_rows

            runs = configuration_rows(suite, runs)
        paths = render_report(
            suite,
            runs,
            reports_dir(args.reports_dir),
            metric=args.metric,
            profile=args.profile,
            epochs_dir=suite_paths.epochs_dir,
            rerun=_rerun(args.rerun, suite.name),
        )
    except ReportInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print("\n".join(str(path) for path in paths))
    return EXIT_OK


def _rerun(path: Path | None, suite: str) -> tuple[pd.DataFrame, str] | None:
    """The rows of ``--rerun`` and how the report names them; a path holding no runs.csv is refused."""
    from cskd.report.cells import read_runs_csv
    from cskd.report.redact import without_paths

    if path is None:
        return None
    for candidate in (_runs_file(path), path / suite / "runs.csv"):
        if candidate.is_file():
            shown = candidate.resolve()
            shown = shown.relative_to(Path.cwd()) if shown.is_relative_to(Path.cwd()) else without_paths(str(shown))
            return read_runs_csv(candidate), f"`{shown}`"  # no absolute path of the machine in a report
    raise ReportInputError(
        f"--rerun {path}: no runs.csv there, nor {path / 'runs.csv'} or {path / suite / 'runs.csv'}; give another "
        "training of this suite's runs (a runs.csv or the results folder holding it)"
    )


def run_check(args: argparse.Namespace) -> int:
    from cskd.report.cells import read_runs_csv
    from cskd.report.check import check

    try:
        runs = read_runs_csv(_runs_file(args.results))
        suite = None
        if args.suite:
            suite = _load_suite(args.suite)
        elif args.against in PAPER_WORDS:
            names = sorted(set(runs["suite"]))
            if len(names) != 1:
                raise ReportInputError(f"the results hold suites {names}: name one with --suite")
            suite = _load_suite(names[0])
        against = args.against if args.against in PAPER_WORDS else _runs_file(Path(args.against))
        result = check(
            runs,
            against,
            tolerance=args.tolerance,
            metric=args.metric,
            suite=suite,
            profile=args.profile,
            partial=args.partial,  # unchecked cells fail unless a subset was asked for
        )
        terms = _loss_terms(args, against)
    except ReportInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(result.render())
    if terms is None:
        return EXIT_OK if result.ok else EXIT_FAILED
    from cskd.report.trajectory import render_trajectories, trajectories_ok

    print(render_trajectories(terms))
    return EXIT_OK if result.ok and trajectories_ok(terms) else EXIT_FAILED


def _loss_terms(args: argparse.Namespace, against: str | Path) -> list | None:
    """The loss-term comparison ``--loss-tolerance`` asks for (None when it does not)."""
    if args.loss_tolerance is None:
        return None
    if against in PAPER_WORDS:
        raise ReportInputError("--loss-tolerance compares with a reference runs.csv, not with the paper")
    from cskd.report.cells import read_runs_csv
    from cskd.report.trajectory import compare_trajectories

    reference = Path(against)
    try:
        return compare_trajectories(
            read_runs_csv(reference, intact=True),
            reference.parent,
            _runs_file(args.results).parent,
            epochs=args.loss_epochs,
            tolerance=args.loss_tolerance,
        )
    except (ValueError, FileNotFoundError) as error:
        raise ReportInputError(str(error)) from None
