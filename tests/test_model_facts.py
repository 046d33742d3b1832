"""The shipped table of model facts (cskd/model_facts.json) against a real count on the meta device."""

from __future__ import annotations

import json

import timm

import cskd.models  # noqa: F401  (registers cskd's models with timm)
from cskd import model_facts, model_facts_table
from cskd.cost import model_facts as cost_model_facts
from cskd.suite import ModelRef


def shipped_table() -> dict:
    return json.loads(model_facts.FACTS_FILE.read_text())


def test_table_covers_every_configuration_the_planning_commands_ask_for():
    missing = model_facts_table.planning_keys() - set(shipped_table()["facts"])
    assert not missing, f"run scripts/write_model_facts.py: the table lacks {sorted(missing)[:3]}"


def test_table_agrees_with_a_real_count_for_every_model():
    """One configuration of each model (its first key) and every configuration of the quick suite's student,
    recounted."""
    facts = shipped_table()["facts"]
    chosen: dict[str, str] = {}
    for key in sorted(facts):
        chosen.setdefault(json.loads(key)[0], key)
    for key in {*chosen.values(), *(k for k in facts if json.loads(k)[0] == "cifar_resnet18_w0_25")}:
        name, kwargs, classes, size = json.loads(key)
        counted = model_facts.facts_record(model_facts.measure_facts(name, kwargs, classes, tuple(size)))
        assert counted == facts[key], key


def test_every_shipped_name_is_a_timm_model():
    names = shipped_table()["names"]
    assert "cifar_resnet18_w0_25" in names
    assert [name for name in names if not timm.is_model(name)] == []


def test_catalog_is_the_live_registry():
    assert model_facts.live_catalog() == shipped_table()["catalog"]


def test_a_configuration_missing_from_the_table_is_measured():
    ref = ModelRef("cifar_resnet18", {"width_multiplier": 0.375})
    key = model_facts.facts_key(ref.name, ref.kwargs, 7, (3, 32, 32))
    assert key not in shipped_table()["facts"]
    macs, spec = cost_model_facts(ref, 7, (3, 32, 32))
    assert key in model_facts.MEASURED
    measured = model_facts.measure_facts(ref.name, ref.kwargs, 7, (3, 32, 32))
    assert (macs, spec) == (measured.macs, measured.spec)
    assert spec.num_classes == 7 and macs > 0
