"""``--set KEY=VALUE``: change a suite for one command without copying its YAML.

``KEY`` is the dotted path of a key in the suite file, as the YAML nests it (``recipe.lr``,
``methods.CSKD.args.beta``, ``profiles.smoke.epochs``, ``seeds``); a list element is its index (``pairs.0.teacher``).
A label that itself holds dots (``models.R34_0.25.kwargs``) is matched whole against the keys the file has. ``VALUE``
is read as a YAML scalar or flow sequence/mapping (``0.05``, ``true``, ``[0, 1]``, ``{form: kl}``, ``kd``).

The overrides are applied in order to the mapping read from the file, before validation: the result is checked by
the same schema as the file (:func:`cskd.suite.load_suite`), so a wrong key or type fails before anything trains,
with the close names, and the changed values enter every run's resolved configuration and so its id
(:mod:`cskd.plan`). Every intermediate key must exist in the file, except the option sections a method, model or
profile may leave out (:data:`OPTIONAL_SECTIONS`); a string shorthand (``KD: kd``, ``R18: resnet18``) is expanded to
its mapping form when a path goes through it.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from cskd.methods.base import close_names

#: sections a suite entry may omit; a path through a missing one creates it (empty) so that its key can be set
OPTIONAL_SECTIONS = ("args", "kwargs", "recipe", "method_args", "profiles", "report", "cluster")
#: the mapping form of a string shorthand, by the section holding it: ``methods.KD: kd`` is ``{method: kd}``
SHORTHANDS = {"methods": "method", "models": "model"}


class OverrideError(ValueError):
    """A ``--set`` that cannot be applied; the message names the override and the fix."""


@dataclass(frozen=True)
class Override:
    """One ``--set KEY=VALUE``: the dotted key as given, its parsed value, and the text as given."""

    key: str
    value: Any
    text: str


def parse_override(text: str) -> Override:
    """``KEY=VALUE`` with VALUE read as YAML (``recipe.lr=0.05`` sets the float 0.05)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise OverrideError(
            f"--set {text!r}: expected KEY=VALUE with KEY a dotted path of the suite, e.g. recipe.lr=0.05"
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as error:
        raise OverrideError(f"--set {text!r}: the value is not valid YAML: {error}") from None
    return Override(key, value, text)


def parse_overrides(texts: Sequence[str]) -> tuple[Override, ...]:
    return tuple(parse_override(text) for text in texts)


def apply_overrides(raw: dict[str, Any], overrides: Sequence[Override]) -> dict[str, Any]:
    """A copy of the suite mapping ``raw`` with every override applied in order (a later one wins)."""
    result = copy.deepcopy(raw)
    for override in overrides:
        _set(result, override)
    return result


def _set(root: dict[str, Any], override: Override) -> None:
    parts = override.key.split(".")
    node: Any = root
    trail: list[str] = []
    while parts:
        key, parts = _next_key(node, parts)
        where = ".".join([*trail, key])
        if not parts:
            _assign(node, key, override, where)
            return
        child = _child(node, key, override, where)
        parent_section = trail[0] if len(trail) == 1 else None
        if isinstance(child, str) and parent_section in SHORTHANDS:
            child = node[key] = {SHORTHANDS[parent_section]: child}
        if not isinstance(child, dict | list):
            raise OverrideError(f"--set {override.text}: {where} is {child!r}, which has no keys to set")
        node = child
        trail.append(key)


def _next_key(node: Any, parts: list[str]) -> tuple[str, list[str]]:
    """The next key of the path: the longest run of segments that is a key of ``node`` (labels may hold dots)."""
    if isinstance(node, dict):
        for n in range(len(parts), 1, -1):
            joined = ".".join(parts[:n])
            if joined in node:
                return joined, parts[n:]
    return parts[0], parts[1:]


def _child(node: Any, key: str, override: Override, where: str) -> Any:
    if isinstance(node, list):
        return node[_index(node, key, override, where)]
    if key not in node:
        if key in OPTIONAL_SECTIONS:
            node[key] = {}
        else:
            hint = close_names(key, [str(k) for k in node]) if node else "the mapping is empty"
            raise OverrideError(f"--set {override.text}: the suite has no key {where} ({hint})")
    return node[key]


def _assign(node: Any, key: str, override: Override, where: str) -> None:
    if isinstance(node, list):
        node[_index(node, key, override, where)] = override.value
    else:  # a new key is allowed here: the schema then accepts it or names the close ones
        node[key] = override.value


def _index(node: list, key: str, override: Override, where: str) -> int:
    if not key.isdigit() or int(key) >= len(node):
        raise OverrideError(f"--set {override.text}: {where}: expected a list index from 0 to {len(node) - 1}")
    return int(key)


def describe(overrides: Sequence[Override]) -> str:
    """The overrides as a user types them: ``--set recipe.lr=0.05 --set seeds=[0, 1]``."""
    return " ".join(f"--set {o.key}={_yaml(o.value)}" for o in overrides)


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()


def blame(message: str, overrides: Sequence[Override]) -> str:
    """A suite error raised after overrides: the message, then the overrides it concerns (all when none matches)."""
    concerned = [o for o in overrides if o.key in message] or list(overrides)
    return f"{message} (the suite as changed by {describe(concerned)})"


Loaded = TypeVar("Loaded")  # what ``validate`` makes of the changed mapping (a :class:`cskd.suite.Suite`)


def load_with_overrides(path: Path, raw: Any, texts: Sequence[str], validate: Callable[[Path, Any], Loaded]) -> Loaded:
    """The suite of file ``path`` (its mapping ``raw``) with the ``--set`` overrides ``texts`` applied, validated by
    ``validate`` (:func:`cskd.suite.load_suite`'s schema); every error names the file, the key and the override."""
    from cskd.usererrors import SuiteError

    if not isinstance(raw, dict):
        raise SuiteError(f"{path}: the top level must be a mapping of keys, got {type(raw).__name__}")
    try:
        overrides = parse_overrides(texts)
        changed = apply_overrides(raw, overrides)
    except OverrideError as error:
        raise SuiteError(f"{path}: {error}") from None
    try:
        suite = validate(path, changed)
    except SuiteError as error:
        raise SuiteError(blame(str(error), overrides)) from None
    return dataclasses.replace(suite, overrides=tuple(describe([o]).removeprefix("--set ") for o in overrides))


def overrides_hash(texts: Sequence[str]) -> str:
    """A short name for a set of overrides (sha256 prefix of their text, in order): reports of different overrides
    never overwrite each other."""
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()[:8]
