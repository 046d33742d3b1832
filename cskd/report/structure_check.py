"""The structure metrics in ``cskd check --against runs.csv``: each cell's mean over seeds within a tolerance of the
reference's mean, like the accuracies.

A tolerance is absolute for a metric on a fixed scale (CKA and correlation in [0, 1] or [-1, 1], agreement and ECE in
%) and relative to the reference's value for one whose scale depends on the network (NC1, the distance ratio, the
cosine MSE, the KL). The values below are provisional, set by judgement before any measured rerun of the CI suite:
``scripts/measure_ci_spread.sh`` prints the spread of reruns from which they are to be chosen (docs/structure.md).

A reference written before the metrics existed (its runs.csv lacks the ``struct_*`` columns, or holds no value in
them) compares nothing here, and the check says so in a note instead of failing.
"""

from __future__ import annotations

import math

import pandas as pd

from cskd.report.cells import CellTable
from cskd.runs_schema import STRUCTURE_COLUMNS

#: column -> ("absolute", tolerance) or ("relative", fraction of the reference's |mean|)
STRUCTURE_TOLERANCES: dict[str, tuple[str, float]] = {
    "struct_nc1": ("relative", 0.25),
    "struct_distance_ratio": ("relative", 0.10),
    "struct_ece": ("absolute", 2.0),
    "struct_center_corr": ("absolute", 0.05),
    "struct_center_mse": ("relative", 0.25),
    "struct_cka": ("absolute", 0.05),
    "struct_agreement": ("absolute", 3.0),
    "struct_kl_t4": ("relative", 0.25),
}


def tolerance_for(column: str, expected: float) -> float:
    """The absolute tolerance of ``column`` around the reference value ``expected``."""
    kind, value = STRUCTURE_TOLERANCES[column]
    return value * abs(expected) if kind == "relative" else value


def describe_tolerances() -> str:
    parts = [
        f"{column} ±{value:g}{'×|reference|' if kind == 'relative' else ''}"
        for column, (kind, value) in STRUCTURE_TOLERANCES.items()
    ]
    return "structure tolerances (provisional, docs/structure.md): " + ", ".join(parts)


def structure_expectations(reference: pd.DataFrame, epoch_rule: str) -> tuple[dict, str]:
    """``({(cell, column): reference mean}, note)`` for every structure column the reference holds values of."""
    present = [c for c in STRUCTURE_COLUMNS if c in reference.columns and reference[c].notna().any()]
    if not present:
        return {}, (
            "structure metrics not compared: the reference predates them (no struct_* values in its runs.csv); "
            "regenerate the reference to cover them"
        )
    cells = CellTable(reference, epoch_rule)
    expected = {}
    for key in cells.cell_keys():
        for column in present:
            mean = cells.stats(key, column).mean
            if mean is not None and not math.isnan(mean):
                expected[(key, column)] = mean
    absent = sorted(set(STRUCTURE_COLUMNS) - set(present))
    note = describe_tolerances()
    if absent:
        note += f"; not in the reference, so not compared: {', '.join(absent)}"
    return expected, note
