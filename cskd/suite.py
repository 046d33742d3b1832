"""Suites: a paper table declared in YAML, validated into dataclasses before anything trains.

A suite names its dataset, recipe, models (labels such as ``R101_0.5`` mapped to timm model names), teacher/student
pairs, methods (labels such as ``KD`` mapped to a registered method and its arguments), seeds, and profiles that scale
it down for small machines. docs/suites.md documents the schema.

:func:`load_suite` reports the first problem with the file and the key it concerns: every key is type-checked
(:data:`SUITE_KEYS`, :data:`PROFILE_KEYS`, the recipe's fields, each method option against the annotation of its
constructor argument), names are checked against the registries (models, methods, datasets, the paper's tables), subset
sizes against the dataset's published size. :func:`cskd.plan.check_builds` then builds every model a plan trains with
its arguments and every method with its options for each pair that uses it (models on the meta device: no weights are
allocated); ``cskd run`` calls it, dry run included, so a bad width or option stops the sweep before the first teacher
trains. Building takes a fraction of a second per model, which is why loading alone (``cskd list suites``, reports)
does not build.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cskd.data import dataset_split_sizes, get_source
from cskd.data.augment import NORMALIZATIONS
from cskd.data.errors import UnknownDatasetError
from cskd.engine.recipe import Recipe, RecipeError
from cskd.limits import MAX_EPOCHS, seed_problem, short_repr, suite_name_problem, width_problem
from cskd.locations import benchmarks_dir, shipped_file
from cskd.method_index import MethodOptionError, UnknownMethodError, method_info
from cskd.names import close_names
from cskd.settings import SCALES
from cskd.typecheck import type_problem
from cskd.usererrors import SuiteError
from cskd.yamlfile import YamlFileError, read_yaml

# suites from CSKD_SUITES, a checkout's benchmarks/ or the installed copy (cskd.locations.benchmarks_dir)
PAPER_RESULTS = shipped_file("paper_results.csv")
PUBLISHED_RESULTS = shipped_file("published_results.csv")

#: every top-level key of a suite file and its type; adding a key is one line here and a reader in load_suite
SUITE_KEYS: dict[str, Any] = {
    "name": str,
    "description": str,
    "paper_table": str | int,
    "dataset": str | list[str],
    "normalization": Literal[NORMALIZATIONS],
    "recipe": dict,
    "models": dict,
    "pairs": list,
    "methods": dict,
    "teachers": list[str],  # or "published", replaced before validation (cskd.zoo, issue 21)
    "seeds": list[int],
    "teacher_seed": int,
    "train_subset": int,
    "test_subset": int,
    "teacher_checkpoints": dict,
    "profiles": dict,
    "cluster": dict,
    "report": dict,
    "scale": Literal[SCALES],  # hook (issue 18): paper-scale or CPU-scale numbers (cskd.settings)
}
#: the top-level keys a suite must have (``pairs`` and ``methods`` unless ``teachers`` lists what to train)
REQUIRED_KEYS = ("dataset", "recipe", "models")
#: every key of a profile and its type
PROFILE_KEYS: dict[str, Any] = {
    "description": str,
    "dataset": str | list[str],
    "epochs": int,
    "train_subset": int,
    "test_subset": int,
    "width_multiplier": float | dict,
    "seeds": list[int],
    "pairs": list,
    "methods": list[str],
    "method_args": dict,
    "recipe": dict,
    "scale": Literal[SCALES],  # hook (issue 18): default cpu (cskd.settings)
}
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ModelRef:
    """A timm model name and the keyword arguments it is created with."""

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def with_width_multiplier(self, multiplier: float) -> ModelRef:
        """This model thinned by ``multiplier`` (the paper's models take a ``width_multiplier`` argument)."""
        if multiplier == 1.0:
            return self
        return ModelRef(self.name, {**self.kwargs, "width_multiplier": multiplier})

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kwargs": self.kwargs}


@dataclass(frozen=True)
class Pair:
    """A row of the table: a teacher and a student label, with this pair's own method settings: ``method_args``
    (method label -> options overriding the suite's, e.g. DKD's per-pair beta) and ``skip_methods`` (labels not run
    on this pair, e.g. a method the benchmark does not publish for it)."""

    teacher: str
    student: str
    method_args: dict[str, dict[str, Any]] = field(default_factory=dict, hash=False)
    skip_methods: tuple[str, ...] = ()


@dataclass(frozen=True)
class MethodEntry:
    """A column of the table: its label, the registered method and the arguments it is given."""

    label: str
    name: str
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def uses_teacher(self) -> bool:
        return method_info(self.name).uses_teacher


@dataclass(frozen=True)
class TeacherCheckpoint:
    path: Path
    sha256: str


@dataclass(frozen=True)
class Profile:
    """A scaled-down version of the suite; every field left None keeps the suite's value."""

    name: str
    description: str = ""
    dataset: tuple[str, ...] | None = None  # alternatives, in order of preference
    epochs: int | None = None
    train_subset: int | None = None
    test_subset: int | None = None
    width_multiplier: float | dict[str, float] = 1.0  # one factor for every model, or one per model label
    seeds: tuple[int, ...] | None = None
    pairs: tuple[Pair, ...] | None = None
    methods: tuple[str, ...] | None = None
    method_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    recipe: dict[str, Any] = field(default_factory=dict)
    scale: str | None = None  # "paper" or "cpu"; None: cpu (cskd.settings.scale_of)


FULL = Profile(name="full", description="the paper's setting")


@dataclass(frozen=True)
class ReportSettings:
    """What the suite's report compares (``report:``): the baseline of the gain column and the method pairs whose
    paired difference over seeds it gives with a confidence interval, as (A, B) for A - B."""

    baseline: str | None = None
    paired: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    description: str
    paper_table: str | None
    dataset: tuple[str, ...]  # alternatives, in order of preference: the first present one is used (cskd.plan)
    normalization: str  # "dataset" (each dataset's own statistics) or "authors_code" (the CSKD code's constants)
    recipe: Recipe
    models: dict[str, ModelRef]
    pairs: list[Pair]
    methods: list[MethodEntry]
    teachers: list[str]  # models trained as teachers whether or not a pair uses them (e.g. a teacher to ship)
    seeds: list[int]
    teacher_seed: int
    train_subset: int | None
    test_subset: int | None
    teacher_checkpoints: dict[str, TeacherCheckpoint]
    profiles: dict[str, Profile]
    cluster: dict[str, Any] = field(default_factory=dict)  # SLURM settings for --executor slurm (docs/cluster.md)
    report: ReportSettings = ReportSettings()
    model_recipes: dict[str, dict[str, Any]] = field(default_factory=dict)  # label -> recipe overrides for its runs
    scale: str = "paper"  # "paper": the paper's setting; "cpu": a CPU-scale version (cskd.settings)
    overrides: tuple[str, ...] = ()  # the --set KEY=VALUE applied to the file, as typed (cskd.overrides)

    def profile(self, name: str | None) -> Profile:
        if name is None or name == "full":
            return FULL
        if name not in self.profiles:
            hint = close_names(name, sorted(self.profiles)) if self.profiles else "the suite declares none"
            raise SuiteError(f"{self.path}: no profile {name!r} ({hint})")
        return self.profiles[name]

    def width_multiplier(self, profile: Profile, label: str) -> float:
        factor = profile.width_multiplier
        return float(factor.get(label, 1.0)) if isinstance(factor, dict) else float(factor)

    def recipe_for(self, label: str, profile: Profile) -> Recipe:
        """The recipe of a run training model ``label``: the suite's, then the model's own overrides (``recipe:`` in
        its ``models`` entry), then the profile's, scaled to the profile's epochs."""
        values = {**self.recipe.to_dict(), **self.model_recipes.get(label, {}), **profile.recipe}
        recipe = Recipe.from_dict(values)
        return recipe.scaled_to(profile.epochs) if profile.epochs is not None else recipe


def suite_paths() -> list[Path]:
    return sorted(benchmarks_dir().glob("*.yaml"))


def resolve_suite_path(name_or_path: str | Path) -> Path:
    """A suite file from its name (``table1``) or path; an unknown name lists the closest suites."""
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"} and path.exists():
        return path
    candidate = benchmarks_dir() / f"{name_or_path}.yaml"
    if candidate.exists():
        return candidate
    names = [p.stem for p in suite_paths()]
    raise SuiteError(
        f"unknown suite {str(name_or_path)!r}: no file {path} or {candidate} ({close_names(str(name_or_path), names)})"
    )


class _Reader:
    """Typed access to the YAML mapping, with errors naming the file and the key path."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> SuiteError:
        return SuiteError(f"{self.path}: {key}: {problem}")

    def get(self, mapping: dict, key: str, where: str, kind: Any, *, default: Any = ...) -> Any:
        """``mapping[key]`` checked against the annotation ``kind``; ``default`` when absent (required if none)."""
        if key not in mapping:
            if default is ...:
                raise self.fail(f"{where}{key}", "missing required key")
            return default
        problem = type_problem(mapping[key], kind)
        if problem:
            raise self.fail(f"{where}{key}", problem)
        return mapping[key]

    def keys(self, mapping: dict, schema: dict[str, Any], where: str) -> None:
        """Every key of ``mapping`` is one of ``schema`` (else close names) and has the type the schema gives."""
        for key in mapping:
            if key not in schema:
                raise self.fail(f"{where}{key}", f"unknown key ({close_names(str(key), sorted(schema))})")
            self.get(mapping, key, where, schema[key])


def load_suite(name_or_path: str | Path, overrides: Sequence[str] = ()) -> Suite:
    """Read and validate a suite, changed by ``overrides`` (``--set KEY=VALUE``, :mod:`cskd.overrides`) before it is
    validated; raises :class:`SuiteError` naming the file and key of the first problem (and the overrides)."""
    path = resolve_suite_path(name_or_path)
    try:  # size cap, UTF-8, duplicate keys, alias bombs (cskd/yamlfile.py)
        raw = read_yaml(path)
    except YamlFileError as error:
        raise SuiteError(str(error)) from None
    if overrides:  # --set applied to the mapping, then validated like the file (cskd.overrides)
        from cskd.overrides import load_with_overrides

        return load_with_overrides(path, raw, overrides, _validate)
    return _validate(path, raw)


def _validate(path: Path, raw: Any) -> Suite:
    read = _Reader(path)
    if not isinstance(raw, dict):
        raise SuiteError(f"{path}: the top level must be a mapping of keys, got {type(raw).__name__}")
    if raw.get("teachers") == "published":  # hook (issue 21): the published teachers as supplied checkpoints
        from cskd.zoo import with_published_teachers

        raw = with_published_teachers(path, raw)
    read.keys(raw, SUITE_KEYS, "")
    for key in REQUIRED_KEYS:
        read.get(raw, key, "", SUITE_KEYS[key])
    recipe = _read_recipe(read, {}, raw["recipe"], "recipe")
    models, model_recipes = _read_models(read, raw["models"], recipe)
    teachers = _read_teachers(read, raw.get("teachers", []), models)
    pairs = _read_pairs(read, raw.get("pairs", []), models, "pairs", required=not teachers)
    methods = _read_methods(read, raw.get("methods", {}), required=bool(pairs))
    _check_pair_methods(read, pairs, methods, "pairs")
    dataset = _read_dataset(read, raw["dataset"], "dataset")
    suite = Suite(
        name=raw.get("name", path.stem),
        path=path,
        description=raw.get("description", ""),
        paper_table=_read_paper_table(read, raw.get("paper_table")),
        dataset=dataset,
        normalization=raw.get("normalization", NORMALIZATIONS[0]),
        recipe=recipe,
        models=models,
        pairs=pairs,
        methods=methods,
        teachers=teachers,
        seeds=_read_seeds(read, raw.get("seeds", [0]), "seeds"),
        teacher_seed=raw.get("teacher_seed", 0),
        train_subset=_read_subset(read, raw, "train", dataset, ""),
        test_subset=_read_subset(read, raw, "test", dataset, ""),
        teacher_checkpoints=_read_checkpoints(read, raw.get("teacher_checkpoints", {}), models),
        profiles={},
        cluster=_read_cluster(read, raw.get("cluster", {})),
        report=_read_report(read, read.get(raw, "report", "", dict, default={}), methods),
        model_recipes=model_recipes,
        scale=raw.get("scale", "paper"),
    )
    profiles = {str(n): _read_profile(read, str(n), v, suite) for n, v in raw.get("profiles", {}).items()}
    suite = dataclasses.replace(suite, profiles=profiles)
    _check_normalization(read, suite)
    _check_limits(suite)  # name, seeds, widths, epochs, duplicate methods (bounds: cskd/limits.py)
    return suite


def _read_cluster(read: _Reader, raw: Any) -> dict[str, Any]:
    from cskd.cluster_config import ClusterConfigError, check_section

    try:
        return check_section(raw, f"{read.path}: cluster.")
    except ClusterConfigError as error:
        raise SuiteError(str(error)) from None


def _is_model(name: str) -> bool:
    """Whether ``name`` is a timm model (cskd's included): the names of the shipped facts table need no timm import
    (seconds; tests/test_model_facts.py checks they are registered), any other asks timm's registry."""
    from cskd.model_facts import known_model_names

    if name in known_model_names():
        return True
    import timm

    import cskd.models  # noqa: F401  (registers the paper's models with timm)

    return timm.is_model(name)


def _read_models(read: _Reader, raw: dict, recipe: Recipe) -> tuple[dict[str, ModelRef], dict[str, dict[str, Any]]]:
    """The models by label, and the recipe overrides of the models that declare some."""
    models, recipes = {}, {}
    for label, value in raw.items():
        where = f"models.{label}"
        if isinstance(value, str):
            value = {"model": value}
        if not isinstance(value, dict):
            raise read.fail(
                where, f"expected a timm model name or {{model: NAME, kwargs: {{...}}, recipe: {{...}}}}, got {value!r}"
            )
        read.keys(value, {"model": str, "kwargs": dict, "recipe": dict}, f"{where}.")
        name = read.get(value, "model", f"{where}.", str)
        if not _is_model(name):
            import timm

            raise read.fail(f"{where}.model", f"unknown model {name!r} ({close_names(name, timm.list_models())})")
        models[str(label)] = ModelRef(name, value.get("kwargs", {}))
        overrides = value.get("recipe", {})
        _read_recipe(read, recipe.to_dict(), overrides, f"{where}.recipe")
        if overrides:
            recipes[str(label)] = overrides
    return models, recipes


def _read_pairs(read: _Reader, raw: list, models: dict[str, ModelRef], where: str, required: bool = True) -> list[Pair]:
    pairs = []
    for i, item in enumerate(raw):
        key = f"{where}[{i}]"
        if isinstance(item, list) and len(item) == 2:
            item = {"teacher": item[0], "student": item[1]}
        if not isinstance(item, dict):
            raise read.fail(key, f"expected [TEACHER, STUDENT] or {{teacher: T, student: S}}, got {item!r}")
        read.keys(item, {"teacher": str, "student": str, "method_args": dict, "skip_methods": list[str]}, f"{key}.")
        pair = Pair(
            read.get(item, "teacher", f"{key}.", str),
            read.get(item, "student", f"{key}.", str),
            method_args=item.get("method_args", {}),
            skip_methods=tuple(item.get("skip_methods", [])),
        )
        for role, label in (("teacher", pair.teacher), ("student", pair.student)):
            if label not in models:
                raise read.fail(f"{key}.{role}", f"unknown model label {label!r} ({close_names(label, list(models))})")
        pairs.append(pair)
    if required and not pairs:
        raise read.fail(where, "needs at least one teacher/student pair (or a teachers: list)")
    return pairs


def _check_pair_methods(read: _Reader, pairs: Sequence[Pair], methods: list[MethodEntry], where: str) -> None:
    """Each pair's ``method_args`` and ``skip_methods`` must name method labels of the suite, with valid options."""
    entries = {m.label: m for m in methods}
    for i, pair in enumerate(pairs):
        for label in pair.skip_methods:
            if label not in entries:
                hint = close_names(label, list(entries))
                raise read.fail(f"{where}[{i}].skip_methods", f"unknown method label {label!r} ({hint})")
        for label, args in pair.method_args.items():
            key = f"{where}[{i}].method_args.{label}"
            if label not in entries:
                raise read.fail(key, f"unknown method label ({close_names(str(label), list(entries))})")
            if not isinstance(args, dict):
                raise read.fail(key, f"expected a mapping of method options, got {args!r}")
            _check_options(read, entries[label].name, args, key)


def _read_teachers(read: _Reader, raw: list[str], models: dict[str, ModelRef]) -> list[str]:
    for i, label in enumerate(raw):
        if label not in models:
            raise read.fail(f"teachers[{i}]", f"unknown model label {label!r} ({close_names(label, list(models))})")
    return list(dict.fromkeys(raw))


def _read_methods(read: _Reader, raw: dict, required: bool) -> list[MethodEntry]:
    entries = []
    for label, value in raw.items():
        where = f"methods.{label}"
        if isinstance(value, str):
            value = {"method": value}
        if not isinstance(value, dict):
            raise read.fail(where, f"expected {{method: NAME, args: {{...}}}}, got {value!r}")
        read.keys(value, {"method": str, "args": dict}, f"{where}.")
        name = read.get(value, "method", f"{where}.", str)
        args = value.get("args", {})
        _check_options(read, name, args, f"{where}.args")
        entries.append(MethodEntry(str(label), name, args))
    if required and not entries:
        raise read.fail("methods", "needs at least one method")
    return entries


def _check_options(read: _Reader, method: str, args: dict, where: str) -> None:
    """Known method, known option names, each value of its option's annotated type."""
    try:
        method_info(method).check_options(args)
    except UnknownMethodError as error:
        raise read.fail(where.removesuffix(".args"), str(error)) from None
    except MethodOptionError as error:
        raise read.fail(where, str(error)) from None


def _read_dataset(read: _Reader, value: str | list[str], key: str) -> tuple[str, ...]:
    """``dataset: NAME`` or ``dataset: [NAME, ...]``: alternatives in order of preference, each a registered dataset
    (the first present one is used, else the first fetchable one is fetched: cskd.plan)."""
    names = [value] if isinstance(value, str) else value
    if not names:
        raise read.fail(key, "expected a dataset name or a non-empty list of names, got an empty list")
    for name in names:
        try:
            get_source(name)
        except UnknownDatasetError as error:
            raise read.fail(key, str(error)) from None
    return tuple(dict.fromkeys(names))


def _read_paper_table(read: _Reader, value: str | int | None) -> str | None:
    if value is None:
        return None
    tables: list[str] = []
    for path in (PAPER_RESULTS, PUBLISHED_RESULTS):
        with path.open(newline="") as stream:
            tables += dict.fromkeys(row["table"] for row in csv.DictReader(stream))
    if str(value) not in tables:
        files = f"{PAPER_RESULTS.name} or {PUBLISHED_RESULTS.name}"
        raise read.fail("paper_table", f"no table {str(value)!r} in {files} (known: {', '.join(tables)})")
    return str(value)


def _read_recipe(read: _Reader, base: dict[str, Any], raw: dict, where: str) -> Recipe:
    try:
        return Recipe.from_dict({**base, **raw})
    except RecipeError as error:
        raise read.fail(f"{where}.{error.key}", error.problem) from None


def _read_seeds(read: _Reader, raw: list[int], where: str) -> list[int]:
    if not raw:
        raise read.fail(where, "expected a non-empty list of integers, got an empty list")
    return list(raw)


def _read_subset(read: _Reader, raw: dict, split: str, datasets: tuple[str, ...], where: str) -> int | None:
    """A ``train_subset`` / ``test_subset``: between 1 and the published number of images of the split (the
    smallest over the dataset's alternatives)."""
    key = f"{split}_subset"
    count = raw.get(key)
    if count is None:
        return None
    index = 0 if split == "train" else 1
    known = [
        (sizes[index], name)
        for name in datasets
        if (sizes := dataset_split_sizes(name)) is not None and sizes[index] is not None
    ]
    available, dataset = min(known) if known else (None, datasets[0])
    if count < 1 or (available is not None and count > available):
        limit = f"between 1 and {available}, the {split} images of {dataset}" if available else "at least 1"
        raise read.fail(f"{where}{key}", f"must be {limit}, got {count}")
    return count


def _read_checkpoints(read: _Reader, raw: dict, models: dict[str, ModelRef]) -> dict[str, TeacherCheckpoint]:
    checkpoints = {}
    for label, value in raw.items():
        where = f"teacher_checkpoints.{label}"
        if label not in models:
            raise read.fail(where, f"unknown model label {label!r} ({close_names(str(label), list(models))})")
        if not isinstance(value, dict):
            raise read.fail(where, f"expected {{path: FILE, sha256: HEX}}, got {value!r}")
        read.keys(value, {"path": str, "sha256": str}, f"{where}.")
        sha256 = read.get(value, "sha256", f"{where}.", str)
        if not _SHA256.fullmatch(sha256):
            raise read.fail(f"{where}.sha256", f"expected 64 lowercase hex digits (sha256sum FILE), got {sha256!r}")
        path = Path(read.get(value, "path", f"{where}.", str)).expanduser()
        if not path.is_absolute():
            path = (read.path.parent / path).resolve()
        checkpoints[str(label)] = TeacherCheckpoint(path, sha256)
    return checkpoints


def _read_report(read: _Reader, raw: dict, methods: list[MethodEntry]) -> ReportSettings:
    """``report: {baseline: LABEL, paired: [[A, B], ...]}``; the baseline defaults to the teacher-free ``ce`` method's
    label (none when the suite has no such method), paired to no comparison."""
    labels = [m.label for m in methods]
    for key in raw:
        if key not in ("baseline", "paired"):
            raise read.fail(f"report.{key}", f"unknown key ({close_names(str(key), ['baseline', 'paired'])})")

    def label(value: Any, where: str) -> str:
        if value not in labels:
            raise read.fail(where, f"unknown method label {value!r} ({close_names(str(value), labels)})")
        return value

    default = next((m.label for m in methods if m.name == "ce"), None)
    baseline = read.get(raw, "baseline", "report.", str, default=default)
    paired = []
    for i, item in enumerate(read.get(raw, "paired", "report.", list, default=[])):
        where = f"report.paired[{i}]"
        if not isinstance(item, list) or len(item) != 2 or item[0] == item[1]:
            raise read.fail(where, f"expected [A, B], two different method labels (A - B is compared), got {item!r}")
        paired.append((label(item[0], where), label(item[1], where)))
    return ReportSettings(None if baseline is None else label(baseline, "report.baseline"), tuple(paired))


def _read_profile(read: _Reader, name: str, raw: Any, suite: Suite) -> Profile:
    where = f"profiles.{name}."
    if not isinstance(raw, dict):
        raise read.fail(where[:-1], f"expected a mapping, got {raw!r}")
    read.keys(raw, PROFILE_KEYS, where)
    labels = [m.label for m in suite.methods]
    for label in raw.get("methods", []):
        if label not in labels:
            raise read.fail(f"{where}methods", f"unknown method label {label!r} ({close_names(str(label), labels)})")
    method_args = raw.get("method_args", {})
    for label, args in method_args.items():
        entry = next((m for m in suite.methods if m.label == label), None)
        if entry is None:
            raise read.fail(f"{where}method_args.{label}", f"unknown method label ({close_names(str(label), labels)})")
        read.get(method_args, label, f"{where}method_args.", dict)
        _check_options(read, entry.name, args, f"{where}method_args.{label}")
    pairs = None if raw.get("pairs") is None else _read_pairs(read, raw["pairs"], suite.models, f"{where}pairs")
    if pairs is not None:
        _check_pair_methods(read, pairs, suite.methods, f"{where}pairs")
    recipe = raw.get("recipe", {})
    _read_recipe(read, suite.recipe.to_dict(), recipe, f"{where}recipe")
    if raw.get("epochs") is not None and raw["epochs"] < 1:
        raise read.fail(f"{where}epochs", f"must be >= 1, got {raw['epochs']}")
    multiplier = raw.get("width_multiplier", 1.0)
    factors = multiplier.items() if isinstance(multiplier, dict) else [("", multiplier)]
    for label, factor in factors:
        key = f"{where}width_multiplier" + (f".{label}" if label else "")
        if label and label not in suite.models:
            raise read.fail(key, f"unknown model label ({close_names(str(label), list(suite.models))})")
        if type_problem(factor, float) or factor <= 0:
            raise read.fail(key, f"must be a number > 0, got {factor!r}")
    dataset = _read_dataset(read, raw["dataset"], f"{where}dataset") if "dataset" in raw else None
    seeds = raw.get("seeds")
    return Profile(
        name=name,
        description=raw.get("description", ""),
        dataset=dataset,
        epochs=raw.get("epochs"),
        train_subset=_read_subset(read, raw, "train", dataset or suite.dataset, where),
        test_subset=_read_subset(read, raw, "test", dataset or suite.dataset, where),
        width_multiplier=multiplier,
        seeds=None if seeds is None else tuple(_read_seeds(read, seeds, f"{where}seeds")),
        pairs=None if pairs is None else tuple(pairs),
        methods=None if raw.get("methods") is None else tuple(raw["methods"]),
        method_args=method_args,
        recipe=recipe,
        scale=raw.get("scale"),
    )


def _check_normalization(read: _Reader, suite: Suite) -> None:
    """``normalization: authors_code`` is the CSKD code's CIFAR statistics: only CIFAR-shaped datasets take it."""
    if suite.normalization == NORMALIZATIONS[0]:
        return
    for key, datasets in [("dataset", suite.dataset)] + [
        (f"profiles.{p.name}.dataset", p.dataset) for p in suite.profiles.values() if p.dataset
    ]:
        for dataset in datasets:
            if get_source(dataset).cifar_images:
                continue
            raise read.fail(
                "normalization",
                f"{suite.normalization!r} is the authors' CIFAR normalisation, but {key} is {dataset!r}: use it with "
                f"cifar10, cifar100 or cifar10-jpeg only",
            )


def _check_limits(suite: Suite) -> None:
    """Raise :class:`SuiteError` naming the file and key of the first value of ``suite`` (a
    :class:`Suite`) out of bounds: its name, seeds, profile epochs and widths, and two method labels with
    one configuration."""

    def fail(key: str, problem: str) -> SuiteError:
        return SuiteError(f"{suite.path}: {key}: {problem}")

    if problem := suite_name_problem(suite.name):
        raise fail("name", problem)
    seeds = [("seeds", suite.seeds), ("teacher_seed", [suite.teacher_seed])]
    seeds += [(f"profiles.{p.name}.seeds", p.seeds or []) for p in suite.profiles.values()]
    for key, values in seeds:
        for seed in values:
            if problem := seed_problem(seed):
                raise fail(key, problem)
    for label, model in suite.models.items():
        if "width_multiplier" in model.kwargs and (problem := width_problem(model.kwargs["width_multiplier"])):
            raise fail(f"models.{label}.kwargs.width_multiplier", problem)
    for profile in suite.profiles.values():
        key = f"profiles.{profile.name}."
        if profile.epochs is not None and not 1 <= profile.epochs <= MAX_EPOCHS:
            raise fail(f"{key}epochs", f"must be between 1 and {MAX_EPOCHS}, got {short_repr(profile.epochs)}")
        factors = profile.width_multiplier
        for label, factor in factors.items() if isinstance(factors, dict) else [("", factors)]:
            if problem := width_problem(factor):
                raise fail(f"{key}width_multiplier" + (f".{label}" if label else ""), problem)
    configurations: dict[str, str] = {}
    for entry in suite.methods:  # with every option's default filled in, as the plan resolves it
        defaults = {option.name: option.default for option in method_info(entry.name).options}
        configuration = repr((entry.name, sorted((defaults | entry.args).items())))
        if configuration in configurations:
            raise fail(
                f"methods.{entry.label}",
                f"the same configuration as methods.{configurations[configuration]} ({entry.name} with "
                f"{short_repr(entry.args) if entry.args else 'no arguments'}): one run would stand for both labels; "
                f"remove one or make them differ",
            )
        configurations[configuration] = entry.label
