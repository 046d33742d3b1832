"""Reports of a suite's results: the paper's tables reproduced (Markdown, LaTeX, CSV), statistics over seeds,
figures, and the check against the paper's numbers or a reference run. The paper's numbers are in
``benchmarks/paper_results.csv``, the CIFAR-100 benchmark's published ones in ``benchmarks/published_results.csv``."""

from cskd.report.cells import CellKey, CellTable, Stats, read_runs_csv, select_profile
from cskd.report.check import CheckedCell, CheckResult, check
from cskd.report.errors import ReportInputError
from cskd.report.paper import PaperTable, load_paper_results, load_published_results, paper_table
from cskd.report.plots import plot_ablation, plot_curves, plot_paper_diff
from cskd.report.render import render_report, report_table
from cskd.report.seeds import PairedDifference, paired_difference, t_quantile
from cskd.report.tables import ReportTable, Row

__all__ = [
    "CellKey",
    "CellTable",
    "CheckResult",
    "CheckedCell",
    "PairedDifference",
    "PaperTable",
    "ReportInputError",
    "ReportTable",
    "Row",
    "Stats",
    "check",
    "load_paper_results",
    "load_published_results",
    "paired_difference",
    "paper_table",
    "plot_ablation",
    "plot_curves",
    "plot_paper_diff",
    "read_runs_csv",
    "render_report",
    "report_table",
    "select_profile",
    "t_quantile",
]
