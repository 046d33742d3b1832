"""``cskd teachers list|fetch``: the published CIFAR-100 teachers (cskd.zoo)."""

from __future__ import annotations

import argparse
import sys

from cskd.cli.arguments import add_data_dir_argument

SOURCES = ("mdistiller", "repdistiller")  # cskd.zoo.SOURCES, named here so that --help imports no torch


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "teachers",
        help="the published CIFAR-100 teachers (CRD/RepDistiller's, mdistiller's release): list, fetch",
        description="The teachers every CIFAR-100 benchmark paper since CRD distils from (docs/teachers.md).",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every published teacher: model, published top-1, fetched or not")
    add_data_dir_argument(listing)
    listing.set_defaults(func=run_list)
    fetch = actions.add_parser(
        "fetch",
        help="download, verify, convert and evaluate published teachers",
        description="Download each teacher's released checkpoint (resumable; its sha256 recorded on first download and "
        "verified after, as no source publishes one), convert it to its crd_* model (DATA/teachers/NAME.pt), "
        "evaluate it on the test set and record its top-1 beside the published one (DATA/teachers/published.json).",
    )
    fetch.add_argument("names", nargs="*", metavar="NAME", help="teachers to fetch (see `cskd teachers list`)")
    fetch.add_argument("--suite", default=None, help="fetch the published teachers this suite's pairs use")
    fetch.add_argument("--source", choices=SOURCES, default="mdistiller", help="mdistiller's archive or RepDistiller's")
    fetch.add_argument("--mirror", default=None, help="a folder or URL holding the same file names (offline machines)")
    fetch.add_argument("--dataset", default="cifar100", help="the test set to evaluate on (default: cifar100)")
    fetch.add_argument("--no-eval", action="store_true", help="do not evaluate (no test set at hand)")
    add_data_dir_argument(fetch)
    fetch.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (for the evaluation)")
    fetch.set_defaults(func=run_fetch)


def run_list(args: argparse.Namespace) -> int:
    from cskd.zoo import Records, published_teachers

    records = Records(args.data_dir).entries
    for name, teacher in published_teachers().items():
        entry = records.get(name)
        state = "not fetched" if entry is None else f"fetched, sha256 {entry['sha256'][:12]}"
        measured = f", measured {entry['top1']:.2f}" if entry and "top1" in entry else ""
        print(f"{name:<11} {teacher.model:<15} published top-1 {teacher.published_top1:.2f}{measured}  ({state})")
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    from cskd.cli.arguments import pick_device
    from cskd.data import DatasetError
    from cskd.evaluation import evaluate_teacher
    from cskd.suite import resolve_suite_path
    from cskd.zoo import Records, ZooError, fetch_teacher, published_teachers, suite_teachers

    teachers = published_teachers()
    try:
        names = list(args.names) + (suite_teachers(resolve_suite_path(args.suite), args.suite) if args.suite else [])
        if not names:
            raise ZooError("name the teachers to fetch, or --suite SUITE (see `cskd teachers list`)")
        unknown = [n for n in names if n not in teachers]
        if unknown:
            from cskd.methods.base import close_names

            raise ZooError(f"no published teacher {unknown[0]!r} ({close_names(unknown[0], list(teachers))})")
        records = Records(args.data_dir)
        for name in dict.fromkeys(names):
            fetched = fetch_teacher(teachers[name], args.data_dir, args.source, args.mirror)
            device = pick_device(args.device)
            evaluation = None if args.no_eval else evaluate_teacher(fetched, args.dataset, args.data_dir, device)
            entry = records.record(fetched, evaluation)
            measured = f"measured top-1 {entry['top1']:.2f} on {entry['dataset']}, " if evaluation else ""
            print(
                f"{name}: {fetched.path} (sha256 {fetched.sha256}) from {fetched.origin}; {measured}"
                f"published {entry['published_top1']:.2f}"
            )
    except (ZooError, DatasetError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
