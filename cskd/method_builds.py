"""Which method configurations are known to build, and the length of their initialisation stage, without torch.

Planning builds every run's method once, to check that its options fit its pair (``cskd.plan.check_builds``) and to
count its initialisation epochs for the cost model (``cskd.cost``); building one imports torch and every method
(seconds). The outcome depends only on the method, its options and the feature shapes of its student and teacher, so
the builds of every configuration the shipped suites use (all profiles and dataset alternatives) are shipped in
``method_builds.json``, written by ``scripts/write_model_facts.py`` and rebuilt one by one by
``tests/test_method_builds.py``. A configuration not in the table (a user's suite, a ``--set``) is built, as before,
and a build that fails raises as building does.
"""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from pathlib import Path
from typing import Any

from cskd.features import FeatureSpec

#: the shipped table: build key -> init_epochs (``scripts/write_model_facts.py`` writes it)
BUILDS_FILE = Path(__file__).with_name("method_builds.json")
#: every configuration asked for in this process (:func:`cskd.model_facts_table.planning_builds` collects them here)
REQUESTED: set[str] = set()


def build_key(name: str, args: dict[str, Any], student: FeatureSpec, teacher: FeatureSpec | None) -> str:
    """The table's key of one build: the method, its resolved options and both networks' feature shapes."""
    shapes = [None if spec is None else dataclasses.asdict(spec) for spec in (student, teacher)]
    return json.dumps([name, args, *shapes], sort_keys=True, default=str)


def init_epochs(name: str, args: dict[str, Any], student: FeatureSpec, teacher: FeatureSpec | None) -> int:
    """The initialisation epochs of method ``name`` built with ``args`` for ``student`` and ``teacher``: from the
    shipped table, else by building it (:func:`build_init_epochs`, which raises when it cannot be built)."""
    key = build_key(name, args, student, teacher)
    REQUESTED.add(key)
    known = _shipped().get(key)
    return known if known is not None else build_init_epochs(name, args, student, teacher)


def build_init_epochs(name: str, args: dict[str, Any], student: FeatureSpec, teacher: FeatureSpec | None) -> int:
    """Build the method (imports torch and every method) and return its ``init_epochs``."""
    from cskd.methods import build_method

    return build_method(name, args, student, teacher).init_epochs


def parse_key(key: str) -> tuple[str, dict[str, Any], FeatureSpec, FeatureSpec | None]:
    """The arguments of :func:`init_epochs` that ``key`` was made from."""
    name, args, student, teacher = json.loads(key)
    return name, args, _spec(student), None if teacher is None else _spec(teacher)


def _spec(record: dict[str, Any]) -> FeatureSpec:
    return FeatureSpec(
        stage_channels=tuple(record["stage_channels"]),
        stage_sizes=tuple(tuple(size) for size in record["stage_sizes"]),
        embedding_dim=record["embedding_dim"],
        num_classes=record["num_classes"],
    )


@cache
def _shipped() -> dict[str, int]:
    return json.loads(BUILDS_FILE.read_text()) if BUILDS_FILE.exists() else {}
