"""Which epoch each reference value is compared at: the rule of the value's own source.

Sources report different epochs: RepDistiller (the CRD README and paper) the last epoch (its train_student.py; its
issue #16), the DKD authors (mdistiller) the best epoch, averaged over 5 runs (mdistiller issue #30); the CSKD paper and
the ReviewKD paper do not say. Our runs keep both accuracies (``best_*`` and ``last_*`` in runs.csv), so a reference
cell is compared with our mean *at its source's rule*; where the source's rule is unknown, at the rule the report or
check was asked for (``--metric``), and the comparison says so.
"""

from __future__ import annotations

import pandas as pd

from cskd.report.cells import CellKey, CellTable, Stats, check_epoch_rule
from cskd.report.paper import UNKNOWN


def comparison_rule(source_rule: str | None, requested: str) -> str:
    """The epoch our number is taken at to compare with a value whose source reports ``source_rule``."""
    if source_rule in ("best", "last"):
        return source_rule
    return check_epoch_rule(requested)


def describe_rule(source_rule: str | None, used: str) -> str:
    """A short label of the rule a comparison used: ``last``, ``best``, or ``best (source: unknown)``."""
    return used if source_rule in ("best", "last") else f"{used} (source: {UNKNOWN})"


class RuleTables:
    """Our cell statistics at either epoch rule, built once each when first asked for."""

    def __init__(self, runs: pd.DataFrame) -> None:
        self._runs = runs
        self._tables: dict[str, CellTable] = {}

    def table(self, rule: str) -> CellTable:
        rule = check_epoch_rule(rule)
        if rule not in self._tables:
            self._tables[rule] = CellTable(self._runs, rule)
        return self._tables[rule]

    def stats(self, key: CellKey, metric: str, rule: str) -> Stats:
        return self.table(rule).stats(key, metric)


def rules_note(uses: dict[str, set[tuple[str, str]]], requested: str) -> str:
    """One sentence naming, per source, the epoch rule and trial count its values state and the epoch ours were
    taken at; ``uses`` maps a source to its (epoch rule, trials) pairs."""
    parts = []
    for source, pairs in uses.items():
        for rule, trials in sorted(pairs):
            runs = f"mean of {trials} runs" if trials.isdigit() else "number of runs not stated"
            if rule in ("best", "last"):
                parts.append(f"{source}: {rule} epoch ({runs}), compared with our {rule}-epoch mean")
            else:
                parts.append(
                    f"{source}: epoch not stated ({runs}), compared with our {check_epoch_rule(requested)}-epoch mean"
                )
    return "Epoch rule of each reference value (its source's): " + "; ".join(parts) + "." if parts else ""
