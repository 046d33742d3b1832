"""Reports of a suite's results: the paper's tables reproduced (Markdown, LaTeX, CSV), statistics over seeds,
figures, and the check against the paper's numbers or a reference run. The paper's numbers are in
``benchmarks/paper_results.csv``, the CIFAR-100 benchmark's published ones in ``benchmarks/published_results.csv``.

The names below are imported on first use (PEP 562), so that ``cskd --help`` (which imports :mod:`cskd.report.cli`)
does not pay for pandas and matplotlib. The check function is ``cskd.report.check.check``: ``cskd.report.check`` is
its module (a lazy package cannot also bind the name to the function).
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> the module defining it
_EXPORTS: dict[str, str] = {
    "CellKey": "cells",
    "CellTable": "cells",
    "Stats": "cells",
    "read_runs_csv": "cells",
    "select_profile": "cells",
    "CheckedCell": "check",
    "CheckResult": "check",
    "ReportInputError": "errors",
    "PaperTable": "paper",
    "load_paper_results": "paper",
    "load_published_results": "paper",
    "PairedDifference": "seeds",
    "paired_difference": "seeds",
    "t_quantile": "seeds",
    "paper_table": "paper",
    "plot_ablation": "plots",
    "plot_curves": "plots",
    "plot_paper_diff": "plots",
    "render_report": "render",
    "report_table": "render",
    "ReportTable": "tables",
    "Row": "tables",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
