"""What several commands share: the options that choose a plan, the results and data folders, the training engine's
options (parsed into one :class:`~cskd.engine.trainer.EngineOptions`), and how a command reports bad input."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cskd.limits import seed_problem, short_repr
from cskd.usererrors import UserError

if TYPE_CHECKING:  # the CLI answers --help without importing torch; each command imports what it needs when it runs
    import torch

    from cskd.engine.trainer import EngineOptions
    from cskd.plan import Plan, RunSpec


def fail(message: object) -> int:
    """Print ``error: message`` to stderr; the exit code of bad input (2)."""
    print(f"error: {message}", file=sys.stderr)
    return 2


def seed_argument(text: str) -> int:
    """argparse ``type`` of a seed on the command line (``--seeds``, ``--seed``)."""
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {short_repr(text)}") from None
    problem = seed_problem(seed)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return seed


def add_data_dir_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup, purpose: str = "") -> None:
    """``--data-dir``, with the rule every command shares (:func:`cskd.data.resolve_data_dir`)."""
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"{purpose}where datasets live (default: $CSKD_DATA, else ./data)",
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


def pick_device(name: str) -> torch.device:
    """``auto`` is the first CUDA device when there is one, else the CPU."""
    import torch

    if name == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise UserError(f"--device {name}: not a device cskd trains on; use auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise UserError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by every command that trains."""
    group = parser.add_argument_group("training engine")
    add_data_dir_argument(group)
    group.add_argument("--device", default="auto", help="auto (CUDA when present, else CPU), cpu, cuda or cuda:N")
    group.add_argument(
        "--amp",
        action="store_true",
        help="bf16 autocast on CUDA, or on a CPU with hardware bf16 (AMX, AVX512-BF16); enters the run id "
        "(default: fp32)",
    )
    group.add_argument(
        "--no-channels-last", action="store_true", help="keep NCHW (default: channels_last, faster on CPU and CUDA)"
    )
    group.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile (inductor) the models' forward and backward (fp32 kept, not part of the run id; its "
        "compilation outweighs its gain on CPU-scale runs: docs/performance.md)",
    )
    group.add_argument(
        "--deterministic",
        action="store_true",
        help="deterministic algorithms only (bitwise repeatable on CPU; slower on CUDA)",
    )
    group.add_argument("--no-progress", action="store_true", help="no progress bars (summary lines only)")
    group.add_argument(  # experiment tracking (cskd.tracking)
        "--log",
        action="append",
        default=[],
        choices=("tensorboard", "wandb"),
        help="also log every epoch's scalars and each run's configuration to TensorBoard (RESULTS/SUITE/logs/"
        "tensorboard) or W&B (offline unless WANDB_MODE is set); needs the package (pip install 'cskd[tensorboard]'); "
        "repeatable",
    )


def engine_options(args: argparse.Namespace, seed: int = 0) -> EngineOptions:
    """The engine options of ``add_engine_arguments``, built once; the engine applies their process-wide torch
    flags itself (:func:`cskd.engine.trainer.apply_global_flags`)."""
    from cskd.engine import speed
    from cskd.engine.trainer import EngineOptions
    from cskd.tracking import backend_problem

    # an unknown tracker or a missing tracker package stops the command before training
    if problem := backend_problem(getattr(args, "log", ())):
        raise UserError(problem)
    device = pick_device(args.device)
    try:  # bf16 only where the CPU computes it (cskd.engine.speed)
        speed.check_amp(args.amp, device)
    except ValueError as error:
        raise UserError(str(error)) from None
    return EngineOptions(
        device=device,
        seed=seed,
        amp=args.amp,
        channels_last=not args.no_channels_last,
        compile=args.compile,
        deterministic=args.deterministic,
        progress=not args.no_progress and sys.stderr.isatty(),
        log=tuple(dict.fromkeys(getattr(args, "log", ()))),
    )


def check_engine_arguments(args: argparse.Namespace) -> None:
    """Check what :func:`engine_options` checks, for a command that trains nothing (``run --dry-run``): the trackers,
    and a ``--device`` or ``--amp`` given (which imports torch); ``--device auto`` without ``--amp`` is always valid
    (the first CUDA device, else the CPU), so the plan alone imports no torch."""
    from cskd.tracking import backend_problem

    if args.device != "auto" or args.amp:
        engine_options(args)
    elif problem := backend_problem(getattr(args, "log", ())):
        raise UserError(problem)


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
        "--seeds", type=seed_argument, nargs="+", default=None, help=explained("override the suite's (profile's) seeds")
    )
    add_results_argument(parser)
    add_set_argument(parser)
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


def group_size(text: str) -> int:
    """--lockstep-size's value: a whole number >= 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1 (runs per lockstep group), got {text!r}")
    return int(text)


def lockstep_options(args: argparse.Namespace) -> dict[str, bool | int | None]:
    """The RunnerOptions fields of --no-lockstep and --lockstep-size (which contradict each other)."""
    if args.no_lockstep and args.lockstep_size is not None:  # refused, not silently ignored
        raise UserError("--no-lockstep trains every run alone; --lockstep-size N groups them: give one of them")
    return {"lockstep": not args.no_lockstep, "lockstep_size": args.lockstep_size}


def lockstep_groups(plan: Plan, args: argparse.Namespace) -> list[list[RunSpec]]:
    """The lockstep groups of ``plan`` under --no-lockstep and --lockstep-size, as the runner makes them
    (:meth:`cskd.runner.Runner.groups`), for the commands that show a plan without a runner."""
    options = lockstep_options(args)
    return plan.groups(options["lockstep_size"] if options["lockstep"] else 1)


def parse_only(items: list[str]) -> dict[str, str]:
    from cskd.suite import SuiteError

    only = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SuiteError(f"--only {item!r}: expected KEY=VALUE, e.g. --only method=KD")
        if key in only:  # a second value of a key would silently replace the first
            raise SuiteError(
                f"--only {key}={only[key]} and --only {key}={value}: a run has one {key}, so both together keep "
                f"nothing; run the command once per value"
            )
        only[key] = value
    return only


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
