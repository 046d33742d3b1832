"""``cskd data fetch|verify``: download, verify and extract the official datasets; re-check what is present."""

from __future__ import annotations

import argparse
from pathlib import Path

from cskd.locations import MIRROR_ENV


def add_mirror_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mirror",
        default=None,
        metavar="URL|DIR",
        help=f"fetch the official archives from this folder or http(s) base URL holding the same file names instead "
        f"of the official URLs (default: ${MIRROR_ENV})",
    )


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "data",
        help="fetch and verify datasets",
        description="Fetch the official datasets (download, verify the checksum, extract atomically) or re-check "
        "what is present. `cskd list datasets` shows what is present, missing or fetchable.",
    )
    actions = parser.add_subparsers(title="actions", dest="action", required=True, metavar="ACTION")
    fetch = actions.add_parser(
        "fetch",
        help="download, verify and extract datasets",
        description="Download each dataset's official archive(s) into the data directory (resuming a partial "
        "download), verify size and checksum, extract atomically and verify the extracted files. A dataset already "
        "present is only verified. NAME may be `all` (every fetchable dataset); --suite fetches what the suites' "
        "planned runs need.",
    )
    fetch.add_argument("names", nargs="*", metavar="NAME", help="datasets to fetch (see `cskd list datasets`), or all")
    fetch.add_argument(
        "--suite",
        nargs="+",
        action="extend",
        default=[],
        metavar="SUITE",
        help="fetch the dataset each of these suites runs on (the first present, else first fetchable alternative)",
    )
    fetch.add_argument("--profile", default=None, help="with --suite: the profile the suites will run under")
    add_mirror_argument(fetch)
    verify = actions.add_parser(
        "verify",
        help="re-check the datasets that are present",
        description="Re-check datasets without extracting anything: archives against their size and checksum, "
        "extracted files against the official per-file checksums (CIFAR), by counting (Tiny ImageNet, the JPEG "
        "copy) or for consistency (CUB-200-2011's metadata files and images). Without NAME: every dataset that is "
        "present. Exit 1 if any check fails.",
    )
    verify.add_argument("names", nargs="*", metavar="NAME", help="datasets to verify (default: every present one)")
    for sub in (fetch, verify):
        sub.add_argument(
            "--data-dir", type=Path, default=None, help="the data directory (default: $CSKD_DATA, else ./data)"
        )
    fetch.set_defaults(func=run_fetch)
    verify.set_defaults(func=run_verify)


def suite_datasets(suites: list[str], profile: str | None) -> list[tuple[str, ...]]:
    """Each suite's dataset alternatives under ``profile`` (a suite without that profile: the suite's own)."""
    from cskd.plan import dataset_alternatives
    from cskd.suite import load_suite

    wanted = []
    for name in suites:
        suite = load_suite(name)
        wanted.append(dataset_alternatives(suite, profile if profile in suite.profiles else None))
    return wanted


def run_fetch(args: argparse.Namespace) -> int:
    from cskd.data import DatasetError, choose_dataset, fetch_dataset, fetchable_names
    from cskd.suite import SuiteError

    try:
        names = [n for item in args.names for n in (fetchable_names() if item == "all" else [item])]
        for alternatives in suite_datasets(args.suite, args.profile):
            names.append(choose_dataset(alternatives, args.data_dir, download=True, mirror=args.mirror).name)
    except (DatasetError, SuiteError) as error:
        print(f"error: {error}")
        return 2
    if not names:
        print("error: name the datasets to fetch (or all, or --suite SUITE)")
        return 2
    failed = 0
    for name in dict.fromkeys(names):
        try:
            print(f"{name}: {fetch_dataset(name, args.data_dir, args.mirror)}")
        except DatasetError as error:
            print(f"error: {error}")
            failed += 1
    return 1 if failed else 0


def run_verify(args: argparse.Namespace) -> int:
    from cskd.data import DatasetError, dataset_status, verify_dataset

    names = args.names or [name for name, present, _ in dataset_status(args.data_dir) if present]
    if not names:
        print("no dataset is present to verify (`cskd list datasets` says how to supply them)")
        return 0
    failed = 0
    for name in names:
        try:
            print(f"{name}: ok: {verify_dataset(name, args.data_dir)}")
        except DatasetError as error:
            print(f"{name}: FAILED: {error}")
            failed += 1
    return 1 if failed else 0
