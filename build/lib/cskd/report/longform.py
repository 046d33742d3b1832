"""The report's cells in long form: one CSV row per (pair, method, metric), raw numbers, never formatted; and the
paired comparisons over seeds, one row per (pair, comparison, metric)."""

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
    "paper_source",  # where the paper (or published) value comes from
    "baseline",  # the method the gain is measured from
    "gain",  # mean - the baseline's mean of the same student
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
                        "paper_source": cell.source,
                        "baseline": table.baseline,
                        "gain": cell.gain,
                        "best": cell.best,
                        "paper_best": cell.paper_best,
                    }
                )
    return pd.DataFrame.from_records(records, columns=list(LONG_COLUMNS))


PAIRED_COLUMNS: tuple[str, ...] = (
    "suite",
    "profile",
    "accuracy",
    "metric",
    "pair",
    "a",
    "b",  # the comparison is a - b
    "seeds",  # the paired seeds, space-separated
    "n",
    "mean",
    "std",
    "ci_low",
    "ci_high",
    "confidence",
    "distinguishable",  # the interval excludes 0
)


def paired_form(table: ReportTable) -> pd.DataFrame:
    records = []
    for metric, comparisons in table.comparisons.items():
        for d in comparisons:
            interval = d.interval or (None, None)
            records.append(
                {
                    "suite": table.suite,
                    "profile": table.profile,
                    "accuracy": table.epoch_rule,
                    "metric": metric,
                    "pair": d.row.label,
                    "a": d.a,
                    "b": d.b,
                    "seeds": " ".join(map(str, d.seeds)),
                    "n": d.n,
                    "mean": d.mean,
                    "std": d.std,
                    "ci_low": interval[0],
                    "ci_high": interval[1],
                    "confidence": d.confidence,
                    "distinguishable": d.distinguishable,
                }
            )
    return pd.DataFrame.from_records(records, columns=list(PAIRED_COLUMNS))
