"""What planning needs of each registered method, without importing it: its module, whether it needs a teacher, and
its options (name, default, annotation, help).

The methods register themselves when :mod:`cskd.methods` imports them (:func:`cskd.methods.base.register_method`),
which imports torch: seconds of start-up for ``cskd list suites``, ``cskd status`` and ``cskd run --dry-run``, which
only check a suite's options and resolve their defaults. So the registry's facts are shipped in ``method_index.json``,
written from the live registry by ``scripts/write_method_index.py`` and compared with it by
``tests/test_method_index.py`` (as ``cskd.model_facts`` does for the models). Building a method still imports it.
(This module is not under ``cskd.methods``, whose import registers every method.)
"""

from __future__ import annotations

import ast
import collections.abc
import json
import typing
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cskd.names import close_names
from cskd.typecheck import type_problem

#: the shipped index (``scripts/write_method_index.py`` writes it)
INDEX_FILE = Path(__file__).with_name("method_index.json")
#: the names an option's annotation may use (the methods' modules annotate with these)
ANNOTATION_NAMES = {"Literal": typing.Literal, "Sequence": collections.abc.Sequence, "Any": Any}


class UnknownMethodError(KeyError):
    """An unknown method name or option; the message lists the closest valid names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class MethodOptionError(ValueError):
    """A method option of the wrong type; the message names the option and the expected type."""


@dataclass(frozen=True)
class MethodOption:
    """One hyper-parameter of a method: its default, type and where the default comes from."""

    name: str
    default: Any
    annotation: str
    help: str


@dataclass(frozen=True)
class MethodInfo:
    """A registered method as planning sees it: ``name``, the ``module`` defining it, ``uses_teacher`` and its
    keyword-only constructor arguments as ``options``."""

    name: str
    module: str
    uses_teacher: bool
    options: tuple[MethodOption, ...]

    def option_types(self) -> dict[str, Any]:
        """The annotation of each option, resolved to a type."""
        return {o.name: eval(o.annotation, dict(ANNOTATION_NAMES)) for o in self.options}  # the shipped index

    def check_options(self, args: dict[str, Any]) -> None:
        """:func:`check_option_values` against this method's options."""
        check_option_values(self.name, self.option_types(), args)


def check_option_values(method: str, types: dict[str, Any], args: dict[str, Any]) -> None:
    """Raise :class:`UnknownMethodError` naming the closest options when ``args`` holds a name not in ``types``, and
    :class:`MethodOptionError` when a value does not have its option's type (``intra: "no"`` is not a boolean,
    ``temperature: "4"`` not a number)."""
    for key, value in args.items():
        if key not in types:
            hint = close_names(key, list(types)) if types else "it takes none"
            raise UnknownMethodError(f"method {method!r} has no option {key!r} ({hint})")
        problem = type_problem(value, types[key])
        if problem:
            raise MethodOptionError(f"option {key!r} of method {method!r}: {problem}")


def index_entry(module: str, uses_teacher: bool, options: list[MethodOption]) -> dict[str, Any]:
    """The index's record of one method; defaults as ``repr`` (read back with ``ast.literal_eval``, so that a tuple
    stays a tuple and ``4.0`` a float)."""
    return {
        "module": module,
        "uses_teacher": uses_teacher,
        "options": [[o.name, repr(o.default), o.annotation, o.help] for o in options],
    }


@cache
def _index() -> dict[str, MethodInfo]:
    table = json.loads(INDEX_FILE.read_text())
    return {
        name: MethodInfo(
            name,
            entry["module"],
            entry["uses_teacher"],
            tuple(MethodOption(o, ast.literal_eval(default), a, h) for o, default, a, h in entry["options"]),
        )
        for name, entry in table.items()
    }


def indexed_method_names() -> list[str]:
    """The registered methods' names, as the index records them."""
    return sorted(_index())


def method_info(name: str) -> MethodInfo:
    """The index's record of method ``name``; an unknown name raises with the closest names."""
    try:
        return _index()[name]
    except KeyError:
        raise UnknownMethodError(f"unknown method {name!r} ({close_names(name, indexed_method_names())})") from None
