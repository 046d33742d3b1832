"""Registration of cskd's model families in timm's registry, and the facts ``cskd list models`` prints about them.

Every family module builds its networks from timm's classes (or small modules of its own where timm has none),
defines one entry point per name and registers them here, so that ``timm.create_model(name)`` builds them once
``cskd.models`` is imported. None has pretrained weights: ``pretrained=True`` raises.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from torch import nn

#: what the families are for, in the order ``cskd list models`` shows them
PURPOSES = ("the paper's models", "the authors' extra results (issue 13)", "the CRD benchmark (issue 14)")


@dataclass(frozen=True)
class ModelFamily:
    """Names registered together, what they are for (one of :data:`PURPOSES`) and where their definition comes from."""

    purpose: str
    title: str
    source: str
    names: tuple[str, ...]


#: every family registered so far, in registration order
FAMILIES: list[ModelFamily] = []


def natural_key(name: str) -> tuple:
    """Sort key that orders the numbers inside names by value (resnet8 < resnet14 < resnet110)."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def model_cfg(
    input_size: tuple[int, int, int], num_classes: int, *, first_conv: str, classifier: str, pool_size: int
) -> dict[str, Any]:
    """timm's model config without weights (no URL, no hub id): input size, head and first conv names."""
    return {
        "url": "",
        "num_classes": num_classes,
        "input_size": input_size,
        "pool_size": (pool_size, pool_size),
        "crop_pct": 1.0,
        "first_conv": first_conv,
        "classifier": classifier,
    }


def build(builder: Callable[..., nn.Module], name: str, pretrained: bool, /, **kwargs) -> nn.Module:
    """``builder(**kwargs)`` through timm's ``build_model_with_cfg`` (which attaches the name's config)."""
    if pretrained:
        raise ValueError(f"no pretrained weights exist for {name!r}: train it with cskd (pretrained=False)")
    return build_model_with_cfg(builder, name, False, **kwargs)


def register_family(
    module_name: str,
    purpose: str,
    title: str,
    source: str,
    entrypoints: Mapping[str, Callable[..., nn.Module]],
    cfgs: Mapping[str, dict[str, Any]],
) -> ModelFamily:
    """Register ``entrypoints`` (name -> function) in timm with their configs ``cfgs``, as module ``module_name``.

    timm reads a name's config from the ``default_cfgs`` of the entry point's module, so the configs are added there.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {PURPOSES}, got {purpose!r}")
    module = sys.modules[module_name]
    module.default_cfgs = {**getattr(module, "default_cfgs", {}), **generate_default_cfgs(dict(cfgs))}
    for name, entrypoint in entrypoints.items():
        entrypoint.__name__ = entrypoint.__qualname__ = name
        entrypoint.__module__ = module_name
        register_model(entrypoint)
    family = ModelFamily(purpose, title, source, tuple(sorted(entrypoints, key=natural_key)))
    FAMILIES.append(family)
    return family


def check_width(width: float) -> float:
    """``width`` itself when it is a positive finite number; else a :class:`ValueError`."""
    if isinstance(width, bool) or not isinstance(width, int | float) or not (math.isfinite(width) and width > 0):
        raise ValueError(f"width * width_multiplier must be a positive number, got {width!r}")
    return float(width)


def scaled_channels(base: int, factor: float, multiple: int = 1) -> int:
    """``base * factor`` rounded half up to a multiple of ``multiple`` (at least ``multiple``): a thinned channel
    count. With ``multiple=1`` this is ``max(1, round_half_up(base * factor))``, the paper's width rule."""
    return multiple * max(1, math.floor(base * factor / multiple + 0.5))


def reject_fixed_args(name: str, kwargs: Mapping[str, Any], fixed: tuple[str, ...]) -> None:
    """A clear error when ``kwargs`` tries to override an argument that the named architecture fixes."""
    clash = sorted(set(kwargs) & set(fixed))
    if clash:
        raise ValueError(
            f"{name!r}: cannot set {', '.join(clash)}: the architecture fixes it; choose another model name "
            "(or width_multiplier) instead"
        )
