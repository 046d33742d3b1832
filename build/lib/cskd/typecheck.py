"""Checking values read from YAML or JSON against Python type annotations, with messages a user can act on.

Used for every typed field of a suite (recipe fields, method options, suite and profile keys): ``"ten"`` for an
integer, ``"0.05"`` or ``.nan`` for a number, ``"no"`` for a boolean are rejected with the expected type named, where
Python would have accepted them (a non-empty string is true) or failed later without naming the key.

Rules: a boolean is never a number; an integer is a number (``lr: 1``); a number must be finite; a list annotation
(``list[int]``, ``tuple[int, ...]``, ``Sequence[int]``) takes a YAML list, never a string; ``Literal`` takes one of its
values; ``X | None`` also takes null.
"""

from __future__ import annotations

import collections.abc
import math
import types
import typing
from typing import Any, Literal, Union

_PLURALS = {int: "integers", float: "numbers", str: "strings", bool: "true/false values"}
_SEQUENCES = (list, tuple, collections.abc.Sequence)
_MAPPINGS = (dict, collections.abc.Mapping)


def type_problem(value: Any, annotation: Any) -> str:
    """Why ``value`` does not match ``annotation`` ("" when it does)."""
    if _matches(value, annotation):
        return ""
    return f"expected {describe(annotation)}, got {_shown(value)}"


def describe(annotation: Any) -> str:
    """The annotation in words, e.g. ``an integer``, ``a list of integers``, ``one of 'kl', 'mse'``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return "any value"
    if annotation is None or annotation is type(None):
        return "null"
    if origin in (Union, types.UnionType):
        return " or ".join(describe(arg) for arg in args)
    if origin is Literal:
        return "one of " + ", ".join(repr(arg) for arg in args)
    if origin in _SEQUENCES:
        item = args[0] if args else Any
        return f"a list of {_PLURALS.get(item, f'items each {describe(item)}')}"
    if annotation in _MAPPINGS or origin in _MAPPINGS:
        return "a mapping"
    return {int: "an integer", float: "a finite number", bool: "true or false", str: "a string"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


def _matches(value: Any, annotation: Any) -> bool:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return True
    if annotation is None or annotation is type(None):
        return value is None
    if origin in (Union, types.UnionType):
        return any(_matches(value, arg) for arg in args)
    if origin is Literal:
        return any(value == arg and type(value) is type(arg) for arg in args)
    if origin in _SEQUENCES:
        if not isinstance(value, list | tuple):
            return False
        item = args[0] if args else Any
        return all(_matches(v, item) for v in value)
    if annotation in _MAPPINGS or origin in _MAPPINGS:
        return isinstance(value, dict)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if annotation is str:
        return isinstance(value, str)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    raise TypeError(f"cannot check values against the annotation {annotation!r}")


def _shown(value: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a mapping"}
    text = repr(value)
    return f"{kind.get(type(value), type(value).__name__)} ({text if len(text) <= 60 else text[:57] + '...'})"


def check_annotations_supported(annotation: Any) -> None:
    """Raise ``TypeError`` when :func:`type_problem` cannot check values against ``annotation`` (a developer error:
    every method option must be annotated with a type this module knows)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (Union, types.UnionType) or origin in _SEQUENCES:
        for arg in args:
            if arg is not Ellipsis:
                check_annotations_supported(arg)
        return
    if origin is Literal or annotation in (Any, None, type(None)) or annotation in _MAPPINGS or origin in _MAPPINGS:
        return
    if not isinstance(annotation, type):
        raise TypeError(f"cannot check values against the annotation {annotation!r}")
