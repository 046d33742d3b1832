"""``cskd list models|datasets|methods|suites``: what the suite can build, load, apply and run."""

from __future__ import annotations

import argparse

from cskd.cli.arguments import add_data_dir_argument
from cskd.cli.data_command import add_mirror_argument


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "list",
        help="list models, datasets, methods or suites",
        description="List what cskd knows: its model families with their sources and parameter counts, the datasets "
        "(whether each is present, missing or fetchable), the distillation methods with their hyper-parameters, or "
        "the suites with their run counts.",
    )
    parser.add_argument("what", choices=["models", "datasets", "methods", "suites"])
    add_data_dir_argument(parser, "for datasets: ")
    add_mirror_argument(parser)
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
    from tabulate import tabulate

    from cskd.model_facts import live_catalog, model_catalog

    # the counts shipped in cskd/model_facts.json; other class counts are counted here (seconds)
    catalog = (not args.num_classes and model_catalog()) or live_catalog(args.num_classes)
    purposes = list(dict.fromkeys(family["purpose"] for family in catalog))
    for purpose in purposes:
        print(f"== {purpose}\n")
        for family in (f for f in catalog if f["purpose"] == purpose):
            rows = [(name, classes, f"{params / 1e6:.2f}M", params) for name, classes, params in family["models"]]
            print(f"{family['title']}\n  source: {family['source']}")
            print(tabulate(rows, headers=["model", "classes", "params", "exact"]), end="\n\n")
    print("Any timm model name works too (timm.list_models()); width_multiplier=X thins every model above.")


def list_datasets(args: argparse.Namespace) -> None:
    from tabulate import tabulate

    from cskd.data import FETCHABLE, availability, dataset_names

    rows = []
    for name in dataset_names():
        state = availability(name, args.data_dir, args.mirror)
        detail = f"`cskd data fetch {name}`: {state.detail}" if state.state == FETCHABLE else state.detail
        rows.append((name, state.state, detail))
    print(tabulate(rows, headers=["dataset", "status", "where / what would be fetched / how to supply"]))
    print("\nAny image tree in ImageFolder layout also works as imagefolder:PATH.")


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
    from tabulate import tabulate

    from cskd.plan import expand
    from cskd.suite import SuiteError, load_suite, suite_paths

    rows = []
    for path in suite_paths():
        try:
            suite = load_suite(path)
        except SuiteError as error:
            rows.append((path.stem, "", "", "", f"INVALID: {error}"))
            continue
        profiles = ", ".join(f"{p}: {len(expand(suite, p).runs)}" for p in suite.profiles) or "none"
        rows.append((suite.name, suite.paper_table or "", len(expand(suite).runs), profiles, suite.description))
    print(tabulate(rows, headers=["suite", "paper table", "runs", "profiles (runs)", "description"]))
