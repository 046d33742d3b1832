"""MobileNetV2 for 32x32 input on timm's EfficientNet builder (its ``InvertedResidual`` and ``DepthwiseSeparable``
blocks), in two variants.

* ``cifar_mobilenetv2`` (issue 13, the authors' CIFAR-10 student; width 1.0): torchvision's MobileNetV2 as adapted to
  CIFAR-10 by huyvnphan/PyTorch_CIFAR10 and kuangliu/pytorch-cifar: the stem convolution (32 channels) and the first
  stage that down-samples (24 channels) get stride 1 instead of 2, so the 32x32 input ends at 4x4; blocks t, c, n, s =
  (1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1); a 1x1
  convolution to 1280, average pooling, dropout 0.2 and a linear classifier (huyvnphan's torchvision head). The t=1
  block has no expansion convolution (torchvision, huyvnphan). Activation: ReLU, as kuangliu's CIFAR MobileNetV2 and
  RepDistiller's (torchvision and huyvnphan use ReLU6): AB's pre-ReLU maps are then exact.
* ``crd_mobilenetv2`` (RepDistiller ``models/mobilenetv2.py`` ``mobile_half``, the CRD benchmark's "MobileNetV2"):
  width 0.5 with channels ``int(c * 0.5)`` (stem 16; 8, 12, 16, 32, 48, 80, 160), expansion T = 6, a stride-2 stem
  and strides (1, 1, 2, 2, 1, 2, 1) so the 32x32 input ends at 2x2; its t=1 block keeps a 1x1 expansion convolution;
  a 1x1 convolution to 1280 (not scaled below width 1), average pooling and a linear classifier, no dropout; ReLU.

Stages, as RepDistiller's ``is_feat`` list: the stem output, then the outputs of the blocks that end each resolution
(blocks 1, 2, 4 and 6 of the seven); they are linear-bottleneck outputs (no ReLU), so ``pre_relu`` returns them
unchanged (``"pre_relu": "linear"``, :mod:`cskd.models.features`), as RepDistiller's ``preact`` does.

``width_multiplier`` (default 1) scales every channel count, ``max(1, round_half_up(c * m))``; timm rounds each
block's expanded width ``in * t`` to a multiple of 8 (``make_divisible``), which changes nothing at the published
widths. Initialisation: timm's EfficientNet rule (fan-out normal convolutions, as the references).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from timm.layers import create_conv2d
from timm.models._efficientnet_builder import decode_arch_def
from timm.models.efficientnet import EfficientNet
from torch import nn

from cskd.models.features import LINEAR_STAGE, PRE_RELU_KEY
from cskd.models.registry import (
    PURPOSES,
    build,
    check_width,
    model_cfg,
    register_family,
    reject_fixed_args,
    scaled_channels,
)


@dataclass(frozen=True)
class MobileNetV2Spec:
    """One MobileNetV2 variant: ``(block type, t, c, n, s)`` per stage, stem channels and stride, head channels."""

    stages: tuple[tuple[str, int, int, int, int], ...]
    stem: int
    stem_stride: int
    head: int
    drop_rate: float
    default_classes: int


#: torchvision's MobileNetV2 with huyvnphan/PyTorch_CIFAR10's CIFAR strides (stem and the 24-channel stage at 1)
CIFAR_MOBILENETV2 = MobileNetV2Spec(
    stages=(
        ("ds", 1, 16, 1, 1),
        ("ir", 6, 24, 2, 1),
        ("ir", 6, 32, 3, 2),
        ("ir", 6, 64, 4, 2),
        ("ir", 6, 96, 3, 1),
        ("ir", 6, 160, 3, 2),
        ("ir", 6, 320, 1, 1),
    ),
    stem=32,
    stem_stride=1,
    head=1280,
    drop_rate=0.2,
    default_classes=10,
)
#: RepDistiller's mobile_half: MobileNetV2(T=6, width_mult=0.5), channels int(c * 0.5), head 1280
CRD_MOBILENETV2 = MobileNetV2Spec(
    stages=(
        ("ir", 1, 8, 1, 1),
        ("ir", 6, 12, 2, 1),
        ("ir", 6, 16, 3, 2),
        ("ir", 6, 32, 4, 2),
        ("ir", 6, 48, 3, 1),
        ("ir", 6, 80, 3, 2),
        ("ir", 6, 160, 1, 1),
    ),
    stem=16,
    stem_stride=2,
    head=1280,
    drop_rate=0.0,
    default_classes=100,
)
FIXED_ARGS = ("width", "block_args", "num_features", "stem_size", "fix_stem", "round_chs_fn", "act_layer", "norm_layer")


def _as_given(channels: int) -> int:
    """timm's channel rounding hook, left out: the channel counts are computed here."""
    return channels


def _block_string(kind: str, expansion: int, channels: int, repeats: int, stride: int) -> str:
    """One stage in timm's architecture notation: ``ir`` inverted residuals (expansion ``e``) or ``ds`` depthwise
    separable blocks, 3x3 kernels."""
    expand = f"_e{expansion}" if kind == "ir" else ""
    return f"{kind}_r{repeats}_k3_s{stride}{expand}_c{channels}"


def build_mobilenetv2(*, name: str, spec: MobileNetV2Spec, width_multiplier: float, **kwargs) -> EfficientNet:
    """timm's EfficientNet laid out as ``spec`` with every channel scaled by ``width_multiplier``; ``kwargs`` go to
    it."""
    reject_fixed_args(name, kwargs, FIXED_ARGS)
    width = check_width(width_multiplier)
    kwargs.setdefault("drop_rate", spec.drop_rate)
    arch = [[_block_string(kind, t, scaled_channels(c, width), n, s)] for kind, t, c, n, s in spec.stages]
    stem = scaled_channels(spec.stem, width)
    model = EfficientNet(
        block_args=decode_arch_def(arch),
        num_features=scaled_channels(spec.head, width),
        stem_size=stem,
        fix_stem=True,
        round_chs_fn=_as_given,
        act_layer=nn.ReLU,
        norm_layer=nn.BatchNorm2d,
        **kwargs,
    )
    if spec.stem_stride != 2:  # timm's stem always has stride 2
        old = model.conv_stem
        model.conv_stem = create_conv2d(old.in_channels, stem, 3, stride=spec.stem_stride)
        nn.init.kaiming_normal_(model.conv_stem.weight, mode="fan_out", nonlinearity="relu")
    # timm records no stem feature when the first block has stride 1; RepDistiller's features start with the stem
    blocks = [dict(info, reduction=info["reduction"] * spec.stem_stride // 2) for info in model.feature_info]
    for info in blocks:
        info[PRE_RELU_KEY] = LINEAR_STAGE
    stem_info = {"module": "bn1", "num_chs": stem, "stage": 0, "reduction": spec.stem_stride}
    model.feature_info = [stem_info, *blocks]
    model.stage_ends = [0, *model.stage_ends]
    return model


def _entrypoint(name: str, spec: MobileNetV2Spec, doc: str) -> Callable[..., EfficientNet]:
    def entrypoint(pretrained: bool = False, width_multiplier: float = 1.0, **kwargs) -> EfficientNet:
        return build(
            build_mobilenetv2, name, pretrained, name=name, spec=spec, width_multiplier=width_multiplier, **kwargs
        )

    entrypoint.__doc__ = doc
    return entrypoint


def _cfg(spec: MobileNetV2Spec) -> dict:
    final = 32 // (spec.stem_stride * 8)
    return model_cfg(
        (3, 32, 32), spec.default_classes, first_conv="conv_stem", classifier="classifier", pool_size=final
    )


CIFAR_NAMES = register_family(
    __name__,
    PURPOSES[1],
    "MobileNetV2 for CIFAR-10",
    "huyvnphan/PyTorch_CIFAR10 mobilenetv2.py (torchvision, CIFAR strides) with ReLU as kuangliu/pytorch-cifar; "
    "timm EfficientNet blocks",
    {
        "cifar_mobilenetv2": _entrypoint(
            "cifar_mobilenetv2", CIFAR_MOBILENETV2, "MobileNetV2 (width 1) for 32x32 input."
        )
    },
    {"cifar_mobilenetv2": _cfg(CIFAR_MOBILENETV2)},
).names
CRD_NAMES = register_family(
    __name__,
    PURPOSES[2],
    "RepDistiller's CIFAR MobileNetV2",
    "HobbitLong/RepDistiller models/mobilenetv2.py (mobile_half: width 0.5, T=6); timm EfficientNet blocks",
    {"crd_mobilenetv2": _entrypoint("crd_mobilenetv2", CRD_MOBILENETV2, "RepDistiller's MobileNetV2 (width 0.5).")},
    {"crd_mobilenetv2": _cfg(CRD_MOBILENETV2)},
).names
