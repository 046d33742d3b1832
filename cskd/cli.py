"""The command-line interface: ``cskd list | data | train | run | status | report | check | convert-checkpoint |
eval | export``.

Also ``python -m cskd``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cskd import __version__

if TYPE_CHECKING:  # the CLI answers --help without importing torch; each command imports what it needs when it runs
    import torch

    from cskd.engine.trainer import EngineOptions

DESCRIPTION = """\
cskd: reproduce and extend "Improving Knowledge Distillation via Category Structure" (CSKD, ECCV 2020).

Typical use:
  cskd list suites                       what can be run, and how many runs each suite expands to
  cskd data fetch cifar10                download, verify and extract a dataset (cskd run does it when needed)
  cskd run quick                         train every run of a suite (resumes; skips finished runs)
  cskd run table1 --executor local       one job per lockstep group on every GPU (or --executor slurm)
  cskd status table1                     every run: done, running, queued, failed, to do
  cskd report quick                      tables and plots (against the paper's numbers) in reports/
  cskd check results/ci/runs.csv --against reference/results/ci/runs.csv
  cskd convert-checkpoint --from repdistiller --model crd_resnet56 ckpt_epoch_240.pth resnet56.pth
  cskd run quick --set recipe.lr=0.02    change a suite key for one sweep (also on status, report, --dry-run)
  cskd run quick --log tensorboard       per-epoch curves of every run in RESULTS/SUITE/logs/tensorboard
  cskd eval RUN_ID                       test top-1/top-5, loss, images/s of a run's best-epoch weights
  cskd export RUN_ID --out models/       the run's model as safetensors + JSON, loadable with timm
  cskd teachers fetch --suite kd_cifar100_same   the published CIFAR-100 teachers, verified, converted, evaluated
"""


def pick_device(name: str) -> torch.device:
    """``auto`` is the first CUDA device when there is one, else the CPU."""
    import torch

    if name == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"error: --device {name}: CUDA is not available on this machine; use --device cpu")
    return device


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by every command that trains."""
    group = parser.add_argument_group("training engine")
    group.add_argument(
        "--data-dir", type=Path, default=None, help="where datasets live (default: $CSKD_DATA, else ./data)"
    )
    group.add_argument("--device", default="auto", help="auto (CUDA when present, else CPU), cpu, cuda or cuda:N")
    group.add_argument("--amp", action="store_true", help="bf16 autocast on CUDA (default: fp32; ignored on CPU)")
    group.add_argument(
        "--no-channels-last", action="store_true", help="keep NCHW (default: channels_last, faster on CPU and CUDA)"
    )
    group.add_argument("--compile", action="store_true", help="torch.compile the models' feature extraction")
    group.add_argument(
        "--deterministic",
        action="store_true",
        help="deterministic algorithms only (bitwise repeatable on CPU; slower on CUDA)",
    )
    group.add_argument("--no-progress", action="store_true", help="no progress bars (summary lines only)")
    group.add_argument(  # hook (issue 21): experiment tracking, cskd.tracking
        "--log",
        action="append",
        default=[],
        choices=("tensorboard", "wandb"),
        help="also log every epoch's scalars and each run's configuration to TensorBoard (RESULTS/SUITE/logs/"
        "tensorboard) or W&B (offline unless WANDB_MODE is set); needs the package (pip install 'cskd[tensorboard]'); "
        "repeatable",
    )


def engine_options(args: argparse.Namespace, seed: int = 0) -> EngineOptions:
    import torch

    from cskd.engine.trainer import EngineOptions
    from cskd.tracking import backend_problem

    # hook (issue 21): an unknown tracker or a missing tracker package stops the command before training
    if problem := backend_problem(getattr(args, "log", ())):
        raise SystemExit(f"error: {problem}")
    if args.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    return EngineOptions(
        device=pick_device(args.device),
        seed=seed,
        amp=args.amp,
        channels_last=not args.no_channels_last,
        compile=args.compile,
        progress=not args.no_progress and sys.stderr.isatty(),
        log=tuple(dict.fromkeys(getattr(args, "log", ()))),
    )


def add_results_argument(parser: argparse.ArgumentParser) -> None:
    """``--results-dir``, with the rule every command shares (:mod:`cskd.locations`)."""
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=None,
        help="folder holding SUITE/runs.csv, SUITE/epochs/ and SUITE/checkpoints/ (default: $CSKD_RESULTS, else "
        "./results)",
    )


def build_parser() -> argparse.ArgumentParser:
    from cskd.commands import (  # hook (issue 21)
        convert_command,
        data_command,
        eval_command,
        export_command,
        list_command,
        run_command,
        status_command,
        teachers_command,
        train_command,
    )
    from cskd.report import cli as report_cli

    parser = argparse.ArgumentParser(
        prog="cskd", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"cskd {__version__}")
    commands = parser.add_subparsers(title="commands", dest="command", required=True, metavar="COMMAND")
    list_command.add_parser(commands)
    data_command.add_parser(commands)
    train_command.add_parser(commands)
    run_command.add_parser(commands)
    status_command.add_parser(commands)
    report_cli.add_report_parser(commands)
    report_cli.add_check_parser(commands)
    convert_command.add_parser(commands)
    eval_command.add_parser(commands)  # hook (issue 21)
    export_command.add_parser(commands)  # hook (issue 21)
    teachers_command.add_parser(commands)  # hook (issue 21)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted: finished runs are recorded; run the same command again to resume", file=sys.stderr)
        return 130
