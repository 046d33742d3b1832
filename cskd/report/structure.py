"""The category-structure section of a suite's report (docs/structure.md): statistics over seeds of every
``struct_*`` column of runs.csv per cell, the paired differences of each method to KD and to CE with the same
statistics as accuracy (:mod:`cskd.report.seeds`), and a figure of each method's accuracy against each metric.

The metrics are of the last epoch (the end of training); the accuracy they are plotted against is the table's
(best or last epoch). A teacher-free run (CE) has no teacher at hand, so its teacher-comparison metrics are empty and
differences to CE cover the student-only metrics (NC1, distance ratio, ECE).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from cskd.report.cells import TEACHER, Row, Stats
from cskd.report.numbers import MISSING_MARK
from cskd.report.plots import method_colors, save_figure
from cskd.report.seeds import PairedDifference, in_words, paired_difference
from cskd.report.tables import METRIC_TITLES, ReportTable
from cskd.runs_schema import STRUCTURE_COLUMNS, STRUCTURE_TITLES

#: the roles (cskd.report.roles) every method is compared with
REFERENCE_ROLES: tuple[str, ...] = ("kd", "ce")


@dataclass(frozen=True)
class StructureSection:
    """Per (row, column, metric) statistics over seeds, and the paired differences to KD and CE per metric."""

    stats: dict[tuple[Row, str, str], Stats]
    comparisons: dict[str, list[PairedDifference]]

    @property
    def empty(self) -> bool:
        return not any(s.n for s in self.stats.values())


def _value(value: float | None) -> str:
    return MISSING_MARK if value is None or math.isnan(value) else f"{value:.4g}"


def _stats_text(stats: Stats) -> str:
    if stats.mean is None:
        return MISSING_MARK
    spread = f" ± {stats.std:.3g}" if stats.std is not None else ""
    return f"{stats.mean:.4g}{spread} (n={stats.n})"


def reference_columns(method_columns: list[str], roles: dict[str, str]) -> list[str]:
    """The columns every method is compared with: the first column of each reference role, in the suite's order
    (a suite with two KD forms compares with the first, its KD; the second is one of the compared methods)."""
    firsts = (next((c for c in method_columns if roles.get(c) == role), None) for role in REFERENCE_ROLES)
    return [column for column in firsts if column is not None]


def structure_section(table: ReportTable) -> StructureSection:
    """The statistics of every structure metric of the table's cells and the paired differences to KD and CE."""
    results = table.results
    columns = [*table.method_columns, TEACHER]
    stats = {
        (row, column, metric): results.stats(row.key(column), metric)
        for row in table.rows
        for column in columns
        for metric in STRUCTURE_COLUMNS
    }
    references = reference_columns(table.method_columns, table.roles)
    pairs = [row for row in table.rows if row.teacher and row.student]
    comparisons: dict[str, list[PairedDifference]] = {}
    for metric in STRUCTURE_COLUMNS:
        found = []
        for row in pairs:
            for reference in references:
                for column in table.method_columns:
                    if column == reference or not stats[(row, reference, metric)].n:
                        continue
                    difference = paired_difference(results, row, column, reference, metric)
                    if difference.n:
                        found.append(difference)
        comparisons[metric] = found
    return StructureSection(stats, comparisons)


def structure_markdown(table: ReportTable) -> list[str]:
    """The report's lines of the structure section (none when no run recorded the metrics)."""
    section = structure_section(table)
    if section.empty:
        return []
    header = ["teacher / student", "method", *(STRUCTURE_TITLES[m] for m in STRUCTURE_COLUMNS)]
    lines = []
    for row in table.rows:
        for column in [*table.method_columns, TEACHER]:
            cells = [section.stats[(row, column, m)] for m in STRUCTURE_COLUMNS]
            if any(s.n for s in cells):
                lines.append([row.label, column, *(_stats_text(s) for s in cells)])
    text = [
        "## Category structure of the test set, last epoch (docs/structure.md)",
        "",
        "Mean ± sample std over seeds (n successful seeds). (T): compared with the pair's teacher, empty for "
        "teacher-free runs. Lower is more compact for NC1 and the distance ratio, better calibrated for ECE; higher "
        "is closer to the teacher for the correlation, CKA and agreement, lower for the MSE and KL.",
        "",
        *_markdown_table(header, lines),
        "",
    ]
    for metric in STRUCTURE_COLUMNS:
        differences = section.comparisons[metric]
        if not differences:
            continue
        rows = [
            [
                d.row.label,
                d.name,
                ", ".join(map(str, d.seeds)),
                _value(d.mean),
                _value(d.std),
                MISSING_MARK if d.interval is None else f"[{d.interval[0]:+.4g}, {d.interval[1]:+.4g}]",
                d.verdict,
            ]
            for d in differences
        ]
        text += [f"### {STRUCTURE_TITLES[metric]}: paired differences to KD and CE over seeds", ""]
        header = ["teacher / student", "A − B", "paired seeds", "mean", "std", "95% CI", "verdict"]
        text += [*_markdown_table(header, rows), "", in_words(differences), ""]
    text += [
        "Each interval above is a per-comparison 95% interval: over the many comparisons of this section (every "
        "method against KD and CE, for every metric), about one in twenty whose true difference is 0 is expected "
        "to exclude 0 by chance. Read a single 'beyond seed noise' here as a lead, not a finding; "
        "benchmarks/findings.py --metric gives intervals corrected for a family of comparisons.",
        "",
    ]
    return text


def _markdown_table(header: list[str], lines: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cells) + " |"

    return [line(header), line(["---"] * len(header)), *(line(cells) for cells in lines)]


def structure_figure(table: ReportTable, metric: str = "top1") -> Figure | None:
    """One panel per structure metric: each cell's mean accuracy (y) against its mean metric (x), with ± std bars
    on both axes, one colour per method; None when no run recorded the metrics."""
    section = structure_section(table)
    if section.empty:
        return None
    colors = method_colors(table)
    figure = Figure(figsize=(16, 7.5), layout="constrained")
    axes = figure.subplots(2, math.ceil(len(STRUCTURE_COLUMNS) / 2), squeeze=False).ravel()
    for ax, column in zip(axes, STRUCTURE_COLUMNS, strict=True):
        for method in table.method_columns:
            for row in table.rows:
                x = section.stats[(row, method, column)]
                y = table.results.stats(row.key(method), metric)
                if x.mean is None or y.mean is None:
                    continue
                ax.errorbar(
                    x.mean, y.mean, xerr=x.std or 0, yerr=y.std or 0, fmt="o", color=colors.get(method), capsize=2
                )
        ax.set_xlabel(STRUCTURE_TITLES[column])
        ax.set_ylabel(f"{METRIC_TITLES[metric]} accuracy (%, {table.epoch_rule} epoch)")
        ax.grid(alpha=0.3)
    handles = [axes[0].plot([], [], "o", color=colors.get(m), label=m)[0] for m in table.method_columns if m in colors]
    figure.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 8) or 1)
    figure.suptitle(f"{table.suite}: accuracy against category structure (mean ± std over seeds, one point per pair)")
    return figure


def plot_structure(table: ReportTable, figures_dir: Path) -> list[Path]:
    """Write the structure figure (nothing when no run recorded the metrics)."""
    figure = structure_figure(table)
    if figure is None:
        return []
    return save_figure(figure, figures_dir / f"{table.stem}-structure", figure.get_suptitle())
