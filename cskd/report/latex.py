"""The LaTeX report: the same tables as the Markdown one, as booktabs tables (``\\usepackage{booktabs}``)."""

from __future__ import annotations

from cskd.report.cells import Stats
from cskd.report.numbers import format_diff, format_value, stats_parts
from cskd.report.tables import METRIC_TITLES, ReportTable

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "−": r"$-$",
    "—": "---",
}


def escape(text: str) -> str:
    """Text made safe for LaTeX (special characters escaped, ±, − and — spelled in LaTeX)."""
    return "".join(_SPECIAL.get(char, char) for char in text)


def _bold(text: str, bold: bool) -> str:
    return rf"\textbf{{{text}}}" if bold else text


def _environment(caption: str, label: str, header: list[str], lines: list[list[str]]) -> list[str]:
    return [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{caption}}}",
        rf"\label{{{label}}}",
        r"\resizebox{\linewidth}{!}{%",
        r"\begin{tabular}{l" + "c" * (len(header) - 1) + "}",
        r"\toprule",
        " & ".join(header) + r" \\",
        r"\midrule",
        *(" & ".join(cells) + r" \\" for cells in lines),
        r"\bottomrule",
        r"\end{tabular}}",
        r"\end{table}",
        "",
    ]


def _stats_cell(stats: Stats) -> str:
    value, count = stats_parts(stats)
    return escape(value) + (rf"\,{{\scriptsize({escape(count)})}}" if count else "")


def render_latex(table: ReportTable, title: str) -> str:
    """All tables of the report; captions carry the report's caption so each table stands alone."""
    header = [escape("teacher / student"), *(escape(c) for c in table.columns)]
    label = table.suite.replace("_", "-")
    text = [f"% {title} (LaTeX, needs \\usepackage{{booktabs}} and graphicx)", ""]
    caption = escape(" ".join(table.caption))
    for metric in table.metrics:
        name = METRIC_TITLES[metric]
        lines = [
            [
                escape(row.label),
                *(
                    _bold(_stats_cell(cell.stats), cell.best)
                    for cell in (table.cell(row, c, metric) for c in table.columns)
                ),
            ]
            for row in table.rows
        ]
        text += _environment(f"Reproduced {name} accuracy (\\%). {caption}", f"tab:{label}-{metric}", header, lines)
        if table.paper is None:
            continue
        lines = []
        for row in table.rows:
            cells = []
            for column in table.columns:
                cell = table.cell(row, column, metric)
                printed = _bold(escape(format_value(cell.paper)), cell.paper_best)
                cells.append(printed if cell.paper is None else f"{printed} ({escape(format_diff(cell.diff))})")
            lines.append([escape(row.label), *cells])
        paper_caption = (
            f"{escape(table.paper.title)} ({name} \\%, as printed; bold: the paper's best method of the row), "
            "and in brackets the reproduced mean minus the paper's value (points)."
        )
        text += _environment(paper_caption, f"tab:{label}-{metric}-paper", header, lines)
    return "\n".join(text)
