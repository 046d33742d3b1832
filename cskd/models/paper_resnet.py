"""The paper's ResNets: timm's own ResNet with every channel scaled by a width factor and a small-input stem.

Chen et al. (ECCV 2020, experimental setup) use ResNet18/34/50/101/152 with **all channels scaled** by a width ratio
(R101_0.5 = ResNet101 at half width) and, for 32x32 CIFAR input, a first convolution 3x3 stride 1 and a first
max-pool stride 1. Every network here is :class:`timm.models.resnet.ResNet` (its own blocks, built from its
``block``, ``layers``, ``channels`` and ``stem_width`` arguments), registered in timm's registry, so
``timm.create_model("cifar_resnet18_w0_25", num_classes=10)`` builds it.

Names (``depth`` in 18, 34, 50, 101, 152):

* ``cifar_resnet{depth}``: 32x32 input; stem 3x3 conv stride 1, max-pool 3x3 stride 1 -> stages at 32, 16, 8, 4.
* ``tin_resnet{depth}``: 64x64 Tiny ImageNet input; stem 3x3 conv stride 1, max-pool 3x3 stride 2 -> stages at
  32, 16, 8, 4. The paper does not describe its Tiny ImageNet stem; this choice gives every stage the same
  resolution, hence the same compute, as on CIFAR.
* The generic names take ``width`` (default 1.0); ``_w0_25``, ``_w0_5`` and ``_w1`` fix it to 0.25, 0.5 and 1.
* All take ``width_multiplier`` (default 1.0), which multiplies ``width``: the suite thins models with it for
  CPU-scale runs.

Widths: with ``f = width * width_multiplier``, stage ``i`` has ``max(1, round_half_up(base_i * f))`` planes for
``base = (64, 128, 256, 512)`` (x4 channels at the output of a bottleneck stage). timm sizes the first stage's input
from ``stem_width`` only for its deep stem (``2 * stem_width`` channels), so the model is built with that stem and its
three convolutions are then replaced by the paper's single 3x3 convolution: the stem therefore has
``2 * max(1, round_half_up(32 * f))`` channels, equal to the first stage's planes whenever ``64 * f`` rounds to an even
count (every width the paper uses).

Initialisation: timm's ``zero_init_last`` (a zero last BatchNorm gain in every residual branch) is off by default,
as in the authors' torchvision-derived code (``zero_init_residual=False``); pass ``zero_init_last=True`` to turn it on.
Convolutions get timm's Kaiming-normal (fan-out) initialisation, the torchvision rule.

No pretrained weights exist: ``pretrained=True`` raises.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models.resnet import BasicBlock, Bottleneck, ResNet
from torch import nn

#: depth -> (residual block, blocks per stage), He et al. 2016, Table 1
DEPTHS: dict[int, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}
#: planes of the four stages at width 1
BASE_PLANES = (64, 128, 256, 512)
#: name suffix -> width of the named-width entry points
NAMED_WIDTHS = {"w0_25": 0.25, "w0_5": 0.5, "w1": 1.0}
#: arguments that define the paper's architecture, so a caller cannot override them
ARCHITECTURE_ARGS = ("block", "layers", "channels", "stem_width", "stem_type", "output_stride")


@dataclass(frozen=True)
class StemVariant:
    """A family of names sharing one input resolution and stem."""

    prefix: str
    pool_stride: int
    input_size: tuple[int, int, int]
    default_classes: int
    description: str


CIFAR = StemVariant("cifar", 1, (3, 32, 32), 10, "32x32 input (CIFAR stem: 3x3 conv stride 1, max-pool stride 1)")
TINY_IMAGENET = StemVariant(
    "tin", 2, (3, 64, 64), 200, "64x64 input (Tiny ImageNet stem: 3x3 conv stride 1, max-pool stride 2)"
)
STEM_VARIANTS = (CIFAR, TINY_IMAGENET)


def scaled_channels(base: int, factor: float) -> int:
    """``max(1, round_half_up(base * factor))``: a channel count scaled by a width factor."""
    return max(1, math.floor(base * factor + 0.5))


def build_paper_resnet(*, depth: int, width: float, pool_stride: int, zero_init_last: bool = False, **kwargs) -> ResNet:
    """timm's ResNet of ``depth`` at width factor ``width`` with a 3x3 stride-1 stem and a stride-``pool_stride``
    max-pool; ``kwargs`` go to :class:`~timm.models.resnet.ResNet` (``num_classes``, ``drop_rate``, ...)."""
    fixed = sorted(set(kwargs) & set(ARCHITECTURE_ARGS))
    if fixed:
        raise ValueError(
            f"cannot set {', '.join(fixed)}: the paper's architecture fixes it; choose a model name and width instead"
        )
    if not (math.isfinite(width) and width > 0):
        raise ValueError(f"width * width_multiplier must be a positive number, got {width}")
    block, layers = DEPTHS[depth]
    model = ResNet(
        block=block,
        layers=layers,
        channels=tuple(scaled_channels(planes, width) for planes in BASE_PLANES),
        stem_type="deep",
        stem_width=scaled_channels(BASE_PLANES[0] // 2, width),
        zero_init_last=zero_init_last,
        **kwargs,
    )
    reference = model.bn1.weight
    model.conv1 = nn.Conv2d(
        model.in_chans,
        reference.numel(),
        kernel_size=3,
        stride=1,
        padding=1,
        bias=False,
        device=reference.device,
        dtype=reference.dtype,
    )
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")  # timm's rule for every conv
    model.maxpool = nn.MaxPool2d(kernel_size=3, stride=pool_stride, padding=1)
    # feature_info[0] is the stem (stride 1); stage i (1..4) is reduced by the pool, then 2x per stage after the first
    for index, info in enumerate(model.feature_info):
        info["reduction"] = 1 if index == 0 else pool_stride * 2 ** (index - 1)
    return model


def _create(name: str, variant: StemVariant, depth: int, width: float, pretrained: bool, kwargs: dict) -> ResNet:
    if pretrained:
        raise ValueError(f"no pretrained weights exist for {name!r}: train it with cskd (pretrained=False)")
    return build_model_with_cfg(
        build_paper_resnet, name, pretrained, depth=depth, width=width, pool_stride=variant.pool_stride, **kwargs
    )


def _generic_entrypoint(name: str, variant: StemVariant, depth: int) -> Callable[..., ResNet]:
    def entrypoint(pretrained: bool = False, width: float = 1.0, width_multiplier: float = 1.0, **kwargs) -> ResNet:
        return _create(name, variant, depth, width * width_multiplier, pretrained, kwargs)

    entrypoint.__doc__ = f"ResNet{depth} for {variant.description}, every channel scaled by width * width_multiplier."
    return entrypoint


def _named_width_entrypoint(name: str, variant: StemVariant, depth: int, width: float) -> Callable[..., ResNet]:
    def entrypoint(pretrained: bool = False, width_multiplier: float = 1.0, **kwargs) -> ResNet:
        if "width" in kwargs:
            generic = f"{variant.prefix}_resnet{depth}"
            raise ValueError(f"{name!r} has the fixed width {width}; use {generic!r} with width=... instead")
        return _create(name, variant, depth, width * width_multiplier, pretrained, kwargs)

    entrypoint.__doc__ = f"ResNet{depth} at width {width} for {variant.description}."
    return entrypoint


def _pretrained_cfg(variant: StemVariant) -> dict:
    """timm's model config without weights (no URL, no hub id): input size, head and first conv names."""
    final_size = variant.input_size[1] // (variant.pool_stride * 8)
    return {
        "url": "",
        "num_classes": variant.default_classes,
        "input_size": variant.input_size,
        "pool_size": (final_size, final_size),
        "crop_pct": 1.0,
        "first_conv": "conv1",
        "classifier": "fc",
    }


def _family() -> list[tuple[str, StemVariant, Callable[..., ResNet]]]:
    """Every name of the paper's family with its stem variant and its (not yet registered) entry point."""
    family = []
    for variant in STEM_VARIANTS:
        for depth in DEPTHS:
            generic = f"{variant.prefix}_resnet{depth}"
            family.append((generic, variant, _generic_entrypoint(generic, variant, depth)))
            for suffix, width in NAMED_WIDTHS.items():
                named = f"{generic}_{suffix}"
                family.append((named, variant, _named_width_entrypoint(named, variant, depth, width)))
    return family


_FAMILY = _family()
#: read by timm's ``register_model`` to attach each name's config
default_cfgs = generate_default_cfgs({name: _pretrained_cfg(variant) for name, variant, _ in _FAMILY})
for _name, _, _entrypoint in _FAMILY:
    _entrypoint.__name__ = _entrypoint.__qualname__ = _name
    register_model(_entrypoint)

#: the names this module registers in timm, sorted
MODEL_NAMES: tuple[str, ...] = tuple(sorted(name for name, _, _ in _FAMILY))
