"""RepDistiller's wide ResNets (the CRD benchmark's wrn_16_2, wrn_40_1, wrn_40_2) on timm's pre-activation ResNetV2.

Shapes from HobbitLong/RepDistiller ``models/wrn.py`` (Zagoruyko & Komodakis 2016; facts read, no code copied): a
3x3 stride-1 convolution of 16 channels (no BatchNorm, no max-pool), three groups of ``(depth - 4) / 6``
pre-activation basic blocks (BN-ReLU-conv3x3-BN-ReLU-conv3x3, no dropout) with 16k, 32k, 64k channels (strides 1, 2,
2; a 1x1 convolution of the pre-activated input as shortcut where the channel count changes), a final BN-ReLU, global
average pooling and a linear classifier. timm's ``ResNetV2(preact=True, basic=True)`` (its ``PreActBasic`` blocks,
BatchNorm + ReLU, plain convolutions) is exactly this once its 7x7 stem is replaced by the 3x3 one and its head uses a
linear layer.

Features, as RepDistiller's ``is_feat`` list: the stem convolution's output, then each group's output, a residual sum
with no activation of its own. ``preact`` (for AB): the BatchNorm that follows a group, before its ReLU (the next
group's first ``norm1``; the final ``norm`` after the last group), exactly RepDistiller's; its stem feature's pre-ReLU
map is the first block's ``norm1`` by the same rule (RepDistiller returns the raw stem output there).

``width_multiplier`` (default 1) scales every channel count; timm's ResNetV2 rounds channel counts to multiples of
8 (``make_divisible``), which changes nothing at the published widths. Initialisation: timm's (Kaiming-normal fan-out
convolutions, as the reference), classifier weights normal(0, 0.01).
"""

from __future__ import annotations

from collections.abc import Callable

from timm.layers import BatchNormAct2d, ClassifierHead, create_conv2d
from timm.models.resnetv2 import ResNetV2
from torch import nn

from cskd.models.features import PRE_RELU_KEY
from cskd.models.registry import (
    PURPOSES,
    build,
    check_width,
    model_cfg,
    register_family,
    reject_fixed_args,
    scaled_channels,
)

#: our name -> (depth, widen factor), RepDistiller models/wrn.py
ARCHITECTURES = {"crd_wrn_16_2": (16, 2), "crd_wrn_40_1": (40, 1), "crd_wrn_40_2": (40, 2)}
FIXED_ARGS = ("width", "layers", "channels", "stem_chs", "stem_type", "preact", "basic", "bottle_ratio", "width_factor")


def build_wrn(
    *, name: str, width_multiplier: float, num_classes: int = 100, drop_rate: float = 0.0, **kwargs
) -> ResNetV2:
    """RepDistiller's wide ResNet ``name`` with every channel scaled by ``width_multiplier``; ``kwargs`` go to
    timm's ResNetV2."""
    reject_fixed_args(name, kwargs, FIXED_ARGS)
    width = check_width(width_multiplier)
    depth, widen = ARCHITECTURES[name]
    blocks = (depth - 4) // 6
    model = ResNetV2(
        layers=[blocks] * 3,
        channels=tuple(scaled_channels(c * widen, width) for c in (16, 32, 64)),
        stem_chs=scaled_channels(16, width),
        stem_type="",
        preact=True,
        basic=True,
        bottle_ratio=1.0,
        act_layer=nn.ReLU,
        norm_layer=BatchNormAct2d,
        conv_layer=create_conv2d,
        num_classes=num_classes,
        drop_rate=drop_rate,
        **kwargs,
    )
    stem_conv = model.stem.conv
    model.stem.conv = create_conv2d(stem_conv.in_channels, stem_conv.out_channels, 3, stride=1)
    nn.init.kaiming_normal_(model.stem.conv.weight, mode="fan_out", nonlinearity="relu")
    model.stem.pool = nn.Identity()
    model.head = ClassifierHead(model.num_features, num_classes, pool_type="avg", drop_rate=drop_rate)
    if num_classes:
        nn.init.normal_(model.head.fc.weight, std=0.01)
        nn.init.zeros_(model.head.fc.bias)
    # the BN-ReLU that follows each feature: the next group's first norm1, the final norm after the last group
    following = [f"stages.{i}.blocks.0.norm1.act" for i in range(3)] + ["norm.act"]
    for info, reduction, relu in zip(model.feature_info, (1, 1, 2, 4), following, strict=True):
        info["reduction"] = reduction
        info[PRE_RELU_KEY] = [relu]
    return model


def _entrypoint(name: str) -> Callable[..., ResNetV2]:
    def entrypoint(pretrained: bool = False, width_multiplier: float = 1.0, **kwargs) -> ResNetV2:
        return build(build_wrn, name, pretrained, name=name, width_multiplier=width_multiplier, **kwargs)

    depth, widen = ARCHITECTURES[name]
    entrypoint.__doc__ = f"RepDistiller's CIFAR WRN-{depth}-{widen} (pre-activation basic blocks)."
    return entrypoint


MODEL_NAMES = register_family(
    __name__,
    PURPOSES[2],
    "RepDistiller's wide ResNets",
    "HobbitLong/RepDistiller models/wrn.py; timm ResNetV2 PreActBasic blocks",
    {name: _entrypoint(name) for name in ARCHITECTURES},
    dict.fromkeys(
        ARCHITECTURES, model_cfg((3, 32, 32), 100, first_conv="stem.conv", classifier="head.fc", pool_size=8)
    ),
).names
