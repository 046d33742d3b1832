"""The LaTeX report: the same tables as the Markdown one, as booktabs tables (``\\usepackage{booktabs}``), each with
a caption of one sentence and its notes in small print below."""

from __future__ import annotations

from cskd.report.cells import Stats
from cskd.report.markdown import paired_method_sentence
from cskd.report.numbers import format_diff, format_interval, format_value, stats_parts
from cskd.report.seeds import in_words
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
    "·": r"$\cdot$",
    "√": r"$\surd$",
}


def escape(text: str) -> str:
    """Text made safe for LaTeX (special characters escaped, ±, −, —, · and √ spelled in LaTeX)."""
    return "".join(_SPECIAL.get(char, char) for char in text)


def _bold(text: str, bold: bool) -> str:
    return rf"\textbf{{{text}}}" if bold else text


def _environment(caption: str, label: str, header: list[str], lines: list[list[str]], notes: str) -> list[str]:
    """A table: its one-sentence caption above, the notes in small print below."""
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
        r"\par\smallskip",
        rf"\parbox{{\linewidth}}{{\footnotesize {notes}}}",
        r"\end{table}",
        "",
    ]


def _stats_cell(stats: Stats, single_seed: bool) -> str:
    value, count = stats_parts(stats, single_seed)
    return escape(value) + (rf"\,{{\scriptsize({escape(count)})}}" if count else "")


def render_latex(table: ReportTable, title: str) -> str:
    """All tables of the report, each with a one-sentence caption and its notes (the first table carries the
    report's notes; the others refer to it)."""
    header = [escape("teacher / student"), *(escape(c) for c in table.columns)]
    label = table.suite.replace("_", "-")
    text = [f"% {title} (LaTeX, needs \\usepackage{{booktabs}} and graphicx)", ""]
    for metric in table.metrics:
        name = METRIC_TITLES[metric]
        main = f"tab:{label}-{metric}"
        see = rf"Notes: see Table~\ref{{{main}}}."
        lines = [
            [
                escape(row.label),
                *(
                    _bold(_stats_cell(cell.stats, table.single_seed), cell.best)
                    for cell in (table.cell(row, c, metric) for c in table.columns)
                ),
            ]
            for row in table.rows
        ]
        notes = "Notes. " + escape(" ".join(table.notes))
        text += _environment(escape(table.caption), main, header, lines, notes)
        if table.baseline is not None:
            columns = [c for c in table.method_columns if c != table.baseline]
            gains = [
                [escape(row.label), *(escape(format_diff(table.cell(row, c, metric).gain)) for c in columns)]
                for row in table.rows
            ]
            caption = escape(f"Gain over {table.baseline} ({name} accuracy, points) of the methods of Table") + (
                rf"~\ref{{{main}}}."
            )
            gain_header = [escape("teacher / student"), *(escape(c) for c in columns)]
            text += _environment(caption, f"{main}-gain", gain_header, gains, see)
        if table.paper is not None:
            text += _paper_table(table, metric, header, f"{main}-{table.paper.noun}", see)
        if table.comparisons[metric]:
            text += _paired_table(table, metric, f"{main}-paired", see)
    return "\n".join(text)


def _paper_table(table: ReportTable, metric: str, header: list[str], label: str, see: str) -> list[str]:
    lines = []
    for row in table.rows:
        cells = []
        for column in table.columns:
            cell = table.cell(row, column, metric)
            printed = _bold(escape(format_value(cell.paper)), cell.paper_best)
            cells.append(printed if cell.paper is None else f"{printed} ({escape(format_diff(cell.diff))})")
        lines.append([escape(row.label), *cells])
    noun = table.paper.noun
    caption = escape(
        f"{table.paper.title} ({METRIC_TITLES[metric]} %, as printed) and, in brackets, the reproduced mean minus the "
        f"{noun} value (points)."
    )
    notes = escape(f"Bold: the {noun} best method of the row. ") + see
    return _environment(caption, label, header, lines, notes)


def _paired_table(table: ReportTable, metric: str, label: str, see: str) -> list[str]:
    comparisons = table.comparisons[metric]
    header = [escape(h) for h in ("teacher / student", "A − B", "paired seeds", "mean", "std", "95% CI")]
    lines = [
        [
            escape(d.row.label),
            escape(d.name),
            escape(", ".join(map(str, d.seeds)) or "—"),
            _bold(escape(format_diff(d.mean)), d.distinguishable),
            escape(format_value(d.std)),
            escape(format_interval(d.interval)),
        ]
        for d in comparisons
    ]
    caption = escape(f"Paired differences over seeds ({METRIC_TITLES[metric]} accuracy, points), with 95% intervals.")
    notes = escape(f"{paired_method_sentence(table)} Bold: the interval excludes 0. {in_words(comparisons)} ") + see
    return _environment(caption, label, header, lines, notes)
