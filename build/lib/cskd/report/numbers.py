"""How numbers are printed in every report: two decimals, signed differences, the missing and failed markers."""

from __future__ import annotations

import math

from cskd.report.cells import Stats

MISSING_MARK = "—"
FAILED_MARK = "failed"


def format_value(value: float | None) -> str:
    return MISSING_MARK if value is None else f"{value:.2f}"


def format_diff(value: float | None) -> str:
    """A signed difference in accuracy points (``+0.12``, ``-0.76``), or the missing marker."""
    return MISSING_MARK if value is None else f"{value:+.2f}"


def stats_parts(stats: Stats, single_seed: bool = False) -> tuple[str, str]:
    """The value (``mean ± std``; one seed has no std) and the count (``n=k``, failed seeds added), or the missing or
    failed marker and an empty count when the cell has no successful run. ``single_seed``: every cell of the table
    has one seed (the caption says so), so a cell of one seed and no failure shows no count."""
    if stats.mean is None:
        return (FAILED_MARK if stats.failed else MISSING_MARK), ""
    spread = f" ± {stats.std:.2f}" if stats.std is not None else ""
    failed = f", {stats.failed} failed" if stats.failed else ""
    if single_seed and stats.n == 1 and not stats.failed:
        return f"{stats.mean:.2f}", ""
    return f"{stats.mean:.2f}{spread}", f"n={stats.n}{failed}"


def format_stats(stats: Stats, single_seed: bool = False) -> str:
    """``mean ± std (n=k)``, or the missing or failed marker (see :func:`stats_parts`)."""
    value, count = stats_parts(stats, single_seed)
    return f"{value} ({count})" if count else value


def format_interval(interval: tuple[float, float] | None) -> str:
    """A confidence interval as ``[-0.61, +1.45]`` (points), or the missing marker."""
    return MISSING_MARK if interval is None else f"[{interval[0]:+.2f}, {interval[1]:+.2f}]"


def format_seed(seed: float) -> str:
    return MISSING_MARK if math.isnan(seed) else str(int(seed))
