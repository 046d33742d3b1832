"""The shipped table of method builds (cskd/method_builds.json) against real builds."""

from __future__ import annotations

import json

import pytest

from cskd import method_builds, model_facts_table
from cskd.features import FeatureSpec


def shipped_table() -> dict[str, int]:
    return json.loads(method_builds.BUILDS_FILE.read_text())


def test_table_covers_every_build_the_planning_commands_ask_for():
    missing = model_facts_table.planning_builds() - set(shipped_table())
    assert not missing, f"run scripts/write_model_facts.py: the table lacks {sorted(missing)[:3]}"


def test_table_agrees_with_real_builds():
    """The first build of each method and every build with an initialisation stage, built anew."""
    table = shipped_table()
    chosen: dict[str, str] = {}
    for key in sorted(table):
        chosen.setdefault(json.loads(key)[0], key)
    for key in {*chosen.values(), *(key for key, epochs in table.items() if epochs)}:
        assert method_builds.build_init_epochs(*method_builds.parse_key(key)) == table[key], key
    assert len(chosen) == 18 and any(table.values())


def test_a_build_missing_from_the_table_is_built_and_fails_as_before():
    student = FeatureSpec((16, 32), ((32, 32), (16, 16)), 32, 10)
    teacher = FeatureSpec((32, 64), ((32, 32), (16, 16)), 64, 10)
    key = method_builds.build_key("fitnet", {"hint_epochs": 7}, student, teacher)
    assert key not in shipped_table()
    assert method_builds.init_epochs("fitnet", {"hint_epochs": 7}, student, teacher) == 7
    with pytest.raises(ValueError, match="stage"):
        method_builds.init_epochs("fitnet", {"hint_stage": 5}, student, teacher)
