"""What the report reads of a suite (:class:`cskd.suite.Suite`): its table layout under one profile.

A profile may narrow the suite's pairs, methods and seeds and change its dataset (``cskd.suite.Profile``: a field
left None keeps the suite's value), so a report of profile ``quick`` shows the positions that profile runs, not the
full suite's, and ``check --against paper`` requires only those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from cskd.report.cells import Row
from cskd.report.errors import ReportInputError


class PairLike(Protocol):
    teacher: str
    student: str


class MethodLike(Protocol):
    label: str


class ProfileLike(Protocol):
    dataset: Sequence[str] | None  # dataset alternatives
    pairs: Sequence[PairLike] | None
    methods: Sequence[str] | None  # method labels
    seeds: Sequence[int] | None


class SuiteLike(Protocol):
    name: str
    paper_table: str | None
    dataset: Sequence[str]  # dataset alternatives, in order of preference
    pairs: list[PairLike]
    methods: list[MethodLike]
    seeds: list[int]

    def profile(self, name: str | None) -> ProfileLike: ...


@dataclass(frozen=True)
class SuiteView:
    """A suite under one profile: the rows (pairs) and method columns of its table, its seeds and dataset."""

    name: str
    paper_table: str | None
    dataset: str
    profile: str | None
    pairs: list[Row]
    methods: list[str]
    seeds: list[int]


def suite_runs(suite: SuiteLike, runs: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``suite`` in normalised ``runs`` (none of them when given another suite's runs.csv: an error)."""
    own = runs[runs["suite"] == suite.name]
    if own.empty and not runs.empty:
        others = ", ".join(sorted(set(runs["suite"])))
        raise ReportInputError(f"these runs belong to suite(s) {others}, not {suite.name}: pass that suite's runs.csv")
    return own


def view_suite(suite: SuiteLike, profile: str | None) -> SuiteView:
    """``suite`` as run under ``profile`` (None: the suite itself, as when there are no runs yet)."""
    try:
        overrides = suite.profile(profile)
    except ValueError as error:
        raise ReportInputError(f"the runs are of a profile suite {suite.name} does not declare: {error}") from error
    labels = overrides.methods
    return SuiteView(
        name=suite.name,
        paper_table=suite.paper_table,
        dataset=_alternatives(overrides.dataset or suite.dataset),
        profile=profile,
        pairs=list(dict.fromkeys(Row(p.teacher, p.student) for p in (overrides.pairs or suite.pairs))),
        methods=[m.label for m in suite.methods if labels is None or m.label in labels],
        seeds=list(overrides.seeds or suite.seeds),
    )


def _alternatives(dataset: str | Sequence[str]) -> str:
    """The dataset, or its alternatives as ``a or b`` (the one used is what the runs record)."""
    return dataset if isinstance(dataset, str) else " or ".join(dataset)
