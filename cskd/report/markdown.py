"""The Markdown report: the caption (one sentence) and its notes, then per metric the reproduced table, the gain over
the baseline, the paper/difference table and the paired differences over seeds, then the figures and the failed runs.

Reproduced cells read ``mean ± std (n=k)`` (no count when every cell has one seed: the caption says so); the paper
table's cells read ``paper (reproduced − paper)``, e.g. ``91.99 (-0.76)``, and end with a column naming the best
method of the row, reproduced / paper. A table of published values (another paper's benchmark) says "published".
"""

from __future__ import annotations

from pathlib import Path

from cskd.report.numbers import (
    MISSING_MARK,
    format_diff,
    format_interval,
    format_seed,
    format_stats,
    format_value,
)
from cskd.report.redact import without_paths
from cskd.report.seeds import in_words, t_quantile
from cskd.report.tables import METRIC_TITLES, ReportTable, Row, TableCell


def best_column(table: ReportTable) -> str:
    return f"best: reproduced / {table.paper.noun if table.paper else 'paper'}"


def _table(header: list[str], lines: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(header), "|" + "|".join("---" for _ in header) + "|", *(line(cells) for cells in lines)]


def _bold(text: str, bold: bool) -> str:
    return f"**{text}**" if bold else text


def title(table: ReportTable) -> str:
    subject = f"reproduction of {table.paper.title}" if table.paper else "results"
    return f"{table.suite}: {subject} ({table.heading()})"


def reproduced_lines(table: ReportTable, metric: str) -> list[str]:
    lines = []
    for row in table.rows:
        cells = [table.cell(row, c, metric) for c in table.columns]
        lines.append([row.label, *(_bold(format_stats(cell.stats, table.single_seed), cell.best) for cell in cells)])
    return _table(["teacher / student", *table.columns], lines)


def gain_lines(table: ReportTable, metric: str) -> list[str]:
    """Each method's mean minus the baseline's mean of its row (the baseline's own column is left out)."""
    columns = [c for c in table.method_columns if c != table.baseline]
    lines = [[row.label, *(format_diff(table.cell(row, c, metric).gain) for c in columns)] for row in table.rows]
    return _table(["teacher / student", *columns], lines)


def _best_summary(table: ReportTable, row: Row, metric: str) -> str:
    reproduced = ", ".join(table.best_methods(row, metric, paper=False)) or MISSING_MARK
    paper = ", ".join(table.best_methods(row, metric, paper=True)) or MISSING_MARK
    return f"{reproduced} / {paper}"


def paper_lines(table: ReportTable, metric: str) -> list[str]:
    lines = []
    for row in table.rows:
        cells = []
        for column in table.columns:
            cell = table.cell(row, column, metric)
            printed = _bold(format_value(cell.paper), cell.paper_best)
            cells.append(
                printed if cell.paper is None else f"{printed} ({format_diff(cell.diff)}{rule_suffix(table, cell)})"
            )
        lines.append([row.label, *cells, _best_summary(table, row, metric)])
    return _table(["teacher / student", *table.columns, best_column(table)], lines)


def rule_suffix(table: ReportTable, cell: TableCell) -> str:
    """The epoch a comparison used, where it is not the report's (the source's rule: cskd.report.epoch_rules)."""
    return f", {cell.compared_rule}" if cell.compared_rule and cell.compared_rule != table.epoch_rule else ""


def paper_heading(table: ReportTable, name: str) -> str:
    noun = table.paper.noun
    return (
        f"## {name} accuracy (%): {table.paper.title}, and reproduced − {noun} in brackets, at the epoch each "
        f"{noun} value's source reports ({table.epoch_rule} where it states none; another epoch is named)"
    )


def paired_method_sentence(table: ReportTable) -> str:
    """How the paired differences are computed, with the t quantile of the seeds at hand."""
    counts = sorted({d.n for ds in table.comparisons.values() for d in ds if d.n > 1})
    quantiles = ", ".join(f"t = {t_quantile(n):.3f} for n = {n}" for n in counts)
    return (
        "A − B per pair over the seeds where both succeeded (same seed: same initialisation and data order); "
        "mean and sample std of the per-seed differences, 95% confidence interval mean ± t · std / √n with "
        f"Student's t at n − 1 degrees of freedom{f' ({quantiles})' if quantiles else ''}. Detectable: the smallest "
        "true difference these seeds find with 80% power, (t_0.975 + t_0.80) · std / √n; a smaller one is not "
        "measured by this report, whatever its mean (a rerun on another machine moves single runs by points: "
        "docs/noise.md)."
    )


def paired_lines(table: ReportTable, metric: str) -> list[str]:
    lines = [
        [
            d.row.label,
            d.name,
            ", ".join(map(str, d.seeds)) or MISSING_MARK,
            format_diff(d.mean),
            format_value(d.std),
            format_interval(d.interval),
            format_value(d.detectable),
            d.verdict,
        ]
        for d in table.comparisons[metric]
    ]
    header = ["teacher / student", "A − B", "paired seeds", "mean", "std", "95% CI", "detectable", "verdict"]
    return _table(header, lines)


def _one_line(text: str) -> str:
    return " ".join(without_paths(text).split())


def failed_lines(table: ReportTable) -> list[str]:
    failed = table.failed_runs()
    lines = [
        [r.run_id, f"{r.teacher or MISSING_MARK} / {r.student}", r.method, format_seed(r.seed), _one_line(r.error)]
        for r in failed.itertuples(index=False)
    ]
    return _table(["run", "teacher / student", "method", "seed", "error"], lines)


def render_markdown(table: ReportTable, figures: list[Path], base: Path) -> str:
    """The report text; ``figures`` (PNG paths) are linked relative to ``base``, the report's folder."""
    text = [f"# {title(table)}", "", table.caption, "", *(f"- {note}" for note in table.notes), ""]
    for metric in table.metrics:
        name = METRIC_TITLES[metric].capitalize()
        text += [f"## {name} accuracy (%), reproduced", "", *reproduced_lines(table, metric), ""]
        if table.baseline is not None:
            text += [f"## {name} gain over {table.baseline} (points)", "", *gain_lines(table, metric), ""]
        if table.paper is not None:
            text += [paper_heading(table, name), "", *paper_lines(table, metric), ""]
        if table.comparisons[metric]:
            text += [f"## {name}: paired differences over seeds (points)", "", paired_method_sentence(table), ""]
            text += [*paired_lines(table, metric), "", in_words(table.comparisons[metric]), ""]
    if figures:
        text += ["## Figures", ""]
        for figure in figures:
            text += [f"![{figure.stem}]({figure.relative_to(base).as_posix()})", ""]
    if not table.failed_runs().empty:
        text += ["## Failed runs", "", *failed_lines(table), ""]
    return "\n".join(text)
