"""RepDistiller's CIFAR ResNets (the CRD benchmark's resnet8-110, resnet8x4/32x4 and ResNet50) on timm's ResNet.

Shapes from HobbitLong/RepDistiller ``models/resnet.py`` and ``models/resnetv2.py`` (facts read, no code copied):

* ``crd_resnet{8,14,20,32,44,56,110}``: a 3x3 stride-1 stem of 16 channels (BatchNorm, ReLU; no max-pool), three
  stages of ``(depth - 2) / 6`` basic blocks with 16, 32, 64 planes (strides 1, 2, 2), global average pooling, a
  linear classifier. ``crd_resnet8x4`` and ``crd_resnet32x4``: stem 32, planes 64, 128, 256.
* ``crd_resnet50``: RepDistiller's ``ResNet50`` (resnetv2.py): a 3x3 stride-1 stem of 64 channels without max-pool,
  four stages of (3, 4, 6, 3) bottlenecks with 64, 128, 256, 512 planes (x4 out), stride on the 3x3 convolution.

The blocks are timm's ``BasicBlock`` and ``Bottleneck`` (conv-BN-ReLU order, a 1x1 convolution + BatchNorm projection
where a block changes shape, the final ReLU after the sum), the same as the reference's; their parameter names are the
reference's for the ``resnet*`` models (``layer1.0.conv1``, ``downsample.0``, ``fc``), so its checkpoints load after a
conversion that renames only ``ResNet50``'s ``shortcut``/``linear`` (:mod:`cskd.models.convert`).

Features, as RepDistiller's ``is_feat`` list: the stem output after its ReLU, then every stage output; ``preact`` (for
AB) is each stage's sum before its final ReLU (the last block's, :func:`cskd.models.extract_features`).

``width_multiplier`` (default 1) thins every channel as the paper's models: planes ``round_half_up(planes * m)``, the
stem ``2 * round_half_up(stem / 2 * m)`` (timm sizes the stem from half its width). Initialisation: Kaiming-normal
(fan-out) convolutions, as both timm and the reference; no zero-initialised last BatchNorm (the reference has none).
"""

from __future__ import annotations

from collections.abc import Callable

from timm.models._features import feature_take_indices
from timm.models.resnet import BasicBlock, Bottleneck, ResNet
from torch import Tensor

from cskd.models.paper_resnet import StemVariant, resnet_with_stem
from cskd.models.registry import (
    PURPOSES,
    build,
    check_width,
    model_cfg,
    register_family,
    reject_fixed_args,
    scaled_channels,
)

#: the stem of every model here: 3x3 convolution of stride 1, no max-pool, 32x32 input
CIFAR_NO_POOL = StemVariant("crd", 3, 1, None, (3, 32, 32), 100, "32x32 input (3x3 stride-1 stem, no max-pool)")
#: our name -> (block, blocks per stage, stem channels, stage planes); RepDistiller models/resnet.py, resnetv2.py
ARCHITECTURES: dict[str, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, ...], int, tuple[int, ...]]] = {
    **{f"crd_resnet{d}": (BasicBlock, ((d - 2) // 6,) * 3, 16, (16, 32, 64)) for d in (8, 14, 20, 32, 44, 56, 110)},
    "crd_resnet8x4": (BasicBlock, (1, 1, 1), 32, (64, 128, 256)),
    "crd_resnet32x4": (BasicBlock, (5, 5, 5), 32, (64, 128, 256)),
    "crd_resnet50": (Bottleneck, (3, 4, 6, 3), 64, (64, 128, 256, 512)),
}
#: arguments the architectures fix
FIXED_ARGS = ("width", "block", "layers", "channels", "stem_width", "stem_type", "output_stride")


class StagedResNet(ResNet):
    """timm's ResNet for any number of stages (timm's own forward assumes four: ``layer1`` .. ``layer4``)."""

    @property
    def stage_names(self) -> list[str]:
        return [info["module"] for info in self.feature_info[1:]]

    def forward_features(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.act1(self.bn1(self.conv1(x))))
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return x

    def forward_intermediates(
        self,
        x: Tensor,
        indices: int | list[int] | None = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> list[Tensor] | tuple[Tensor, list[Tensor]]:
        """timm's contract: the ``feature_info`` maps (stem, then every stage) selected by ``indices``, and the final
        map unless ``intermediates_only``."""
        if output_fmt != "NCHW":
            raise ValueError(f"output_fmt must be 'NCHW', got {output_fmt!r}")
        take_indices, max_index = feature_take_indices(len(self.feature_info), indices)
        intermediates = []
        x = self.act1(self.bn1(self.conv1(x)))
        if 0 in take_indices:
            intermediates.append(x)
        x = self.maxpool(x)
        names = self.stage_names[:max_index] if stop_early else self.stage_names
        for index, name in enumerate(names, start=1):
            x = getattr(self, name)(x)
            if index in take_indices:
                intermediates.append(x)
        if intermediates_only:
            return intermediates
        return x, intermediates


def build_crd_resnet(*, name: str, width_multiplier: float, **kwargs) -> ResNet:
    """The RepDistiller ResNet ``name`` with every channel scaled by ``width_multiplier``; ``kwargs`` go to timm's
    ResNet."""
    reject_fixed_args(name, kwargs, FIXED_ARGS)
    width = check_width(width_multiplier)
    block, layers, stem, planes = ARCHITECTURES[name]
    return resnet_with_stem(
        block=block,
        layers=layers,
        planes=tuple(scaled_channels(p, width) for p in planes),
        half_stem=scaled_channels(stem // 2, width),
        stem=CIFAR_NO_POOL,
        resnet_class=StagedResNet if len(layers) != 4 else ResNet,
        **kwargs,
    )


def _entrypoint(name: str) -> Callable[..., ResNet]:
    def entrypoint(pretrained: bool = False, width_multiplier: float = 1.0, **kwargs) -> ResNet:
        return build(build_crd_resnet, name, pretrained, name=name, width_multiplier=width_multiplier, **kwargs)

    block, layers, stem, planes = ARCHITECTURES[name]
    entrypoint.__doc__ = (
        f"RepDistiller's CIFAR {name.removeprefix('crd_')}: {block.__name__} x {layers}, stem {stem}, planes {planes}."
    )
    return entrypoint


MODEL_NAMES = register_family(
    __name__,
    PURPOSES[2],
    "RepDistiller's CIFAR ResNets",
    "HobbitLong/RepDistiller models/resnet.py, resnetv2.py (ResNet50); timm ResNet blocks",
    {name: _entrypoint(name) for name in ARCHITECTURES},
    {
        name: model_cfg((3, 32, 32), 100, first_conv="conv1", classifier="fc", pool_size=8 if len(layers) == 3 else 4)
        for name, (_, layers, _, _) in ARCHITECTURES.items()
    },
).names
