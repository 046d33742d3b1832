"""``cskd export RUN_ID``: a run's trained model as a plain state dict and the JSON that builds it with timm."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cskd.cli.arguments import add_data_dir_argument, add_results_argument
from cskd.cli.eval_command import WEIGHTS


def add_parser(commands: argparse._SubParsersAction) -> None:
    from cskd.cli.arguments import add_set_argument

    parser = commands.add_parser(
        "export",
        help="write a run's model as a plain state dict (safetensors) plus the JSON that builds it with timm",
        description="Write the model a run trained as OUT/RUN_ID.safetensors (or a weights-only torch file .pt) and "
        "OUT/RUN_ID.json (timm name, kwargs, classes, input size, normalisation, where it comes from). docs/models.md "
        "shows loading it with timm alone.",
    )
    parser.add_argument("run_id", metavar="RUN_ID", help="the run (see runs.csv or `cskd status SUITE`)")
    parser.add_argument("--out", type=Path, default=Path("exported"), help="output folder (default: ./exported)")
    parser.add_argument("--weights", choices=WEIGHTS, default="best", help="its best epoch (default) or its last")
    parser.add_argument("--format", choices=("safetensors", "torch"), default="safetensors", help="the weights file")
    parser.add_argument("--suite", default=None, help="the suite file the run was trained with (default: its row's)")
    add_set_argument(parser)
    add_results_argument(parser)
    add_data_dir_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cskd.data import DatasetError
    from cskd.engine.checkpoint import CheckpointError
    from cskd.evaluation import EvaluationError, export_run, find_run, run_data
    from cskd.locations import results_dir

    try:
        found = find_run(args.run_id, results_dir(args.results_dir), args.suite, tuple(args.set))
        paths = export_run(found, run_data(found, args.data_dir, None, None), args.weights, args.out, args.format)
    except (EvaluationError, CheckpointError, DatasetError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n".join(str(p) for p in paths))
    return 0
