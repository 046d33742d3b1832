"""The Markdown report: caption, then per metric the reproduced table and the paper/difference table, figures, and
the failed runs.

Reproduced cells read ``mean ± std (n=k)``; the paper table's cells read ``paper (reproduced − paper)``, e.g.
``91.99 (-0.76)``, and end with a column naming the best method of the row, reproduced / paper.
"""

from __future__ import annotations

from pathlib import Path

from cskd.report.numbers import MISSING_MARK, format_diff, format_seed, format_stats, format_value
from cskd.report.tables import METRIC_TITLES, ReportTable, Row

BEST_COLUMN = "best: reproduced / paper"


def _table(header: list[str], lines: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(header), "|" + "|".join("---" for _ in header) + "|", *(line(cells) for cells in lines)]


def _bold(text: str, bold: bool) -> str:
    return f"**{text}**" if bold else text


def title(table: ReportTable) -> str:
    subject = f"reproduction of {table.paper.title}" if table.paper else "results"
    return f"{table.suite}: {subject} ({table.epoch_rule} epoch, profile {table.profile or 'none'})"


def reproduced_lines(table: ReportTable, metric: str) -> list[str]:
    lines = []
    for row in table.rows:
        cells = [table.cell(row, c, metric) for c in table.columns]
        lines.append([row.label, *(_bold(format_stats(cell.stats), cell.best) for cell in cells)])
    return _table(["teacher / student", *table.columns], lines)


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
            cells.append(printed if cell.paper is None else f"{printed} ({format_diff(cell.diff)})")
        lines.append([row.label, *cells, _best_summary(table, row, metric)])
    return _table(["teacher / student", *table.columns, BEST_COLUMN], lines)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def failed_lines(table: ReportTable) -> list[str]:
    failed = table.failed_runs()
    lines = [
        [r.run_id, f"{r.teacher or MISSING_MARK} / {r.student}", r.method, format_seed(r.seed), _one_line(r.error)]
        for r in failed.itertuples(index=False)
    ]
    return _table(["run", "teacher / student", "method", "seed", "error"], lines)


def render_markdown(table: ReportTable, figures: list[Path], base: Path) -> str:
    """The report text; ``figures`` (PNG paths) are linked relative to ``base``, the report's folder."""
    text = [f"# {title(table)}", "", " ".join(table.caption), ""]
    for metric in table.metrics:
        name = METRIC_TITLES[metric]
        text += [f"## {name.capitalize()} accuracy (%), reproduced", "", *reproduced_lines(table, metric), ""]
        if table.paper is not None:
            heading = f"## {name.capitalize()} accuracy (%): {table.paper.title}, and reproduced − paper in brackets"
            text += [heading, "", *paper_lines(table, metric), ""]
    if figures:
        text += ["## Figures", ""]
        for figure in figures:
            text += [f"![{figure.stem}]({figure.relative_to(base).as_posix()})", ""]
    if not table.failed_runs().empty:
        text += ["## Failed runs", "", *failed_lines(table), ""]
    return "\n".join(text)
