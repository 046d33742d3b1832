"""Expansion of a suite into runs, and their grouping into lockstep groups.

A run is one model trained once: a teacher (cross-entropy), a teacher-free student (CE, shared by every pair with that
student), or a student distilled from a teacher with a method. Its identity is the sha256 of its fully resolved
configuration (models with their arguments, method with every option including defaults, recipe, data, seed and the
identity of its teacher), so a changed setting is a new run and an unchanged one is never trained twice. A setting
added later enters the configuration only when it differs from its default (``normalization``), so adding it changed
no existing run's id.

Runs that share a teacher, a dataset, a recipe and a seed form a lockstep group: one stream of batches, one teacher
forward per batch. Teacher-free runs of the same recipe form their own group, which trains first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cskd import method_builds
from cskd.data import dataset_input_size
from cskd.engine.recipe import Recipe
from cskd.features import FeatureSpec
from cskd.limits import seed_problem, training_set_problem, width_problem
from cskd.method_index import method_info
from cskd.names import close_names
from cskd.suite import MethodEntry, ModelRef, Pair, Profile, Suite, SuiteError, TeacherCheckpoint

if TYPE_CHECKING:
    import pandas as pd

TEACHER_LABEL = "Teacher"
FILTER_KEYS = ("kind", "teacher", "student", "method", "seed")


@dataclass(frozen=True)
class RunSpec:
    """One run, fully resolved."""

    run_id: str
    suite: str
    profile: str
    kind: str  # "teacher" or "student"
    teacher: str  # teacher label, "" when trained without one
    student: str  # label of the model this run trains
    teacher_model: ModelRef | None
    student_model: ModelRef
    method: MethodEntry  # args fully resolved (defaults included)
    seed: int
    dataset: str
    normalization: str  # "dataset" or "authors_code" (cskd.data.augment.NORMALIZATIONS)
    train_subset: int | None
    test_subset: int | None
    recipe: Recipe
    teacher_run: str | None  # run id of the teacher run this student needs
    teacher_checkpoint: TeacherCheckpoint | None  # a teacher supplied by file instead of a run

    @property
    def lockstep_key(self) -> tuple:
        return (
            self.teacher_run,
            self.teacher_checkpoint,
            self.dataset,
            self.normalization,
            self.train_subset,
            self.test_subset,
            self.recipe,
            self.seed,
        )

    def describe(self) -> str:
        if self.kind == "teacher":
            return f"teacher {self.student} seed {self.seed}"
        via = f"{self.teacher} -> " if self.teacher else ""
        return f"{self.method.label:<8} {via}{self.student} seed {self.seed}"


@dataclass(frozen=True)
class Plan:
    suite: Suite
    profile: Profile
    runs: list[RunSpec]

    def groups(self, max_size: int | None = None) -> list[list[RunSpec]]:
        """Lockstep groups in training order: teacher-free runs first, then each teacher's students; a group larger
        than ``max_size`` is split into the fewest parts of at most that size, as equal as possible (so that
        parallel workers get jobs of a similar length)."""
        groups: dict[tuple, list[RunSpec]] = {}
        for run in sorted(self.runs, key=lambda r: r.teacher_run is not None):
            groups.setdefault(run.lockstep_key, []).append(run)
        if max_size is None:
            return list(groups.values())
        return [part for group in groups.values() for part in split_evenly(group, max_size)]


def split_evenly(runs: list[RunSpec], max_size: int) -> list[list[RunSpec]]:
    """``runs`` in order, cut into ``ceil(len / max_size)`` consecutive parts whose sizes differ by at most one."""
    if max_size < 1:
        raise ValueError(f"a lockstep group holds at least 1 run, got max_size={max_size}")
    parts = -(-len(runs) // max_size)
    base, extra = divmod(len(runs), parts)
    cuts = [i * base + min(i, extra) for i in range(parts + 1)]
    return [runs[cuts[i] : cuts[i + 1]] for i in range(parts)]


def _hash(config: dict[str, Any]) -> str:
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def resolved_args(entry: MethodEntry, overrides: dict[str, Any]) -> dict[str, Any]:
    """The method's every option: its defaults, then the suite's arguments, then the profile's overrides."""
    defaults = {o.name: o.default for o in method_info(entry.name).options}
    return {**defaults, **entry.args, **overrides}


def dataset_alternatives(suite: Suite, profile_name: str | None = None) -> tuple[str, ...]:
    """The datasets ``suite`` may run on under a profile, in order of preference (``cskd.data.choose_dataset``)."""
    profile = suite.profile(profile_name)
    return profile.dataset or suite.dataset


def subset_sizes(suite: Suite, profile_name: str | None = None) -> tuple[int | None, int | None]:
    """The ``(train, test)`` subset sizes the runs of ``suite`` use under a profile (``None``: the whole split)."""
    profile = suite.profile(profile_name)
    train = profile.train_subset if profile.train_subset is not None else suite.train_subset
    test = profile.test_subset if profile.test_subset is not None else suite.test_subset
    return train, test


def pair_settings(suite: Suite, pair: Pair) -> Pair:
    """``pair`` with the suite's own settings for the same teacher and student merged in (a profile that lists
    ``[T, S]`` keeps the suite's per-pair method arguments and skipped methods; its own win)."""
    declared = next((p for p in suite.pairs if (p.teacher, p.student) == (pair.teacher, pair.student)), None)
    if declared is None or declared is pair:
        return pair
    labels = dict.fromkeys([*declared.method_args, *pair.method_args])
    args = {label: {**declared.method_args.get(label, {}), **pair.method_args.get(label, {})} for label in labels}
    skip = tuple(dict.fromkeys([*declared.skip_methods, *pair.skip_methods]))
    return Pair(pair.teacher, pair.student, method_args=args, skip_methods=skip)


def pair_methods(suite: Suite, profile: Profile) -> list[tuple[Pair, MethodEntry, dict[str, Any], str]]:
    """Every (pair, method, option overrides, key naming them) a profile runs: the pair's settings merged with the
    suite's (:func:`pair_settings`), its skipped methods left out, then the profile's overrides winning over the
    pair's. The one place these settings are derived, for :func:`expand` and :func:`check_builds`."""
    labels = profile.methods or [m.label for m in suite.methods]
    found = []
    for i, pair in enumerate(pair_settings(suite, p) for p in (profile.pairs or suite.pairs)):
        for entry in (m for m in suite.methods if m.label in labels and m.label not in pair.skip_methods):
            overrides = {**pair.method_args.get(entry.label, {}), **profile.method_args.get(entry.label, {})}
            if entry.label in profile.method_args:
                where = f"profiles.{profile.name}.method_args.{entry.label}"
            elif entry.label in pair.method_args:
                where = (
                    f"{f'profiles.{profile.name}.pairs' if profile.pairs else 'pairs'}[{i}].method_args.{entry.label}"
                )
            else:
                where = f"methods.{entry.label}.args"
            found.append((pair, entry, overrides, where))
    return found


def expand(
    suite: Suite,
    profile_name: str | None = None,
    seeds: list[int] | None = None,
    only: dict[str, str] | None = None,
    dataset: str | None = None,
    numerics: dict[str, Any] | None = None,
) -> Plan:
    """Every run of ``suite`` under a profile; ``only`` keeps the runs matching each KEY=VALUE and their teachers.

    ``dataset`` is the one of the suite's (profile's) dataset alternatives the runs use (default: the first); it is
    part of every run's identity. ``numerics``: the engine settings that change the numbers, in every run's identity
    when not empty (:func:`cskd.settings.numerics_config`: ``{"precision": "bf16"}`` for bf16 autocast).
    """
    profile = suite.profile(profile_name)
    alternatives = dataset_alternatives(suite, profile_name)
    if dataset is None:
        dataset = alternatives[0]
    elif dataset not in alternatives:
        raise SuiteError(f"{suite.path}: dataset {dataset!r} is not one of the suite's ({', '.join(alternatives)})")
    pairs = [pair_settings(suite, p) for p in (profile.pairs or suite.pairs)]
    seeds = list(seeds or profile.seeds or suite.seeds)
    train_subset, test_subset = subset_sizes(suite, profile_name)
    common = {
        "suite": suite.name,
        "profile": profile.name,
        "dataset": dataset,
        "normalization": suite.normalization,
        "train_subset": train_subset,
        "test_subset": test_subset,
    }

    def model(label: str) -> ModelRef:
        return suite.models[label].with_width_multiplier(suite.width_multiplier(profile, label))

    def config(run: dict[str, Any]) -> dict[str, Any]:
        normalization = {} if suite.normalization == "dataset" else {"normalization": suite.normalization}
        normalization |= numerics or {}  # hook (issue 18): bf16 and fp32 runs are other cells; fp32 ids unchanged
        return normalization | {  # present only when not the default, so the default keeps every existing run id
            "kind": run["kind"],
            "model": model(run["student"]).to_dict(),
            "method": run["method"].name,
            "args": run["method"].args,
            "recipe": run["recipe"].to_dict(),
            "dataset": dataset,
            "subset": [train_subset, test_subset],
            "seed": run["seed"],
            "teacher": run["teacher_run"] or (run["teacher_checkpoint"].sha256 if run["teacher_checkpoint"] else None),
        }

    def make(**run: Any) -> RunSpec:
        run = {**common, "recipe": suite.recipe_for(run["student"], profile), **run}
        return RunSpec(run_id=_hash(config(run)), **run)

    teacher_runs: dict[str, RunSpec] = {}
    for label in dict.fromkeys([*suite.teachers, *(p.teacher for p in pairs)]):
        if label in suite.teacher_checkpoints:
            continue
        teacher_runs[label] = make(
            kind="teacher",
            teacher="",
            student=label,
            teacher_model=None,
            student_model=model(label),
            method=MethodEntry(TEACHER_LABEL, "ce", resolved_args(MethodEntry(TEACHER_LABEL, "ce"), {})),
            seed=suite.teacher_seed,
            teacher_run=None,
            teacher_checkpoint=None,
        )
    runs: dict[str, RunSpec] = {r.run_id: r for r in teacher_runs.values()}
    for seed in seeds:
        for pair, entry, overrides, _ in pair_methods(suite, profile):
            method = MethodEntry(entry.label, entry.name, resolved_args(entry, overrides))
            if not entry.uses_teacher:
                run = make(
                    kind="student",
                    teacher="",
                    student=pair.student,
                    teacher_model=None,
                    student_model=model(pair.student),
                    method=method,
                    seed=seed,
                    teacher_run=None,
                    teacher_checkpoint=None,
                )
            else:
                supplied = suite.teacher_checkpoints.get(pair.teacher)
                run = make(
                    kind="student",
                    teacher=pair.teacher,
                    student=pair.student,
                    teacher_model=model(pair.teacher),
                    student_model=model(pair.student),
                    method=method,
                    seed=seed,
                    teacher_run=None if supplied else teacher_runs[pair.teacher].run_id,
                    teacher_checkpoint=supplied,
                )
            runs.setdefault(run.run_id, run)
    selected = _select(list(runs.values()), only or {})
    return Plan(suite=suite, profile=profile, runs=selected)


def _select(runs: list[RunSpec], only: dict[str, str]) -> list[RunSpec]:
    """The runs matching every KEY=VALUE of ``only`` (values match exactly, case included), and their teachers; a
    value no run has raises :class:`SuiteError` with the closest values."""
    for key in only:
        if key not in FILTER_KEYS:
            raise SuiteError(f"--only {key}=...: unknown key; use one of {', '.join(FILTER_KEYS)}")
    if not only:
        return runs

    def value(run: RunSpec, key: str) -> str:
        return run.method.label if key == "method" else str(getattr(run, key))

    for key, wanted in only.items():
        values = sorted({value(r, key) for r in runs} - {""})
        if wanted not in values:
            same = [v for v in values if v.lower() == wanted.lower()]
            hint = f"values are case-sensitive: {same[0]!r}?" if same else close_names(wanted, values)
            raise SuiteError(f"--only {key}={wanted}: no run of this plan has {key} {wanted!r} ({hint})")
    kept = [r for r in runs if all(value(r, k) == v for k, v in only.items())]
    if not kept:
        chosen = " ".join(f"{k}={v}" for k, v in only.items())
        raise SuiteError(f"--only {chosen}: each value matches some run, but no run matches them all")
    needed = {r.teacher_run for r in kept if r.teacher_run}
    return [r for r in runs if r in kept or r.run_id in needed]


def check_builds(plan: Plan, sizes: tuple[tuple[int, int, int], int] | None = None) -> None:
    """Build every model the runs of ``plan`` train or learn from, and every run's method with its resolved options
    (the suite's, the pair's, the profile's, defaults) for its pair; raise :class:`SuiteError` naming the file and
    key of the first that cannot be built. So a bad option fails here, before anything trains. The models' shapes and
    the methods' builds come from the shipped tables where they hold them (:mod:`cskd.model_facts`,
    :mod:`cskd.method_builds`: known to build, no torch), else are built.

    ``sizes``: the input size and class count; by default the dataset's published ones. Nothing is built for a
    dataset whose sizes are only known once loaded (an image folder) unless ``sizes`` is given (the runner does, once
    it has loaded the data).
    """
    if not plan.runs:
        return
    if sizes is None:
        known = dataset_input_size(plan.runs[0].dataset)
        if known is None:
            return
        sizes = known[0], known[1]
    input_size, num_classes = sizes
    suite, profile = plan.suite, plan.profile
    specs: dict[str, FeatureSpec] = {}
    for run in plan.runs:
        for label, model in ((run.student, run.student_model), (run.teacher, run.teacher_model)):
            if model is None or label in specs:
                continue
            try:
                kwargs = json.dumps(model.kwargs, sort_keys=True)
                specs[label] = _model_spec(model.name, kwargs, num_classes, input_size)
            except Exception as error:
                raise SuiteError(
                    f"{suite.path}: {_model_key(suite, profile, label)}: cannot build {model.name} with "
                    f"{model.kwargs}: {error}"
                ) from None
    built = set()
    for run in plan.runs:
        if run.kind == "teacher":
            continue
        key = (run.method.label, run.teacher, run.student, json.dumps(run.method.args, sort_keys=True, default=str))
        if key in built:
            continue
        built.add(key)
        teacher = specs[run.teacher] if run.teacher else None
        try:
            method_builds.init_epochs(run.method.name, run.method.args, specs[run.student], teacher)
        except Exception as error:
            raise SuiteError(
                f"{suite.path}: {_method_key(suite, profile, run)}: cannot build method {run.method.name!r} for "
                f"{run.teacher} -> {run.student}: {error}"
            ) from None


def _model_key(suite: Suite, profile: Profile, label: str) -> str:
    """The suite key to fix when model ``label`` cannot be built."""
    scaled = suite.width_multiplier(profile, label) != 1.0
    return f"profiles.{profile.name}.width_multiplier" if scaled else f"models.{label}.kwargs"


def _method_key(suite: Suite, profile: Profile, run: RunSpec) -> str:
    """The suite key that set the options of ``run``'s method: the profile's, the pair's, else the method's."""
    label = run.method.label
    if label in profile.method_args:
        return f"profiles.{profile.name}.method_args.{label}"
    for where, pairs in ((f"profiles.{profile.name}.pairs", profile.pairs or []), ("pairs", suite.pairs)):
        for i, pair in enumerate(pairs):
            if (pair.teacher, pair.student) == (run.teacher, run.student) and label in pair.method_args:
                return f"{where}[{i}].method_args.{label}"
    return f"methods.{label}.args"


def _model_spec(name: str, kwargs: str, num_classes: int, input_size: tuple[int, int, int]) -> FeatureSpec:
    """The feature shapes of a model: the shipped table, or built on the meta device (:mod:`cskd.model_facts`)."""
    from cskd.model_facts import model_facts

    return model_facts(name, json.loads(kwargs), num_classes, input_size).spec


def check_plan(plan: Plan) -> None:
    """Raise :class:`SuiteError` for the first run of ``plan`` out of bounds: its seed (``--seeds``
    included), its models' widths, a batch larger than its training subset."""
    where = plan.suite.path
    for run in plan.runs:
        problem = seed_problem(run.seed)
        if problem:
            raise SuiteError(f"{where}: seeds (or --seeds): {problem}")
        for model in filter(None, (run.student_model, run.teacher_model)):
            if "width_multiplier" in model.kwargs and (problem := width_problem(model.kwargs["width_multiplier"])):
                raise SuiteError(f"{where}: width_multiplier of {run.student}: {problem}")
        if run.train_subset is not None and run.recipe.batch_size > run.train_subset:
            raise SuiteError(batch_problem(where, run, run.train_subset))


def check_data(plan: Plan, data_of: Callable[[RunSpec], Any]) -> None:
    """Raise :class:`SuiteError` for the first run of ``plan`` whose loaded data (``data_of(run)``, an
    :class:`~cskd.data.ImageDataset`) cannot train it: fewer training images than classes (a class-balanced subset
    would leave classes out) or fewer than one batch."""
    for run in plan.runs:
        data = data_of(run)
        if problem := training_set_problem(len(data.train_labels), data.num_classes, run.recipe.batch_size):
            raise SuiteError(f"{plan.suite.path}: train_subset / recipe.batch_size of {run.describe()}: {problem}")


def batch_problem(where: Any, run: RunSpec, images: int) -> str:
    return (
        f"{where}: recipe.batch_size: {run.recipe.batch_size} is more than the {images} training images of "
        f"{run.describe()}: use a batch of at most {images} (or a larger train_subset)"
    )


def configuration_rows(suite: Suite, runs: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``runs`` (runs.csv) that runs of ``suite`` (as its overrides changed it) made: their run ids are
    those of its plan under any of its profiles and dataset alternatives (a run id is its resolved configuration)."""
    ids: set[str] = set()
    for profile in ["full", *suite.profiles]:
        for dataset in dataset_alternatives(suite, profile):
            ids.update(run.run_id for run in expand(suite, profile, dataset=dataset).runs)
    return runs[runs["run_id"].isin(ids)]
