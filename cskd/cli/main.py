"""The command-line interface: ``cskd list | data | train | run | status | report | check | convert-checkpoint``.

Also ``python -m cskd``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence

from cskd import __version__
from cskd.allocator import ensure_allocator_settings
from cskd.stopping import Stopped, install_stop_at_once
from cskd.usererrors import EXIT_USER_ERROR, user_error_line

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


def build_parser() -> argparse.ArgumentParser:
    from cskd.cli import (
        convert_command,
        data_command,
        eval_command,
        export_command,
        list_command,
        report_command,
        run_command,
        status_command,
        teachers_command,
        train_command,
    )

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
    report_command.add_report_parser(commands)
    report_command.add_check_parser(commands)
    eval_command.add_parser(commands)
    export_command.add_parser(commands)
    teachers_command.add_parser(commands)
    convert_command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # a command started as a program gets the allocator settings of scripts/env.sh (cskd.allocator)
        ensure_allocator_settings()
    args = build_parser().parse_args(argv)
    install_stop_at_once()  # SIGTERM stops with a message and exit 143 (cskd/stopping.py)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted: finished runs are recorded; run the same command again to resume", file=sys.stderr)
        return 130
    except Stopped as stop:  # where to resume, exit 128 + signal (cskd/stopping.py)
        command = shlex.join(["cskd", *(sys.argv[1:] if argv is None else argv)])
        print(
            f"stopped by {stop}: every finished epoch is checkpointed and no unfinished run was recorded; "
            f"resume with: {command}",
            file=sys.stderr,
        )
        return stop.exit_code
    except Exception as error:  # an error the user can fix is one line, exit 2 (cskd/usererrors.py)
        line = user_error_line(error)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        return EXIT_USER_ERROR
