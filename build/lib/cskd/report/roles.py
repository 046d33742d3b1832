"""What a method column is to the report, read from its registered method and arguments, never from its label.

* ``ce``: the teacher-free baseline (method ``ce``);
* ``kd``: knowledge distillation from logits (method ``kd``, either form);
* ``neither``, ``intra``, ``inter``, ``both``: CSKD (method ``cskd``) with the intra- and inter-category terms on or
  off (Table 4's ablation; an option left out takes the method's default, both terms on).

Any other method has no role. A suite has an ablation when its columns hold at least two of the CSKD variants.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: roles in the order the ablation figure shows them
ROLE_ORDER: tuple[str, ...] = ("ce", "kd", "neither", "intra", "inter", "both")
ABLATION_ROLES: tuple[str, ...] = ("neither", "intra", "inter", "both")
ROLE_TITLES: dict[str, str] = {
    "ce": "CE",
    "kd": "KD",
    "neither": "neither term",
    "intra": "intra only",
    "inter": "inter only",
    "both": "both terms",
}
_SWITCHES: dict[tuple[bool, bool], str] = {
    (False, False): "neither",
    (True, False): "intra",
    (False, True): "inter",
    (True, True): "both",
}


def _cskd_default(option: str) -> Any:
    # imported here: the method registry imports torch, which the report package otherwise does without
    from cskd.methods import get_method

    return next(o.default for o in get_method("cskd").options() if o.name == option)


def method_role(name: str, args: Mapping[str, Any]) -> str | None:
    """The role of a column whose registered method is ``name`` with the options ``args`` (None: no role)."""
    if name in ("ce", "kd"):
        return name
    if name == "cskd":
        switches = tuple(bool(args.get(term, _cskd_default(term))) for term in ("intra", "inter"))
        return _SWITCHES[switches]
    return None
