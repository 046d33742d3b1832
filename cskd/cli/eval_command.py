"""``cskd eval RUN_ID|CHECKPOINT``: test top-1/top-5, loss and speed of a trained model (cskd.evaluation)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cskd.cli.arguments import add_data_dir_argument, add_results_argument

WEIGHTS = ("best", "last")  # cskd.evaluation.WEIGHTS, named here so that --help imports no torch


def add_parser(commands: argparse._SubParsersAction) -> None:
    from cskd.cli.arguments import add_set_argument

    parser = commands.add_parser(
        "eval",
        help="evaluate a run's (or a checkpoint's) model on a test set: top-1, top-5, loss, images/s",
        description="Evaluate a trained model on a dataset's test split, through the loader and evaluation of "
        "training. TARGET is a run id (found in RESULTS_DIR/*/runs.csv; the model, its data, subset and normalisation "
        "are the run's unless --dataset/--test-subset say otherwise) or a file: a model written by `cskd export` "
        "(its JSON beside it says what builds it) or a checkpoint with --model, or the name of a published teacher "
        "fetched by `cskd teachers fetch` (on cifar100 unless --dataset).",
    )
    parser.add_argument(
        "target", metavar="RUN_ID|CHECKPOINT|TEACHER", help="a run id, a weights file, or a fetched published teacher"
    )
    parser.add_argument(
        "--weights", choices=WEIGHTS, default="best", help="a run's best epoch (the table's number) or its last"
    )
    parser.add_argument("--suite", default=None, help="the suite file the run was trained with (default: its row's)")
    add_set_argument(parser)
    parser.add_argument("--dataset", default=None, help="the dataset (default: the run's; required for a file)")
    parser.add_argument("--test-subset", type=int, default=None, help="evaluate on a stratified subset of N images")
    parser.add_argument("--model", default=None, help="for a checkpoint file without a JSON: its timm model name")
    parser.add_argument("--model-kwargs", default="{}", help="with --model: its arguments as JSON")
    parser.add_argument(
        "--normalization",
        choices=("dataset", "authors_code"),
        default="dataset",
        help="with --model: the input normalisation it was trained with",
    )
    add_results_argument(parser)
    add_data_dir_argument(parser)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cskd.cli.arguments import pick_device
    from cskd.data import DatasetError
    from cskd.engine.checkpoint import CheckpointError
    from cskd.engine.trainer import EngineOptions
    from cskd.evaluation import EvaluationError, evaluate_model
    from cskd.locations import results_dir

    options = EngineOptions(device=pick_device(args.device))
    try:
        if Path(args.target).is_file():
            model, data, what = _file_model(args)
        elif args.target in _published_names():
            model, data, what = _published_model(args)
        else:
            model, data, what = _run_model(args, results_dir(args.results_dir))
        result = evaluate_model(model, data, options)
    except (EvaluationError, CheckpointError, DatasetError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({**what, "dataset": data.name, **result.__dict__}))
    else:
        print(f"{what['model']} on {data.name}: {result.describe()}")
        if "recorded_top1" in what:
            print(f"  (runs.csv: {what['weights']} epoch {what['epoch']}, top-1 {what['recorded_top1']})")
    return 0


def _run_model(args: argparse.Namespace, results: Path):
    from cskd.evaluation import build, find_run, run_data, run_weights

    found = find_run(args.target, results, args.suite, tuple(args.set))
    data = run_data(found, args.data_dir, args.dataset, args.test_subset)
    weights, epoch = run_weights(found, args.weights)
    student = found.spec.student_model
    model = build(student.name, student.kwargs, data.num_classes, weights, found.checkpoint)
    recorded = found.row["best_top1" if args.weights == "best" else "last_top1"]
    what = {"run_id": found.spec.run_id, "model": student.name, "weights": args.weights, "epoch": epoch}
    if data.name == found.row["dataset"] or data.name.startswith(f"{found.row['dataset']}["):
        what["recorded_top1"] = recorded
    return model, data, what


def _file_model(args: argparse.Namespace):
    import dataclasses

    from cskd.data import load_dataset, subset
    from cskd.data.augment import normalized_as
    from cskd.evaluation import EvaluationError, build, read_export, read_weights

    path = Path(args.target)
    if args.dataset is None:
        raise EvaluationError(f"{path}: name the dataset to evaluate it on with --dataset")
    data = subset(load_dataset(args.dataset, args.data_dir), None, args.test_subset, seed=0)
    if args.model is None:
        description, weights = read_export(path)
        name, kwargs = description["timm_name"], description["kwargs"]
        augment = dataclasses.replace(data.augment, mean=tuple(description["mean"]), std=tuple(description["std"]))
    else:
        name, kwargs, weights = args.model, json.loads(args.model_kwargs), read_weights(path)
        augment = normalized_as(data.augment, args.normalization)
    data = dataclasses.replace(data, augment=augment)
    return build(name, kwargs, data.num_classes, weights, path), data, {"file": str(path), "model": name}


def _published_names() -> list[str]:
    from cskd.zoo import MODELS

    return list(MODELS)


def _published_model(args: argparse.Namespace):
    """A published teacher fetched by ``cskd teachers fetch`` (DATA/teachers/NAME.pt), on cifar100 by default."""
    from cskd.data import load_dataset, subset
    from cskd.evaluation import EvaluationError, build, read_weights
    from cskd.zoo import MODELS, zoo_dir

    path = zoo_dir(args.data_dir) / f"{args.target}.pt"
    if not path.is_file():
        raise EvaluationError(
            f"published teacher {args.target} is not fetched ({path}): cskd teachers fetch {args.target}"
        )
    data = subset(load_dataset(args.dataset or "cifar100", args.data_dir), None, args.test_subset, seed=0)
    model = build(MODELS[args.target], {}, data.num_classes, read_weights(path), path)
    return model, data, {"teacher": args.target, "file": str(path), "model": MODELS[args.target]}
