"""``cskd train``: train one model from scratch (a teacher or a CE baseline), or one student from a teacher file."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cskd.atomicfile import write_text_atomic
from cskd.cli.arguments import add_engine_arguments, engine_options, fail, seed_argument
from cskd.limits import training_set_problem, width_problem
from cskd.stopping import stop_between_steps

if TYPE_CHECKING:
    from cskd.engine.recipe import Recipe


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train",
        help="train one model (teacher or CE baseline; or a student from a teacher checkpoint)",
        description="Train one model with the paper's recipe for the dataset (CIFAR: SGD 0.1, momentum 0.9, wd 1e-4, "
        "batch 128, 200 epochs, x0.1 at 80/120/160; Tiny ImageNet: wd 5e-4, batch 200, x0.1 at 50/100/150). "
        "Writes OUT/checkpoint.pt (each epoch, atomically), OUT/epochs.csv and OUT/summary.json. Running the same "
        "command again resumes from the checkpoint. The student's options (--model, --width-multiplier) and the "
        "teacher's (--teacher-model, --teacher-width-multiplier, --teacher-checkpoint) are separate.",
    )
    parser.add_argument("--model", required=True, help="model name (see `cskd list models`, or any timm model)")
    parser.add_argument("--dataset", required=True, help="dataset name (see `cskd list datasets`)")
    parser.add_argument("--method", default="ce", help="method (default ce; others need --teacher-model/-checkpoint)")
    parser.add_argument(
        "--method-arg",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="a method option, value parsed as JSON (e.g. --method-arg temperature=4); repeatable",
    )
    parser.add_argument(
        "--width-multiplier", type=float, default=None, help="thin the trained model (the student) by this factor"
    )
    teacher = parser.add_argument_group("teacher (distillation methods)")
    teacher.add_argument("--teacher-model", default=None, help="the teacher's model name")
    teacher.add_argument(
        "--teacher-width-multiplier",
        type=float,
        default=None,
        help="the width multiplier the teacher was trained with (default: none)",
    )
    teacher.add_argument("--teacher-checkpoint", type=Path, default=None, help="the teacher's checkpoint file")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (milestones scale proportionally)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--weight-decay", type=float, default=None)
    parser.add_argument(
        "--milestones", type=int, nargs="*", default=None, help="lr drop epochs (after --epochs scaling)"
    )
    parser.add_argument("--subset", type=int, default=None, help="train on a class-balanced subset of N images")
    parser.add_argument("--test-subset", type=int, default=None, help="evaluate on a class-balanced subset")
    parser.add_argument("--seed", type=seed_argument, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/train"), help="output directory (default runs/train)")
    add_engine_arguments(parser)
    parser.set_defaults(func=run)


def build_recipe(args: argparse.Namespace) -> Recipe:
    from cskd.engine.recipe import Recipe, default_recipe

    recipe = default_recipe(args.dataset)
    if args.epochs is not None:
        recipe = recipe.scaled_to(args.epochs)
    changes = {
        "batch_size": args.batch_size,
        "lr": args.lr,
        "weight_decay": args.weight_decay,
        "milestones": args.milestones,
    }
    return Recipe.from_dict({**recipe.to_dict(), **{k: v for k, v in changes.items() if v is not None}})


def width_kwargs(multiplier: float | None) -> dict[str, Any]:
    return {} if multiplier is None else {"width_multiplier": multiplier}


def method_args(items: list[str]) -> dict[str, Any]:
    """``--method-arg KEY=JSON`` values; raises ``ValueError`` naming a value that is not JSON."""
    parsed = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--method-arg {item!r}: expected KEY=JSON, e.g. --method-arg temperature=4")
        try:
            parsed[key] = json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"--method-arg {item!r}: the value is not JSON ({error}); strings need JSON quotes, e.g. "
                f"--method-arg 'form=\"mse\"'"
            ) from None
    return parsed


def run(args: argparse.Namespace) -> int:
    from cskd.data import DatasetError, load_subset
    from cskd.engine.checkpoint import CheckpointError
    from cskd.engine.recipe import RecipeError
    from cskd.engine.speed import COMPILE_CACHE, use_compile_cache
    from cskd.engine.trainer import StudentJob, load_trained_model, train_group
    from cskd.methods.base import MethodOptionError, UnknownMethodError, get_method
    from cskd.models import unknown_model_problem
    from cskd.settings import numerics_config

    try:
        options_of_method = method_args(args.method_arg)
        get_method(args.method).check_options(options_of_method)
        recipe = build_recipe(args)
    except (ValueError, UnknownMethodError, MethodOptionError, RecipeError, DatasetError) as error:
        return fail(error)  # DatasetError: an unknown --dataset, whose recipe is not known
    for option, factor in (
        ("--width-multiplier", args.width_multiplier),
        ("--teacher-width-multiplier", args.teacher_width_multiplier),
    ):
        if factor is not None and (problem := width_problem(factor)):  # issue 22 hook: bounds (cskd/limits.py)
            return fail(f"{option}: {problem}")
    for option, name in (("--model", args.model), ("--teacher-model", args.teacher_model)):
        if name is not None and (problem := unknown_model_problem(name)):  # before the data loads
            return fail(f"{option}: {problem}")
    model_kwargs = width_kwargs(args.width_multiplier)
    teacher_kwargs = width_kwargs(args.teacher_width_multiplier)
    options = engine_options(args, seed=args.seed)
    try:
        data = load_subset(args.dataset, args.data_dir, args.subset, args.test_subset, seed=0)  # hook (issue 18)
    except DatasetError as error:
        return fail(error)
    if problem := training_set_problem(len(data.train_labels), data.num_classes, recipe.batch_size):
        return fail(f"--subset / --batch-size: {problem}")  # issue 22 hook: bounds (cskd/limits.py)
    teacher = None
    if args.method != "ce" or args.teacher_checkpoint:
        if not (args.teacher_model and args.teacher_checkpoint):
            return fail(f"method {args.method!r} needs --teacher-model and --teacher-checkpoint")
        try:
            teacher = load_trained_model(
                args.teacher_model,
                teacher_kwargs,
                data.num_classes,
                args.teacher_checkpoint,
                options,
                fix="pass the teacher's own --teacher-model and --teacher-width-multiplier, or an intact file",
            )
        except (CheckpointError, ValueError) as error:
            return fail(error)
    config = {
        "model": args.model,
        "kwargs": model_kwargs,
        "method": args.method,
        "args": options_of_method,
        "dataset": data.name,
        "recipe": recipe.to_dict(),
        "seed": args.seed,
        "teacher": [args.teacher_model, str(args.teacher_checkpoint)] if teacher is not None else None,
    }
    if teacher_kwargs:
        config["teacher_kwargs"] = teacher_kwargs  # only when given, so earlier output directories still resume
    config |= numerics_config(options.amp, options.device.type)  # bf16 is another run; fp32 keeps its ids
    if options.compile:  # compiled kernels shared by the runs next to this one
        use_compile_cache(args.out.parent / COMPILE_CACHE)
    run_id = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
    args.out.mkdir(parents=True, exist_ok=True)
    job = StudentJob(
        run_id=run_id,
        model=args.model,
        model_kwargs=model_kwargs,
        method=args.method,
        method_args=options_of_method,
        checkpoint=args.out / "checkpoint.pt",
        epochs_csv=args.out / "epochs.csv",
        label=args.method,
        config=config,  # hook (issue 21): --log trackers write under OUT/logs
        log_dir=args.out / "logs",
    )
    with stop_between_steps():  # issue 22 hook: SIGTERM/SIGINT stop between steps (cskd/stopping.py)
        (outcome,) = train_group([job], data, recipe, options, teacher)
    summary = {**outcome.__dict__, "config": config, "dataset_source": data.source, "data_sha256": data.sha256}
    write_text_atomic(args.out / "summary.json", json.dumps(summary, indent=2, default=str))
    if outcome.status != "ok":
        print(f"FAILED: {outcome.error}")
        return 1
    print(
        f"{args.model} on {data.name}: best top-1 {outcome.best_top1:.2f} (epoch {outcome.best_epoch}), last top-1 "
        f"{outcome.last_top1:.2f}, top-5 {outcome.last_top5:.2f}, {outcome.wall_seconds:.0f}s "
        f"({outcome.images_per_second:.0f} img/s) -> {args.out}"
    )
    return 0
