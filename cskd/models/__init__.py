"""Models: cskd's families in timm's registry, any timm model by name, and the feature helper.

Importing this package imports every family module of its folder, each of which registers its family in timm (see
:data:`FAMILIES`), as every method file registers itself: the paper's ResNets
(``cifar_resnet*``, ``tin_resnet*``, ``in_resnet*``), the CIFAR-10 models of the authors' extra results
(``cifar_inception_v3``, ``cifar_mobilenetv2``, ``cifar_vgg11_bn``) and RepDistiller's CIFAR models of the CRD
benchmark (``crd_*``).
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil

import timm
from torch import nn

from cskd.models.extraction import count_parameters, extract_features, feature_spec
from cskd.models.registry import FAMILIES, ModelFamily

#: the modules of this package that hold no family; every other one registers its family in timm when imported
NOT_FAMILIES = ("convert", "extraction", "registry")
for _module in pkgutil.iter_modules(__path__):  # in name order, the order ``cskd list models`` shows
    if _module.name not in NOT_FAMILIES:
        importlib.import_module(f"{__name__}.{_module.name}")


def create_model(name: str, num_classes: int, **kwargs) -> nn.Module:
    """``timm.create_model(name, num_classes=num_classes, **kwargs)`` for cskd's models and every timm model.

    An unknown name raises :class:`ValueError` listing the closest registered names.
    """
    if problem := unknown_model_problem(name):
        raise ValueError(problem)
    return timm.create_model(name, num_classes=num_classes, **kwargs)


def unknown_model_problem(name: str) -> str | None:
    """None when ``name`` is a model :func:`create_model` builds, else why not, with the closest names."""
    return None if timm.is_model(name) else f"unknown model {name!r} ({_model_name_hint(name)})"


def _model_name_hint(name: str) -> str:
    """The timm names closest to ``name``; when none is close, cskd's names (not all ~1300 timm names)."""
    from cskd.names import close_names

    every_name = timm.list_models()
    if difflib.get_close_matches(name, every_name, n=1, cutoff=0.4):  # the cutoff close_names uses
        return close_names(name, every_name)
    return f"{close_names(name, model_names())}; or any timm model, see timm.list_models()"


def model_names() -> list[str]:
    """Every name this package registers in timm, sorted."""
    return sorted(name for family in FAMILIES for name in family.names)


def paper_model_names() -> list[str]:
    """The paper's ResNet family (``cifar_resnet*``, ``tin_resnet*``, ``in_resnet*``), sorted."""
    from cskd.models import paper_resnet

    return list(paper_resnet.MODEL_NAMES)


__all__ = [
    "FAMILIES",
    "ModelFamily",
    "count_parameters",
    "create_model",
    "extract_features",
    "feature_spec",
    "model_names",
    "paper_model_names",
    "unknown_model_problem",
]
