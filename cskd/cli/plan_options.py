"""One plan for ``cskd run`` and ``cskd status``: the same data options and the same rule for a suite's dataset
alternatives and for the engine settings that enter the run ids.

The rule (:func:`resolve_plan`): of the suite's (profile's) dataset alternatives, the first one present in the data
folder, else the first one fetchable (unless ``--no-download``), as ``cskd.data.choose_dataset`` decides, so that
``status`` after a run on the fallback dataset shows the runs that run recorded; and bf16 autocast (``--amp`` on a CUDA
device) in every run id (:func:`cskd.settings.numerics_config`).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from cskd.cli.arguments import add_data_dir_argument
from cskd.cli.data_command import add_mirror_argument

if TYPE_CHECKING:
    from cskd.data import Availability
    from cskd.plan import Plan
    from cskd.suite import Suite


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """``--data-dir``, ``--no-download``, ``--mirror``, ``--amp`` and ``--device``, as ``cskd run`` takes them, for a
    command that shows the plan ``cskd run`` would make with them."""
    group = parser.add_argument_group("the plan's data and numerics (as given to cskd run)")
    add_data_dir_argument(group)
    group.add_argument(
        "--no-download", action="store_true", help="as cskd run: a missing dataset is not fetched, so not chosen"
    )
    add_mirror_argument(group)
    group.add_argument("--amp", action="store_true", help="the bf16 runs of cskd run --amp")
    group.add_argument("--device", default="auto", help="the device cskd run was given (auto, cpu, cuda, cuda:N)")


def numerics(args: argparse.Namespace) -> dict[str, Any]:
    """The engine settings of ``args`` that enter the run ids (:func:`cskd.settings.numerics_config`); torch is
    imported only to resolve ``--device auto`` when ``--amp`` is given."""
    from cskd.settings import numerics_config

    if not getattr(args, "amp", False):
        return {}
    from cskd.cli.arguments import pick_device

    return numerics_config(True, pick_device(args.device).type)


def resolve_plan(suite: Suite, args: argparse.Namespace) -> tuple[Plan, Availability, tuple[str, ...]]:
    """The plan of ``suite`` under ``args`` (profile, seeds, --only, data options, --amp), the dataset chosen and the
    alternatives it was chosen from; raises ``SuiteError`` or ``DatasetError`` naming the problem. A fallback to
    another dataset than the suite's first is said on stderr."""
    from cskd.cli.arguments import parse_only
    from cskd.data import choose_dataset, fallback_notice
    from cskd.plan import dataset_alternatives, expand, subset_sizes

    alternatives = dataset_alternatives(suite, args.profile)
    subset = subset_sizes(suite, args.profile)  # which the images shipped with cskd may hold
    data = choose_dataset(alternatives, args.data_dir, not args.no_download, args.mirror, subset)
    if notice := fallback_notice(alternatives, data, args.data_dir):
        print(notice, file=sys.stderr, flush=True)
    plan = expand(suite, args.profile, args.seeds, parse_only(args.only), dataset=data.name, numerics=numerics(args))
    return plan, data, alternatives
