"""``render_report``: a suite's runs to ``reports/<stem>.md|.tex|.csv``, its figures, and the reports index.

The stem is the suite name, qualified when the report is not the default one, so that reports never overwrite each
other: ``<suite>-<profile>`` for a profile other than ``full``, and a ``-last`` suffix for last-epoch accuracy.
Figures go to ``reports/figures/<stem>-<figure>.png|.pdf``; the paired comparisons over seeds (when the suite asks
for some) to ``reports/<stem>-paired.csv``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cskd.atomicfile import write_text_atomic
from cskd.report.cells import check_epoch_rule, normalise_runs, select_profile
from cskd.report.index import write_index
from cskd.report.latex import render_latex
from cskd.report.longform import long_form, paired_form
from cskd.report.markdown import render_markdown, title
from cskd.report.plots import ablation_columns, paper_diff_rows, plot_ablation, plot_curves, plot_paper_diff
from cskd.report.rerun import rerun_markdown
from cskd.report.structure import plot_structure, structure_markdown
from cskd.report.suites import SuiteLike, suite_runs, view_suite
from cskd.report.tables import ReportTable, build_table

FIGURES_DIR = "figures"


def report_table(
    suite: SuiteLike, runs: pd.DataFrame, *, metric: str = "best", profile: str | None = None
) -> ReportTable:
    """The table of a suite's report (one profile, best or last epoch), without writing anything."""
    own, chosen = select_profile(suite_runs(suite, normalise_runs(runs)), profile)
    return build_table(view_suite(suite, chosen), own, epoch_rule=check_epoch_rule(metric))


def render_figures(table: ReportTable, figures_dir: Path, epochs_dir: Path | None) -> list[Path]:
    """The figures that apply: paper difference (paper values in more than one row), ablation (two CSKD variants or
    more), structure (runs that recorded the structure metrics), curves (epoch CSVs)."""
    paths: list[Path] = []
    if len(paper_diff_rows(table)) > 1:
        paths += plot_paper_diff(table, figures_dir)
    if ablation_columns(table):
        paths += plot_ablation(table, figures_dir)
    paths += plot_structure(table, figures_dir)  # issue 23: accuracy against the structure metrics
    if epochs_dir is not None:
        for row in table.rows:
            paths += plot_curves(table, row, epochs_dir, figures_dir)
    return paths


def render_report(
    suite: SuiteLike,
    runs: pd.DataFrame,
    out_dir: Path,
    *,
    metric: str = "best",
    profile: str | None = None,
    epochs_dir: Path | None = None,
    rerun: tuple[pd.DataFrame, str] | None = None,
) -> list[Path]:
    """Write a suite's report and return the written paths (.md, .tex, .csv, the paired comparisons' -paired.csv
    when there are some, figures, then reports/README.md).

    ``runs``: rows of runs.csv; ``metric``: accuracy at the ``best`` or the ``last`` epoch; ``profile``: the profile
    to report (default: the only one present); ``epochs_dir``: ``results/<suite>/epochs`` for the per-epoch curves
    (no curves when None); ``rerun``: the rows of another training of the same runs and where they come from, for
    the section on the rerun spread (:mod:`cskd.report.rerun`; none when None).
    """
    table = report_table(suite, runs, metric=metric, profile=profile)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = render_figures(table, out_dir / FIGURES_DIR, epochs_dir)
    markdown = out_dir / f"{table.stem}.md"
    latex = out_dir / f"{table.stem}.tex"
    cells = out_dir / f"{table.stem}.csv"
    pngs = [p for p in figures if p.suffix == ".png"]
    structure = structure_markdown(table)  # the structure section follows the report's text (docs/structure.md)
    spread = [] if rerun is None else rerun_markdown(table, *rerun)
    text = "\n".join([render_markdown(table, pngs, out_dir), *spread, *structure])
    write_text_atomic(markdown, text)  # whole files or none
    write_text_atomic(latex, render_latex(table, title(table)))
    write_text_atomic(cells, long_form(table).to_csv(index=False))
    written = [markdown, latex, cells]
    if any(table.comparisons.values()):
        paired = out_dir / f"{table.stem}-paired.csv"
        write_text_atomic(paired, paired_form(table).to_csv(index=False))
        written.append(paired)
    return [*written, *figures, write_index(out_dir)]
