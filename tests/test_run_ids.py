"""The run ids of every suite in benchmarks/, under every profile and dataset alternative, pinned.

A run id is the hash of a run's resolved configuration (``cskd.plan``), and results are found by it: a change that
moves code must leave every id as it was. ``data/suite_run_ids.json`` was written from ``suite_run_ids()`` on main
before the structure of issue 20 changed; a suite added or edited since adds or changes its own entries on purpose.
"""

import json
from pathlib import Path

from cskd.plan import dataset_alternatives, expand
from cskd.suite import load_suite, suite_paths

PINNED = Path(__file__).parent / "data" / "suite_run_ids.json"


def suite_run_ids() -> dict[str, dict[str, str]]:
    """``{"suite:profile:dataset": {run_id: description}}`` for every suite, profile ("" for none) and dataset."""
    ids = {}
    for path in suite_paths():
        suite = load_suite(path)
        for profile in [None, *sorted(suite.profiles)]:
            for dataset in dataset_alternatives(suite, profile):
                plan = expand(suite, profile, dataset=dataset)
                ids[f"{path.stem}:{profile or ''}:{dataset}"] = {r.run_id: r.describe() for r in plan.runs}
    return ids


def test_run_ids_of_every_suite_are_pinned():
    pinned = json.loads(PINNED.read_text())
    now = suite_run_ids()
    assert sorted(now) == sorted(pinned)
    for key, runs in pinned.items():
        assert now[key] == runs, key
