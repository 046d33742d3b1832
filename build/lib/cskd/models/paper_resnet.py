"""The paper's ResNets: timm's own ResNet with every channel scaled by a width factor and a stem per input size.

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
* ``in_resnet{depth}``: 224x224 input (CUB-200-2011, the authors' extra results); the standard ImageNet stem of He et
  al. 2016 (Table 1): 7x7 conv stride 2, max-pool 3x3 stride 2 -> stages at 56, 28, 14, 7.
* The generic names take ``width`` (default 1.0); ``_w0_25``, ``_w0_5`` and ``_w1`` fix it to 0.25, 0.5 and 1.
* All take ``width_multiplier`` (default 1.0), which multiplies ``width``: the suite thins models with it for
  CPU-scale runs.

Widths: with ``f = width * width_multiplier``, stage ``i`` has ``max(1, round_half_up(base_i * f))`` planes for
``base = (64, 128, 256, 512)`` (x4 channels at the output of a bottleneck stage). timm sizes the first stage's input
from ``stem_width`` only for its deep stem (``2 * stem_width`` channels), so the model is built with that stem and its
three convolutions are then replaced by the variant's single convolution: the stem therefore has
``2 * max(1, round_half_up(32 * f))`` channels, equal to the first stage's planes whenever ``64 * f`` rounds to an even
count (every width the paper uses).

Initialisation: timm's ``zero_init_last`` (a zero last BatchNorm gain in every residual branch) is off by default,
as in the authors' torchvision-derived code (``zero_init_residual=False``); pass ``zero_init_last=True`` to turn it on.
Convolutions get timm's Kaiming-normal (fan-out) initialisation, the torchvision rule.

No pretrained weights exist: ``pretrained=True`` raises.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from timm.models.resnet import BasicBlock, Bottleneck, ResNet
from torch import nn

from cskd.models.registry import PURPOSES, build, check_width, model_cfg, register_family, scaled_channels

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
    """A family of names sharing one input resolution and stem: a ``conv_kernel`` x ``conv_kernel`` convolution of
    stride ``conv_stride``, then a 3x3 max-pool of stride ``pool_stride`` (``None``: no max-pool)."""

    prefix: str
    conv_kernel: int
    conv_stride: int
    pool_stride: int | None
    input_size: tuple[int, int, int]
    default_classes: int
    description: str

    @property
    def stage_reductions(self) -> tuple[int, ...]:
        """Input-to-map size ratio of the stem output and of each of the four stages."""
        first = self.conv_stride * (self.pool_stride or 1)
        return (self.conv_stride, first, 2 * first, 4 * first, 8 * first)


CIFAR = StemVariant("cifar", 3, 1, 1, (3, 32, 32), 10, "32x32 input (CIFAR stem: 3x3 conv stride 1, max-pool stride 1)")
TINY_IMAGENET = StemVariant(
    "tin", 3, 1, 2, (3, 64, 64), 200, "64x64 input (Tiny ImageNet stem: 3x3 conv stride 1, max-pool stride 2)"
)
IMAGENET = StemVariant(
    "in", 7, 2, 2, (3, 224, 224), 200, "224x224 input (ImageNet stem: 7x7 conv stride 2, max-pool stride 2)"
)
STEM_VARIANTS = (CIFAR, TINY_IMAGENET, IMAGENET)


def resnet_with_stem(
    *,
    block: type[BasicBlock] | type[Bottleneck],
    layers: tuple[int, ...],
    planes: tuple[int, ...],
    half_stem: int,
    stem: StemVariant,
    resnet_class: type[ResNet] = ResNet,
    zero_init_last: bool = False,
    **kwargs,
) -> ResNet:
    """timm's ResNet (or ``resnet_class``) with stages of ``planes`` and ``layers`` blocks, a stem of
    ``2 * half_stem`` channels and ``stem``'s convolution and max-pool; ``kwargs`` go to the class."""
    model = resnet_class(
        block=block,
        layers=layers,
        channels=planes,
        stem_type="deep",
        stem_width=half_stem,
        zero_init_last=zero_init_last,
        **kwargs,
    )
    reference = model.bn1.weight
    model.conv1 = nn.Conv2d(
        model.in_chans,
        reference.numel(),
        kernel_size=stem.conv_kernel,
        stride=stem.conv_stride,
        padding=stem.conv_kernel // 2,
        bias=False,
        device=reference.device,
        dtype=reference.dtype,
    )
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")  # timm's rule for every conv
    if stem.pool_stride is None:
        model.maxpool = nn.Identity()
    else:
        model.maxpool = nn.MaxPool2d(kernel_size=3, stride=stem.pool_stride, padding=1)
    for info, reduction in zip(model.feature_info, stem.stage_reductions, strict=False):
        info["reduction"] = reduction
    return model


def build_paper_resnet(*, depth: int, width: float, stem: StemVariant, **kwargs) -> ResNet:
    """timm's ResNet of ``depth`` at width factor ``width`` with ``stem``'s stem; ``kwargs`` go to
    :class:`~timm.models.resnet.ResNet` (``num_classes``, ``drop_rate``, ``zero_init_last``, ...)."""
    fixed = sorted(set(kwargs) & set(ARCHITECTURE_ARGS))
    if fixed:
        raise ValueError(
            f"cannot set {', '.join(fixed)}: the paper's architecture fixes it; choose a model name and width instead"
        )
    check_width(width)
    block, layers = DEPTHS[depth]
    return resnet_with_stem(
        block=block,
        layers=layers,
        planes=tuple(scaled_channels(planes, width) for planes in BASE_PLANES),
        half_stem=scaled_channels(BASE_PLANES[0] // 2, width),
        stem=stem,
        **kwargs,
    )


def _create(name: str, variant: StemVariant, depth: int, width: float, pretrained: bool, kwargs: dict) -> ResNet:
    return build(build_paper_resnet, name, pretrained, depth=depth, width=width, stem=variant, **kwargs)


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


def _register(variant: StemVariant, title: str, source: str) -> tuple[str, ...]:
    """Register every depth and width of ``variant``; returns the names."""
    entrypoints = {}
    for depth in DEPTHS:
        generic = f"{variant.prefix}_resnet{depth}"
        entrypoints[generic] = _generic_entrypoint(generic, variant, depth)
        for suffix, width in NAMED_WIDTHS.items():
            named = f"{generic}_{suffix}"
            entrypoints[named] = _named_width_entrypoint(named, variant, depth, width)
    final_size = variant.input_size[1] // variant.stage_reductions[-1]
    cfg = model_cfg(
        variant.input_size, variant.default_classes, first_conv="conv1", classifier="fc", pool_size=final_size
    )
    purpose = PURPOSES[1] if variant is IMAGENET else PURPOSES[0]
    return register_family(__name__, purpose, title, source, entrypoints, dict.fromkeys(entrypoints, cfg)).names


_PAPER = "Chen et al. ECCV 2020 (ResNet18-152, all channels x width); timm ResNet"
#: the names this module registers in timm, sorted
MODEL_NAMES: tuple[str, ...] = tuple(
    sorted(
        _register(CIFAR, "ResNets, CIFAR stem", f"{_PAPER}; the paper's 3x3 stride-1 stem")
        + _register(TINY_IMAGENET, "ResNets, Tiny ImageNet stem", f"{_PAPER}; our 64 px stem")
        + _register(IMAGENET, "ResNets, ImageNet stem (CUB-200-2011)", f"{_PAPER}; He et al. 2016's 7x7 stem")
    )
)
