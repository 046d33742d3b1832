"""The tables of model facts (``cskd/model_facts.json``, :mod:`cskd.model_facts`) and of method builds
(``cskd/method_builds.json``, :mod:`cskd.method_builds`) as ``scripts/write_model_facts.py`` writes them and the tests
check them: every configuration the planning commands ask for, measured or built anew. (Apart from the modules that
read them, because collecting the configurations means expanding every shipped suite.)"""

from __future__ import annotations

import json
from contextlib import suppress
from typing import Any

from cskd import method_builds, model_facts
from cskd.model_facts import facts_record, live_catalog, measure_facts, parse_key


def planning_keys() -> set[str]:
    """The model configurations the planning commands ask for: every shipped suite under every profile and dataset
    alternative (its lockstep groups' costs and its method builds), the CPU rate and the reference results' rows. The
    method builds they ask for are then in ``cskd.method_builds.REQUESTED``."""
    from cskd.cost import cpu_rate, group_cost
    from cskd.learned_rates import REFERENCE_RESULTS, row_macs
    from cskd.plan import check_builds, dataset_alternatives, expand
    from cskd.results import read_runs
    from cskd.suite import load_suite, suite_paths

    model_facts.REQUESTED.clear()
    method_builds.REQUESTED.clear()
    for path in suite_paths():
        suite = load_suite(path)
        for profile in [None, *suite.profiles]:
            for dataset in dataset_alternatives(suite, profile):
                plan = expand(suite, profile, dataset=dataset)
                check_builds(plan)
                for group in plan.groups():
                    with suppress(ValueError):  # a dataset whose size is only known once loaded: nothing to count
                        group_cost(group)
    cpu_rate()
    for runs in sorted(REFERENCE_RESULTS.glob("*/runs.csv")):
        for row in read_runs(runs).to_dict("records"):
            row_macs(row)
    return set(model_facts.REQUESTED)


def collect_table() -> dict[str, Any]:
    """The table ``scripts/write_model_facts.py`` writes, every entry measured anew (never read from the table)."""
    from cskd.models import model_names

    keys = planning_keys()
    facts = {key: facts_record(measure_facts(*parse_key(key))) for key in sorted(keys)}
    names = sorted({json.loads(key)[0] for key in keys} | set(model_names()))
    return {"facts": facts, "names": names, "catalog": live_catalog()}


def planning_builds() -> set[str]:
    """The method builds the planning commands ask for (:func:`planning_keys`)."""
    planning_keys()
    return set(method_builds.REQUESTED)


def collect_builds(keys: set[str]) -> dict[str, int]:
    """The table of method builds: each of ``keys`` built anew (never read from the table), with its init epochs."""
    return {key: method_builds.build_init_epochs(*method_builds.parse_key(key)) for key in sorted(keys)}
