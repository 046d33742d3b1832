"""Conversion of RepDistiller's checkpoints (the CRD benchmark's published teachers) to the ``crd_*`` models' layout.

RepDistiller (HobbitLong/RepDistiller ``train_teacher.py``) saves ``save/models/<name>_vanilla/ckpt_epoch_240.pth``,
a dict whose key ``model`` holds the state dict of its own definitions (``models/*.py``). Each ``crd_*`` model has
the same tensors under other names; :func:`convert_repdistiller` renames them by the rules below and checks the
result against the model: every tensor renamed, none left over, every name of the model filled, shapes equal. Only
BatchNorm's ``num_batches_tracked`` counters may be absent from the source (PyTorch 0.4.0, the reference's version,
did not write them); they are set to zero, which changes nothing for BatchNorm with a momentum (ours).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from timm.models import get_pretrained_cfg_value
from torch import Tensor, nn

from cskd.models.vgg_cifar import CRD_BLOCKS, conv_layer_indices

#: a renaming rule: an anchored pattern and its replacement (a template or a function of the match)
Rule = tuple[str, str | Callable[[re.Match], str]]


@dataclass(frozen=True)
class Conversion:
    """The renaming of one reference model's state dict to one of ours."""

    reference: str  # the model's name in RepDistiller's models/__init__.py model_dict
    rules: tuple[Rule, ...]

    def target(self, key: str) -> str | None:
        """Our name for the reference's ``key``, or None when no rule applies."""
        for pattern, replacement in self.rules:
            match = re.fullmatch(pattern, key)
            if match:
                return replacement(match) if callable(replacement) else match.expand(replacement)
        return None


_ANY = r"(?P<rest>.+)"
_IDENTITY: tuple[Rule, ...] = ((_ANY, r"\g<rest>"),)
_RESNET50: tuple[Rule, ...] = (
    (rf"(?P<head>layer\d\.\d+)\.shortcut\.{_ANY}", r"\g<head>.downsample.\g<rest>"),
    (rf"linear\.{_ANY}", r"fc.\g<rest>"),
    _IDENTITY[0],
)
#: RepDistiller's WRN block attribute -> timm's PreActBasic attribute
_WRN_LAYERS = {"bn1": "norm1", "conv1": "conv1", "bn2": "norm2", "conv2": "conv2", "convShortcut": "downsample.conv"}
_WRN: tuple[Rule, ...] = (
    (rf"conv1\.{_ANY}", r"stem.conv.\g<rest>"),
    (
        rf"block(?P<group>\d)\.layer\.(?P<block>\d+)\.(?P<layer>{'|'.join(_WRN_LAYERS)})\.{_ANY}",
        lambda m: f"stages.{int(m['group']) - 1}.blocks.{m['block']}.{_WRN_LAYERS[m['layer']]}.{m['rest']}",
    ),
    (rf"bn1\.{_ANY}", r"norm.\g<rest>"),
    (rf"fc\.{_ANY}", r"head.fc.\g<rest>"),
)
#: RepDistiller's InvertedResidual ``conv`` Sequential index -> timm's InvertedResidual attribute
_MOBILENET_LAYERS = {"0": "conv_pw", "1": "bn1", "3": "conv_dw", "4": "bn2", "6": "conv_pwl", "7": "bn3"}
_MOBILENETV2: tuple[Rule, ...] = (
    (rf"conv1\.0\.{_ANY}", r"conv_stem.\g<rest>"),
    (rf"conv1\.1\.{_ANY}", r"bn1.\g<rest>"),
    (
        rf"blocks\.(?P<stage>\d+)\.(?P<block>\d+)\.conv\.(?P<layer>[013467])\.{_ANY}",
        lambda m: f"blocks.{m['stage']}.{m['block']}.{_MOBILENET_LAYERS[m['layer']]}.{m['rest']}",
    ),
    (rf"conv2\.0\.{_ANY}", r"conv_head.\g<rest>"),
    (rf"conv2\.1\.{_ANY}", r"bn2.\g<rest>"),
    (rf"classifier\.0\.{_ANY}", r"classifier.\g<rest>"),
)
_SHUFFLENET: tuple[Rule, ...] = (
    (rf"conv1\.{_ANY}", r"stem.0.\g<rest>"),
    (rf"bn1\.{_ANY}", r"stem.1.\g<rest>"),
    (rf"conv2\.{_ANY}", r"head_conv.0.\g<rest>"),  # ShuffleV2's 1x1 head convolution
    (rf"bn2\.{_ANY}", r"head_conv.1.\g<rest>"),
    (rf"layer(?P<stage>\d)\.{_ANY}", lambda m: f"stages.{int(m['stage']) - 1}.{m['rest']}"),
    (rf"linear\.{_ANY}", r"fc.\g<rest>"),
)


def _vgg_rules(name: str) -> tuple[Rule, ...]:
    """RepDistiller's ``block<b>.<i>`` (conv at 3j, BatchNorm at 3j + 1 of each block) -> timm's ``features.<n>``."""
    convs = conv_layer_indices(CRD_BLOCKS[name], pooled_blocks=3)

    def features(m: re.Match) -> str:
        conv, offset = divmod(int(m["index"]), 3)
        return f"features.{convs[int(m['block'])][conv] + offset}.{m['rest']}"

    return ((rf"block(?P<block>\d)\.(?P<index>\d+)\.{_ANY}", features), (rf"classifier\.{_ANY}", r"head.fc.\g<rest>"))


#: our model name -> its conversion from RepDistiller's layout
CONVERSIONS: dict[str, Conversion] = {
    **{
        f"crd_{name}": Conversion(name, _IDENTITY)
        for name in ("resnet8", "resnet14", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110")
    },
    "crd_resnet8x4": Conversion("resnet8x4", _IDENTITY),
    "crd_resnet32x4": Conversion("resnet32x4", _IDENTITY),
    "crd_resnet50": Conversion("ResNet50", _RESNET50),
    **{f"crd_{name}": Conversion(name, _WRN) for name in ("wrn_16_2", "wrn_40_1", "wrn_40_2")},
    **{name: Conversion(name.removeprefix("crd_"), _vgg_rules(name)) for name in CRD_BLOCKS},
    "crd_mobilenetv2": Conversion("MobileNetV2", _MOBILENETV2),
    "crd_shufflev1": Conversion("ShuffleV1", _SHUFFLENET),
    "crd_shufflev2": Conversion("ShuffleV2", _SHUFFLENET),
}
_COUNTER = "num_batches_tracked"


@dataclass(frozen=True)
class Converted:
    """A converted state dict, the model it fits, and what the conversion filled in."""

    state_dict: dict[str, Tensor]
    model: nn.Module
    filled_counters: int  # BatchNorm num_batches_tracked absent from the source, set to 0


def reference_state_dict(checkpoint: Mapping) -> dict[str, Tensor]:
    """The state dict of a RepDistiller checkpoint (its ``model`` entry) or of a bare state dict, without the
    ``module.`` prefix that ``nn.DataParallel`` adds."""
    if not isinstance(checkpoint, Mapping):
        raise ValueError(f"expected a RepDistiller checkpoint (a dict), found a {type(checkpoint).__name__}")
    state = checkpoint.get("model", checkpoint)
    if not isinstance(state, Mapping) or not state or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(
            "expected a RepDistiller checkpoint (a dict whose 'model' entry is a state dict) or a state dict; "
            f"found the keys {', '.join(map(str, list(checkpoint)[:8]))}"
        )
    if all(key.startswith("module.") for key in state):
        state = {key.removeprefix("module."): value for key, value in state.items()}
    return dict(state)


def convert_repdistiller(model_name: str, reference: Mapping[str, Tensor]) -> Converted:
    """``reference`` (a RepDistiller state dict) renamed to ``model_name``'s layout, checked against the model.

    The classifier size is read from the reference; a :class:`ValueError` names every key left unmapped, every name of
    the model left unfilled and every shape that differs.
    """
    from cskd.models import create_model

    if model_name not in CONVERSIONS:
        raise ValueError(
            f"no RepDistiller conversion for {model_name!r}: convertible models are {', '.join(sorted(CONVERSIONS))}"
        )
    conversion = CONVERSIONS[model_name]
    renamed: dict[str, Tensor] = {}
    problems: list[str] = []
    for key, tensor in reference.items():
        target = conversion.target(key)
        if target is None:
            problems.append(
                f"reference key {key!r} has no counterpart (is this RepDistiller's {conversion.reference}?)"
            )
        elif target in renamed:
            problems.append(f"two reference keys map to {target!r}")
        else:
            renamed[target] = tensor
    classifier = get_pretrained_cfg_value(model_name, "classifier") + ".weight"
    if classifier not in renamed:
        raise ValueError(
            f"not a checkpoint of RepDistiller's {conversion.reference}: no classifier weight found "
            f"({len(reference)} keys{'; ' + problems[0] if problems else ''})"
        )
    model = create_model(model_name, num_classes=renamed[classifier].shape[0])
    expected = model.state_dict()
    filled = 0
    for key, tensor in expected.items():
        if key not in renamed:
            if key.endswith(_COUNTER):
                renamed[key] = torch.zeros_like(tensor)
                filled += 1
            else:
                problems.append(f"{model_name} key {key!r} {tuple(tensor.shape)} has no tensor in the reference")
        elif renamed[key].shape != tensor.shape:
            problems.append(
                f"{key!r}: reference shape {tuple(renamed[key].shape)}, {model_name} shape {tuple(tensor.shape)}"
            )
    problems += [
        f"reference tensor renamed to {key!r}, which {model_name} lacks" for key in renamed if key not in expected
    ]
    if problems:
        shown = "\n  ".join(problems[:20]) + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise ValueError(
            f"the checkpoint does not convert to {model_name} (RepDistiller's {conversion.reference}):\n  {shown}"
        )
    model.load_state_dict(renamed, strict=True)
    return Converted({key: renamed[key] for key in expected}, model, filled)
