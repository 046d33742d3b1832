"""``cskd list models|datasets|methods|suites``: what the suite can build, load, apply and run."""

from __future__ import annotations

import argparse
from pathlib import Path

from tabulate import tabulate


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "list",
        help="list models, datasets, methods or suites",
        description="List what cskd knows: its model families with their sources and parameter counts, the datasets "
        "(and whether they are present), the distillation methods with their hyper-parameters, or the suites with "
        "their run counts.",
    )
    parser.add_argument("what", choices=["models", "datasets", "methods", "suites"])
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="for datasets: where to look (default: $CSKD_DATA, else ./data)"
    )
    parser.add_argument(
        "--num-classes",
        type=int,
        default=None,
        help="for models: classifier size used to count parameters (default: each model's own, that of the dataset "
        "it is defined for)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    {"models": list_models, "datasets": list_datasets, "methods": list_methods, "suites": list_suites}[args.what](args)
    return 0


def list_models(args: argparse.Namespace) -> None:
    import timm
    import torch

    from cskd.models import FAMILIES, count_parameters, create_model
    from cskd.models.registry import PURPOSES

    for purpose in PURPOSES:
        print(f"== {purpose}\n")
        for family in (f for f in FAMILIES if f.purpose == purpose):
            rows = []
            for name in family.names:
                classes = args.num_classes or timm.models.get_pretrained_cfg_value(name, "num_classes")
                with torch.device("meta"):  # shapes only: no memory, no initialisation
                    params = count_parameters(create_model(name, num_classes=classes))
                rows.append((name, classes, f"{params / 1e6:.2f}M", params))
            print(f"{family.title}\n  source: {family.source}")
            print(tabulate(rows, headers=["model", "classes", "params", "exact"]), end="\n\n")
    print("Any timm model name works too (timm.list_models()); width_multiplier=X thins every model above.")


def list_datasets(args: argparse.Namespace) -> None:
    from cskd.data import dataset_status

    rows = [
        (name, "present" if present else "missing", where) for name, present, where in dataset_status(args.data_dir)
    ]
    print(tabulate(rows, headers=["dataset", "status", "where / how to supply"]))


def list_methods(args: argparse.Namespace) -> None:
    from cskd.methods import get_method, method_names

    for name in method_names():
        cls = get_method(name)
        summary = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        print(f"{name}: {summary}")
        for option in cls.options():
            print(f"    {option.name} = {option.default!r}    {option.help}")
        print()


def list_suites(args: argparse.Namespace) -> None:
    from cskd.plan import expand
    from cskd.suite import SuiteError, load_suite, suite_paths

    rows = []
    for path in suite_paths():
        try:
            suite = load_suite(path)
        except SuiteError as error:
            rows.append((path.stem, "", "", f"INVALID: {error}"))
            continue
        profiles = ", ".join(f"{p}: {len(expand(suite, p).runs)}" for p in suite.profiles) or "none"
        rows.append((suite.name, suite.paper_table or "", len(expand(suite).runs), profiles, suite.description))
    print(tabulate(rows, headers=["suite", "paper table", "runs", "profiles (runs)", "description"]))
