"""Static facts of a model for one input size: forward MACs per image, learnable parameters and feature shapes.

They follow from shapes alone, but finding them means importing timm (which imports torchvision and torch._dynamo,
seconds of start-up) and running a dummy forward on the meta device. The planning commands (``cskd list``,
``cskd status``, ``cskd run --dry-run``) need them for every model of a suite, so the facts of every configuration
the shipped suites and ``cskd list models`` use are shipped in ``model_facts.json``, written by
``scripts/write_model_facts.py`` and checked against a real count by ``tests/test_model_facts.py``. A configuration
not in the table (a user's suite, ``--set``) is measured on the meta device, as before. (This module is not under
``cskd.models``, whose import registers every family with timm.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cskd.features import FeatureSpec

#: the shipped table (``scripts/write_model_facts.py`` writes it)
FACTS_FILE = Path(__file__).with_name("model_facts.json")


@dataclass(frozen=True)
class ModelFacts:
    """A model's forward MACs per image (convolutions and linear layers), learnable parameters and feature shapes."""

    macs: int
    params: int
    spec: FeatureSpec


def facts_key(name: str, kwargs: dict[str, Any], num_classes: int, input_size: tuple[int, int, int]) -> str:
    """The table's key of one configuration: the model, its keyword arguments, classes and input size."""
    return json.dumps([name, kwargs, num_classes, list(input_size)], sort_keys=True)


def model_facts(name: str, kwargs: dict[str, Any], num_classes: int, input_size: tuple[int, int, int]) -> ModelFacts:
    """The facts of one configuration: from the shipped table, else measured (:func:`measure_facts`)."""
    key = facts_key(name, kwargs, num_classes, tuple(input_size))
    REQUESTED.add(key)
    return _shipped()["facts"].get(key) or _measured(key)


def known_model_names() -> frozenset[str]:
    """The model names of the shipped table: registered in timm when it was written (the test checks they still
    are), so a suite naming one needs no timm import to be validated."""
    return _shipped()["names"]


def model_catalog() -> list[dict[str, Any]]:
    """What ``cskd list models`` prints without ``--num-classes``: each family (purpose, title, source) with each
    model's default class count and parameters, as the table recorded them from the live registry."""
    return _shipped()["catalog"]


def measure_facts(name: str, kwargs: dict[str, Any], num_classes: int, input_size: tuple[int, int, int]) -> ModelFacts:
    """Build the model on the meta device (no memory, no initialisation) and count its MACs, parameters and
    feature shapes with one dummy forward (:func:`cskd.engine.cost.forward_macs`,
    :func:`cskd.models.extraction.feature_spec`)."""
    import torch

    from cskd.engine.cost import forward_macs
    from cskd.models import count_parameters, create_model, feature_spec

    with torch.device("meta"):
        model = create_model(name, num_classes=num_classes, **kwargs)
        return ModelFacts(forward_macs(model, input_size), count_parameters(model), feature_spec(model, input_size))


def facts_record(facts: ModelFacts) -> dict[str, Any]:
    """One table entry as JSON."""
    spec = facts.spec
    return {
        "macs": facts.macs,
        "params": facts.params,
        "stage_channels": list(spec.stage_channels),
        "stage_sizes": [list(size) for size in spec.stage_sizes],
        "embedding_dim": spec.embedding_dim,
        "num_classes": spec.num_classes,
    }


def _from_record(record: dict[str, Any]) -> ModelFacts:
    spec = FeatureSpec(
        stage_channels=tuple(record["stage_channels"]),
        stage_sizes=tuple(tuple(size) for size in record["stage_sizes"]),
        embedding_dim=record["embedding_dim"],
        num_classes=record["num_classes"],
    )
    return ModelFacts(record["macs"], record["params"], spec)


@cache
def _shipped() -> dict[str, Any]:
    if not FACTS_FILE.exists():
        return {"facts": {}, "names": frozenset(), "catalog": []}
    table = json.loads(FACTS_FILE.read_text())
    return {
        "facts": {key: _from_record(record) for key, record in table["facts"].items()},
        "names": frozenset(table["names"]),
        "catalog": table["catalog"],
    }


#: every configuration asked for in this process (:func:`cskd.model_facts_table.planning_keys` collects the table's
#: keys from here)
REQUESTED: set[str] = set()
#: the configurations measured in this process because the table lacks them
MEASURED: dict[str, ModelFacts] = {}


def _measured(key: str) -> ModelFacts:
    if key not in MEASURED:
        MEASURED[key] = measure_facts(*parse_key(key))
    return MEASURED[key]


def live_catalog(num_classes: int | None = None) -> list[dict[str, Any]]:
    """:func:`model_catalog` from the live registry: every family of :mod:`cskd.models` in the order of its purpose,
    with each model's class count (``num_classes``, default timm's pretrained config of the model) and parameters
    (counted on the meta device: no memory, no initialisation)."""
    import timm
    import torch

    from cskd.models import FAMILIES, count_parameters, create_model
    from cskd.models.registry import PURPOSES

    catalog = []
    for family in sorted(FAMILIES, key=lambda f: PURPOSES.index(f.purpose)):
        models = []
        for name in family.names:
            classes = num_classes or timm.models.get_pretrained_cfg_value(name, "num_classes")
            with torch.device("meta"):
                models.append([name, classes, count_parameters(create_model(name, num_classes=classes))])
        catalog.append({"purpose": family.purpose, "title": family.title, "source": family.source, "models": models})
    return catalog


def parse_key(key: str) -> tuple[str, dict[str, Any], int, tuple[int, int, int]]:
    name, kwargs, num_classes, input_size = json.loads(key)
    return name, kwargs, num_classes, tuple(input_size)
