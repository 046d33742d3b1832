"""The report's cells in long form: one CSV row per (pair, method, metric), raw numbers, never formatted."""

from __future__ import annotations

import pandas as pd

from cskd.report.tables import ReportTable

LONG_COLUMNS: tuple[str, ...] = (
    "suite",
    "profile",
    "accuracy",  # best or last epoch
    "metric",  # top1 or top5
    "pair",
    "teacher",
    "student",
    "method",
    "status",  # ok, partial, failed, missing
    "n",
    "n_failed",
    "mean",
    "std",
    "paper",
    "diff",  # mean - paper
    "best",  # the reproduced best method of the row
    "paper_best",  # the paper's best method of the row
)


def long_form(table: ReportTable) -> pd.DataFrame:
    records = []
    for metric in table.metrics:
        for row in table.rows:
            for column in table.columns:
                cell = table.cell(row, column, metric)
                records.append(
                    {
                        "suite": table.suite,
                        "profile": table.profile,
                        "accuracy": table.epoch_rule,
                        "metric": metric,
                        "pair": row.label,
                        "teacher": row.teacher,
                        "student": row.student,
                        "method": column,
                        "status": cell.stats.status,
                        "n": cell.stats.n,
                        "n_failed": cell.stats.failed,
                        "mean": cell.stats.mean,
                        "std": cell.stats.std,
                        "paper": cell.paper,
                        "diff": cell.diff,
                        "best": cell.best,
                        "paper_best": cell.paper_best,
                    }
                )
    return pd.DataFrame.from_records(records, columns=list(LONG_COLUMNS))
