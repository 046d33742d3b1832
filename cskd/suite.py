"""Suites: a paper table declared in YAML, validated into dataclasses before anything trains.

A suite names its dataset, recipe, models (labels such as ``R101_0.5`` mapped to timm model names), teacher/student
pairs, methods (labels such as ``KD`` mapped to a registered method and its arguments), seeds, and profiles that scale
it down for small machines. docs/suites.md documents the schema; :func:`load_suite` reports every problem with the file
and key it concerns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import timm
import yaml

from cskd.engine.recipe import Recipe
from cskd.methods.base import UnknownMethodError, close_names, get_method

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


class SuiteError(ValueError):
    """A suite file that cannot be used; the message names the file and the key."""


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
        return get_method(self.name).uses_teacher


@dataclass(frozen=True)
class TeacherCheckpoint:
    path: Path
    sha256: str


@dataclass(frozen=True)
class Profile:
    """A scaled-down version of the suite; every field left None keeps the suite's value."""

    name: str
    description: str = ""
    dataset: str | None = None
    epochs: int | None = None
    train_subset: int | None = None
    test_subset: int | None = None
    width_multiplier: float | dict[str, float] = 1.0  # one factor for every model, or one per model label
    seeds: tuple[int, ...] | None = None
    pairs: tuple[Pair, ...] | None = None
    methods: tuple[str, ...] | None = None
    method_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    recipe: dict[str, Any] = field(default_factory=dict)


FULL = Profile(name="full", description="the paper's setting")


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    description: str
    paper_table: str | None
    dataset: str
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
    model_recipes: dict[str, dict[str, Any]] = field(default_factory=dict)  # label -> recipe overrides for its runs

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
    return sorted(BENCHMARKS.glob("*.yaml"))


def resolve_suite_path(name_or_path: str | Path) -> Path:
    """A suite file from its name (``table1``) or path; an unknown name lists the closest suites."""
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"} and path.exists():
        return path
    candidate = BENCHMARKS / f"{name_or_path}.yaml"
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

    def get(self, mapping: dict, key: str, where: str, kind: type | tuple[type, ...], *, default: Any = ...) -> Any:
        if key not in mapping:
            if default is ...:
                raise self.fail(f"{where}{key}", "missing required key")
            return default
        value = mapping[key]
        accepts_float = kind is float or (isinstance(kind, tuple) and float in kind)
        if accepts_float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
            expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(f"{where}{key}", f"expected {expected}, got {type(value).__name__} ({value!r})")
        return value


def load_suite(name_or_path: str | Path) -> Suite:
    """Read and validate a suite; raises :class:`SuiteError` naming the file and key of the first problem."""
    path = resolve_suite_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise SuiteError(f"{path}: not valid YAML: {error}") from None
    read = _Reader(path)
    if not isinstance(raw, dict):
        raise SuiteError(f"{path}: the top level must be a mapping of keys, got {type(raw).__name__}")
    known = {
        "name",
        "description",
        "paper_table",
        "dataset",
        "recipe",
        "models",
        "pairs",
        "methods",
        "teachers",
        "seeds",
        "teacher_seed",
        "train_subset",
        "test_subset",
        "teacher_checkpoints",
        "profiles",
    }
    for key in raw:
        if key not in known:
            raise read.fail(str(key), f"unknown key ({close_names(str(key), sorted(known))})")
    try:
        recipe = Recipe.from_dict(read.get(raw, "recipe", "", dict))
    except (TypeError, ValueError) as error:
        raise read.fail("recipe", str(error)) from None
    models, model_recipes = _read_models(read, read.get(raw, "models", "", dict), recipe)
    teachers = _read_teachers(read, read.get(raw, "teachers", "", list, default=[]), models)
    pairs = _read_pairs(
        read, read.get(raw, "pairs", "", list, default=[] if teachers else ...), models, "pairs", not teachers
    )
    methods = _read_methods(read, read.get(raw, "methods", "", dict, default={} if not pairs else ...), bool(pairs))
    _check_pair_methods(read, pairs, methods, "pairs")
    paper_table = read.get(raw, "paper_table", "", (str, int), default=None)
    suite = Suite(
        name=read.get(raw, "name", "", str, default=path.stem),
        path=path,
        description=read.get(raw, "description", "", str, default=""),
        paper_table=None if paper_table is None else str(paper_table),
        dataset=read.get(raw, "dataset", "", str),
        recipe=recipe,
        models=models,
        pairs=pairs,
        methods=methods,
        teachers=teachers,
        seeds=_read_seeds(read, read.get(raw, "seeds", "", list, default=[0]), "seeds"),
        teacher_seed=read.get(raw, "teacher_seed", "", int, default=0),
        train_subset=read.get(raw, "train_subset", "", int, default=None),
        test_subset=read.get(raw, "test_subset", "", int, default=None),
        teacher_checkpoints=_read_checkpoints(read, read.get(raw, "teacher_checkpoints", "", dict, default={}), models),
        profiles={},
        model_recipes=model_recipes,
    )
    profiles = read.get(raw, "profiles", "", dict, default={})
    return dataclasses.replace(suite, profiles={n: _read_profile(read, n, v, suite) for n, v in profiles.items()})


MODEL_KEYS = ("model", "kwargs", "recipe")
PAIR_KEYS = ("teacher", "student", "method_args", "skip_methods")


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
        for key in value:
            if key not in MODEL_KEYS:
                raise read.fail(f"{where}.{key}", f"unknown key ({close_names(str(key), list(MODEL_KEYS))})")
        name = read.get(value, "model", f"{where}.", str)
        import cskd.models  # noqa: F401  (registers the paper's models with timm)

        if name not in timm.list_models():
            raise read.fail(f"{where}.model", f"unknown model {name!r} ({close_names(name, timm.list_models())})")
        models[str(label)] = ModelRef(name, read.get(value, "kwargs", f"{where}.", dict, default={}))
        overrides = read.get(value, "recipe", f"{where}.", dict, default={})
        try:
            Recipe.from_dict({**recipe.to_dict(), **overrides})
        except (TypeError, ValueError) as error:
            raise read.fail(f"{where}.recipe", str(error)) from None
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
        for name in item:
            if name not in PAIR_KEYS:
                raise read.fail(f"{key}.{name}", f"unknown key ({close_names(str(name), list(PAIR_KEYS))})")
        skip = read.get(item, "skip_methods", f"{key}.", list, default=[])
        pair = Pair(
            read.get(item, "teacher", f"{key}.", str),
            read.get(item, "student", f"{key}.", str),
            method_args=read.get(item, "method_args", f"{key}.", dict, default={}),
            skip_methods=tuple(str(label) for label in skip),
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
            try:
                get_method(entries[label].name).check_options(args)
            except UnknownMethodError as error:
                raise read.fail(key, str(error)) from None


def _read_teachers(read: _Reader, raw: list, models: dict[str, ModelRef]) -> list[str]:
    for i, label in enumerate(raw):
        if not isinstance(label, str) or label not in models:
            hint = close_names(str(label), list(models))
            raise read.fail(f"teachers[{i}]", f"expected a model label of the suite, got {label!r} ({hint})")
    return list(dict.fromkeys(raw))


def _read_methods(read: _Reader, raw: dict, required: bool) -> list[MethodEntry]:
    entries = []
    for label, value in raw.items():
        where = f"methods.{label}"
        if isinstance(value, str):
            value = {"method": value}
        if not isinstance(value, dict):
            raise read.fail(where, f"expected {{method: NAME, args: {{...}}}}, got {value!r}")
        name = read.get(value, "method", f"{where}.", str)
        args = read.get(value, "args", f"{where}.", dict, default={})
        try:
            get_method(name).check_options(args)
        except UnknownMethodError as error:
            raise read.fail(where, str(error)) from None
        entries.append(MethodEntry(str(label), name, args))
    if required and not entries:
        raise read.fail("methods", "needs at least one method")
    return entries


def _read_seeds(read: _Reader, raw: list, where: str) -> list[int]:
    if not raw or not all(isinstance(s, int) and not isinstance(s, bool) for s in raw):
        raise read.fail(where, f"expected a non-empty list of integers, got {raw!r}")
    return list(raw)


def _read_checkpoints(read: _Reader, raw: dict, models: dict[str, ModelRef]) -> dict[str, TeacherCheckpoint]:
    checkpoints = {}
    for label, value in raw.items():
        where = f"teacher_checkpoints.{label}"
        if label not in models:
            raise read.fail(where, f"unknown model label {label!r} ({close_names(str(label), list(models))})")
        if not isinstance(value, dict):
            raise read.fail(where, f"expected {{path: FILE, sha256: HEX}}, got {value!r}")
        path = Path(read.get(value, "path", f"{where}.", str)).expanduser()
        if not path.is_absolute():
            path = (read.path.parent / path).resolve()
        checkpoints[str(label)] = TeacherCheckpoint(path, read.get(value, "sha256", f"{where}.", str))
    return checkpoints


def _read_profile(read: _Reader, name: str, raw: Any, suite: Suite) -> Profile:
    where = f"profiles.{name}."
    if not isinstance(raw, dict):
        raise read.fail(where[:-1], f"expected a mapping, got {raw!r}")
    known = {f.name for f in dataclasses.fields(Profile)} - {"name"}
    for key in raw:
        if key not in known:
            raise read.fail(f"{where}{key}", f"unknown profile key ({close_names(str(key), sorted(known))})")
    labels = [m.label for m in suite.methods]
    methods = raw.get("methods")
    if methods is not None:
        for label in read.get(raw, "methods", where, list):
            if label not in labels:
                raise read.fail(
                    f"{where}methods", f"unknown method label {label!r} ({close_names(str(label), labels)})"
                )
    method_args = read.get(raw, "method_args", where, dict, default={})
    for label, args in method_args.items():
        entry = next((m for m in suite.methods if m.label == label), None)
        if entry is None:
            raise read.fail(f"{where}method_args.{label}", f"unknown method label ({close_names(str(label), labels)})")
        try:
            get_method(entry.name).check_options(args)
        except UnknownMethodError as error:
            raise read.fail(f"{where}method_args.{label}", str(error)) from None
    pairs = None if raw.get("pairs") is None else _read_pairs(read, raw["pairs"], suite.models, f"{where}pairs")
    if pairs is not None:
        _check_pair_methods(read, pairs, suite.methods, f"{where}pairs")
    recipe = read.get(raw, "recipe", where, dict, default={})
    try:
        Recipe.from_dict({**suite.recipe.to_dict(), **recipe})
    except (TypeError, ValueError) as error:
        raise read.fail(f"{where}recipe", str(error)) from None
    seeds = raw.get("seeds")
    multiplier = read.get(raw, "width_multiplier", where, (float, dict), default=1.0)
    factors = multiplier.items() if isinstance(multiplier, dict) else [("", multiplier)]
    for label, factor in factors:
        key = f"{where}width_multiplier" + (f".{label}" if label else "")
        if label and label not in suite.models:
            raise read.fail(key, f"unknown model label ({close_names(str(label), list(suite.models))})")
        if isinstance(factor, bool) or not isinstance(factor, int | float) or factor <= 0:
            raise read.fail(key, f"must be a number > 0, got {factor!r}")
    return Profile(
        name=name,
        description=read.get(raw, "description", where, str, default=""),
        dataset=read.get(raw, "dataset", where, str, default=None),
        epochs=read.get(raw, "epochs", where, int, default=None),
        train_subset=read.get(raw, "train_subset", where, int, default=None),
        test_subset=read.get(raw, "test_subset", where, int, default=None),
        width_multiplier=multiplier,
        seeds=None if seeds is None else tuple(_read_seeds(read, seeds, f"{where}seeds")),
        pairs=None if pairs is None else tuple(pairs),
        methods=None if methods is None else tuple(methods),
        method_args=method_args,
        recipe=recipe,
    )
