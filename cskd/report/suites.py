"""What the report reads of a suite (:class:`cskd.suite.Suite`): its table layout under one profile.

A profile may narrow the suite's pairs, methods and seeds, change its dataset, recipe and method options
(``cskd.suite.Profile``: a field left None keeps the suite's value), so a report of profile ``quick`` shows the
positions that profile runs, not the full suite's, and ``check --against paper`` requires only those. The suite's
``report:`` settings (baseline, paired comparisons) keep only the labels the profile runs; the others are named in
the view's notes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from cskd.engine.recipe import Recipe
from cskd.report.cells import Row
from cskd.report.errors import ReportInputError
from cskd.report.roles import method_role
from cskd.report.scale import scale_phrase
from cskd.settings import scale_of


class PairLike(Protocol):
    teacher: str
    student: str


class MethodLike(Protocol):
    label: str
    name: str  # the registered method
    args: Mapping[str, Any]


class ProfileLike(Protocol):
    dataset: Sequence[str] | None  # dataset alternatives
    epochs: int | None
    pairs: Sequence[PairLike] | None
    methods: Sequence[str] | None  # method labels
    seeds: Sequence[int] | None
    method_args: Mapping[str, Mapping[str, Any]]
    recipe: Mapping[str, Any]


class ReportSettingsLike(Protocol):
    baseline: str | None
    paired: Sequence[tuple[str, str]]


class SuiteLike(Protocol):
    name: str
    paper_table: str | None
    dataset: Sequence[str]  # dataset alternatives, in order of preference
    recipe: Recipe
    pairs: list[PairLike]
    methods: list[MethodLike]
    seeds: list[int]
    report: ReportSettingsLike

    def profile(self, name: str | None) -> ProfileLike: ...

    def recipe_for(self, label: str, profile: Any) -> Recipe: ...


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
    recipe: Recipe
    roles: dict[str, str] = field(default_factory=dict)  # method label -> role (cskd.report.roles), where it has one
    baseline: str | None = None  # the method label gains are measured from
    paired: list[tuple[str, str]] = field(default_factory=list)  # (A, B): A - B compared seed by seed
    notes: list[str] = field(default_factory=list)  # settings the profile leaves out
    scale: str = "paper"  # "paper" or "cpu", the scale of its runs (cskd.settings.scale_of)
    heading_scale: str | None = None  # what headings call the scale (cskd.report.scale): "profile cpu", "CPU scale"
    # or ""; None: not worked out (headings then name the profile)
    overrides: tuple[str, ...] = ()  # the --set KEY=VALUE the suite was loaded with (cskd.overrides)


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
    methods = [m for m in suite.methods if labels is None or m.label in labels]
    shown = [m.label for m in methods]
    roles = {}
    for m in methods:
        role = method_role(m.name, {**m.args, **overrides.method_args.get(m.label, {})})
        if role is not None:
            roles[m.label] = role
    notes = []
    baseline = suite.report.baseline
    if baseline is not None and baseline not in shown:
        notes.append(f"No gain over {baseline}: this profile does not run it.")
        baseline = None
    paired = []
    for a, b in suite.report.paired:
        if a in shown and b in shown:
            paired.append((a, b))
        else:
            notes.append(f"No paired comparison {a} − {b}: this profile does not run {a if a not in shown else b}.")
    changed = tuple(getattr(suite, "overrides", ()))
    if changed:
        notes.append(f"Overrides: the suite as changed by --set {', --set '.join(changed)}; only those runs are shown.")
    pairs = list(dict.fromkeys(Row(p.teacher, p.student) for p in (overrides.pairs or suite.pairs)))
    recipe = suite.recipe_for(pairs[0].student if pairs else "", overrides)  # the rule cskd.plan.expand uses
    return SuiteView(
        name=suite.name,
        paper_table=suite.paper_table,
        dataset=_alternatives(overrides.dataset or suite.dataset),
        profile=profile,
        pairs=pairs,
        methods=shown,
        seeds=list(overrides.seeds or suite.seeds),
        recipe=recipe,
        roles=roles,
        baseline=baseline,
        paired=paired,
        notes=notes,
        scale=(scale := scale_of(getattr(suite, "scale", None), profile or "full", getattr(overrides, "scale", None))),
        heading_scale=scale_phrase(profile, getattr(suite, "profiles", None), scale),
        overrides=changed,
    )


def _alternatives(dataset: str | Sequence[str]) -> str:
    """The dataset, or its alternatives as ``a or b`` (the one used is what the runs record)."""
    return dataset if isinstance(dataset, str) else " or ".join(dataset)
