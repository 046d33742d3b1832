"""Reading a suite's YAML file strictly: a size cap, UTF-8 only, no duplicate keys, no alias bomb.

PyYAML's ``safe_load`` lets the last of two equal keys win silently and expands nothing until the data is used, so
ten nested aliases (a "billion laughs") load in microseconds and exhaust memory later. :func:`read_yaml` refuses
each of these with one line naming the file, the line and the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cskd.limits import MAX_SUITE_BYTES, short_repr

#: values (scalars, lists and mappings, each alias counted again) a suite may expand to
MAX_VALUES = 200_000


class YamlFileError(ValueError):
    """A YAML file that cannot be read; the message names the file and the problem."""


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a mapping that repeats a key (which the plain one resolves by keeping the
    last value)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the base class names it
                break
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found the key {short_repr(key)} twice (first on line {first}): keep one",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> Any:
    """The YAML document at ``path``, read with :class:`UniqueKeyLoader`; raises :class:`YamlFileError` for a file
    that is missing, a directory, unreadable, larger than :data:`MAX_SUITE_BYTES`, not UTF-8, not valid YAML, with a
    repeated key, or expanding (through aliases) to more than :data:`MAX_VALUES` values."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_SUITE_BYTES + 1)
    except IsADirectoryError:
        raise YamlFileError(f"{path} is a directory, not a suite file: name a .yaml file") from None
    except OSError as error:
        raise YamlFileError(f"{path}: cannot read it ({error.strerror or error})") from None
    if len(data) > MAX_SUITE_BYTES:
        raise YamlFileError(f"{path} is larger than {MAX_SUITE_BYTES} bytes: a suite file is a page of YAML")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise YamlFileError(
            f"{path}: line {line}: byte 0x{data[error.start]:02x} is not UTF-8: save the file as UTF-8"
        ) from None
    try:
        value = yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader
    except yaml.YAMLError as error:
        raise YamlFileError(f"{path}: not valid YAML: {error}") from None
    if _count(value, MAX_VALUES) > MAX_VALUES:
        raise YamlFileError(
            f"{path}: expands to more than {MAX_VALUES} values (aliases nested in aliases): write the values out"
        )
    return value


def _count(value: Any, budget: int) -> int:
    """The number of values in ``value`` counting shared ones at each use, stopping once past ``budget``."""
    total, stack = 0, [value]
    while stack and total <= budget:
        item = stack.pop()
        total += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return total
