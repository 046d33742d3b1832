"""Write ``cskd/model_facts.json``: the MACs, parameters and feature shapes of every model configuration that the
shipped suites (every profile and dataset alternative), the CPU rate, the reference results and ``cskd list models``
use, each measured on the meta device (``cskd.model_facts``); and ``cskd/method_builds.json``: every method build
those suites ask for, built anew, with its init epochs (``cskd.method_builds``). Run it after adding a model, a
method option or a suite:

    python scripts/write_model_facts.py

``tests/test_model_facts.py`` fails while the table lacks a configuration the suites use or disagrees with a count.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cskd import method_builds, model_facts, model_facts_table


def main() -> None:
    table = model_facts_table.collect_table()
    path = model_facts.FACTS_FILE
    path.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path}: {len(table['facts'])} configurations, {len(table['names'])} names")
    builds = model_facts_table.collect_builds(set(method_builds.REQUESTED))  # those collect_table's planning asked for
    method_builds.BUILDS_FILE.write_text(json.dumps(builds, indent=1, sort_keys=True) + "\n")
    print(f"wrote {method_builds.BUILDS_FILE}: {len(builds)} method builds")


if __name__ == "__main__":
    main()
