"""Models: the paper's ResNets in timm's registry, any timm model by name, and the feature helper.

Importing this package registers the paper's models (``cifar_resnet*``, ``tin_resnet*``) in timm.
"""

from __future__ import annotations

import difflib

import timm
from torch import nn

from cskd.models.features import count_parameters, extract_features, feature_spec
from cskd.models.paper_resnet import MODEL_NAMES


def create_model(name: str, num_classes: int, **kwargs) -> nn.Module:
    """``timm.create_model(name, num_classes=num_classes, **kwargs)`` for the paper's models and every timm model.

    An unknown name raises :class:`ValueError` listing the closest registered names.
    """
    if not timm.is_model(name):
        raise ValueError(f"unknown model {name!r} ({_model_name_hint(name)})")
    return timm.create_model(name, num_classes=num_classes, **kwargs)


def _model_name_hint(name: str) -> str:
    """The timm names closest to ``name``; when none is close, the paper's names (not all ~1300 timm names)."""
    # imported here: the methods package imports every method module, which may import this package
    from cskd.methods.base import close_names

    every_name = timm.list_models()
    if difflib.get_close_matches(name, every_name, n=1, cutoff=0.4):  # the cutoff close_names uses
        return close_names(name, every_name)
    return f"{close_names(name, paper_model_names())}; or any timm model, see timm.list_models()"


def paper_model_names() -> list[str]:
    """The names this package registers in timm (the paper's ResNet family), sorted."""
    return list(MODEL_NAMES)


__all__ = ["count_parameters", "create_model", "extract_features", "feature_spec", "paper_model_names"]
