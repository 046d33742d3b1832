"""The structure metrics in ``cskd check --against runs.csv``: each cell's mean over seeds within a tolerance of the
reference's mean, like the accuracies.

A tolerance is absolute for a metric on a fixed scale (CKA and correlation in [0, 1] or [-1, 1], agreement and ECE in
%) and relative to the reference's value for one whose scale depends on the network (NC1, the distance ratio, the
cosine MSE, the KL). Each is chosen by a stated rule from the rerun spread that ``scripts/measure_ci_spread.sh``
measured (docs/testing.md): a rerun that CI cannot control (another thread count, as on another CPU) must pass.

A reference written before the metrics existed (its runs.csv lacks the ``struct_*`` columns, or holds no value in
them) compares nothing here, and the check says so in a note instead of failing.
"""

from __future__ import annotations

import math

import pandas as pd

from cskd.report.cells import CellTable
from cskd.runs_schema import STRUCTURE_COLUMNS

#: how a metric's tolerance scales: "absolute" for a metric on a fixed scale (ECE and agreement in %, the center
#: correlation and CKA in [-1, 1]), "relative" (a fraction of the reference's |value|) for one whose scale depends on
#: the network (NC1, the distance ratio, the center-cosine MSE, the KL)
SCALES: dict[str, str] = {
    "struct_nc1": "relative",
    "struct_distance_ratio": "relative",
    "struct_ece": "absolute",
    "struct_center_corr": "absolute",
    "struct_center_mse": "relative",
    "struct_cka": "absolute",
    "struct_agreement": "absolute",
    "struct_kl_t4": "relative",
}

#: the largest difference over the ci suite's cells between the --deterministic reference and a rerun CI cannot tell
#: from it (one torch thread instead of two; AVX2 kernels instead of AVX-512), on each metric's scale (absolute, or
#: relative to the reference's |value|); scripts/measure_ci_spread.sh, measured 2026-12-05, docs/testing.md
MEASURED_RERUN_SPREAD: dict[str, float] = {
    "struct_nc1": 0.385,
    "struct_distance_ratio": 0.156,
    "struct_ece": 7.27,
    "struct_center_corr": 0.0896,
    "struct_center_mse": 0.288,
    "struct_cka": 0.138,
    "struct_agreement": 3.9,
    "struct_kl_t4": 0.0734,
}

#: the rule: a tolerance is SPREAD_FACTOR times the measured rerun spread (one rerun is one sample of the rounding
#: noise; another CPU may move a cell further), and at least the floor of its scale
SPREAD_FACTOR = 2.0
#: the least tolerance, for a metric that reruns hardly moved: 0.5 points of a percentage over 1,000 test images
#: (5 images), 0.01 of a correlation or CKA, 2% of a relative one
FLOORS: dict[str, float] = {
    "struct_nc1": 0.02,
    "struct_distance_ratio": 0.02,
    "struct_ece": 0.5,
    "struct_center_corr": 0.01,
    "struct_center_mse": 0.02,
    "struct_cka": 0.01,
    "struct_agreement": 0.5,
    "struct_kl_t4": 0.02,
}

#: column -> ("absolute", tolerance) or ("relative", fraction of the reference's |value|)
STRUCTURE_TOLERANCES: dict[str, tuple[str, float]] = {
    column: (SCALES[column], max(SPREAD_FACTOR * MEASURED_RERUN_SPREAD[column], FLOORS[column]))
    for column in STRUCTURE_COLUMNS
}


def tolerance_for(column: str, expected: float) -> float:
    """The absolute tolerance of ``column`` around the reference value ``expected``."""
    kind, value = STRUCTURE_TOLERANCES[column]
    return value * abs(expected) if kind == "relative" else value


def describe_tolerances() -> str:
    parts = [
        f"{column} ±{value:.3g}{'×|reference|' if kind == 'relative' else ''}"
        for column, (kind, value) in STRUCTURE_TOLERANCES.items()
    ]
    return (
        f"structure tolerances ({SPREAD_FACTOR:g}× the measured rerun spread, at least a floor; docs/testing.md): "
        + ", ".join(parts)
    )


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
