"""VGG networks with BatchNorm for 32x32 input on timm's VGG, with a single linear classifier.

Two families, both timm's ``VGG`` (3x3 convolutions with bias, BatchNorm, ReLU; 2x2 max-pools) whose ImageNet head
(a 4096-wide 7x7 convolutional MLP) is replaced by global average pooling and one linear layer:

* ``cifar_vgg11_bn`` (issue 13, the authors' CIFAR-10 student): VGG11 (configuration A: 64, M, 128, M, 256, 256, M,
  512, 512, M, 512, 512, M) as kuangliu/pytorch-cifar's CIFAR VGG: five max-pools take 32x32 to 1x1, then
  ``Linear(512, classes)`` (the "small classifier"; huyvnphan/PyTorch_CIFAR10 keeps torchvision's two 4096-wide
  layers instead). Stages: the five conv blocks' outputs before their pools (32, 16, 8, 4, 2).
* ``crd_vgg{8,11,13,16,19}`` (RepDistiller ``models/vgg.py``, the CRD benchmark's ``vgg*_bn``): five blocks of
  convolutions (vgg8: one per block; 11/13/16/19: configurations A/B/D/E); max-pools after the first three blocks
  only (the reference applies its fourth pool for 64x64 input only), so blocks 3 and 4 both run at 4x4; global
  average pooling, ``Linear(512, classes)``. Stages: each block's output (32, 16, 8, 4, 4), RepDistiller's ``f0`` to
  ``f4``; ``preact`` (AB): each block's BatchNorm output before its ReLU.

``width_multiplier`` (default 1) scales every channel count: ``max(1, round_half_up(c * m))``. Initialisation: timm's
VGG rule (Kaiming-normal fan-out convolutions with zero bias, classifier normal(0, 0.01)), the same as RepDistiller's.
"""

from __future__ import annotations

from collections.abc import Callable

from timm.layers import ClassifierHead
from timm.models.vgg import VGG
from torch import nn

from cskd.models.registry import (
    PURPOSES,
    build,
    check_width,
    model_cfg,
    register_family,
    reject_fixed_args,
    scaled_channels,
)

#: convolution widths per block: RepDistiller's cfg 'S', 'A', 'B', 'D', 'E' (models/vgg.py)
CRD_BLOCKS: dict[str, tuple[tuple[int, ...], ...]] = {
    "crd_vgg8": ((64,), (128,), (256,), (512,), (512,)),
    "crd_vgg11": ((64,), (128,), (256, 256), (512, 512), (512, 512)),
    "crd_vgg13": ((64, 64), (128, 128), (256, 256), (512, 512), (512, 512)),
    "crd_vgg16": ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
    "crd_vgg19": ((64, 64), (128, 128), (256, 256, 256, 256), (512, 512, 512, 512), (512, 512, 512, 512)),
}
#: VGG11 (configuration A) as blocks, each followed by a max-pool (kuangliu/pytorch-cifar models/vgg.py)
VGG11_BLOCKS = CRD_BLOCKS["crd_vgg11"]
FIXED_ARGS = ("width", "cfg", "norm_layer", "output_stride", "mlp_ratio", "conv_layer", "act_layer")


def build_block_vgg(
    *,
    name: str,
    blocks: tuple[tuple[int, ...], ...],
    pooled_blocks: int,
    width_multiplier: float,
    num_classes: int = 10,
    drop_rate: float = 0.0,
    **kwargs,
) -> VGG:
    """timm's VGG of ``blocks`` (conv widths scaled by ``width_multiplier``) with a 2x2 max-pool after each of the first
    ``pooled_blocks`` blocks, average pooling and a linear classifier; one stage per block (its last ReLU)."""
    reject_fixed_args(name, kwargs, FIXED_ARGS)
    width = check_width(width_multiplier)
    cfg: list[int | str] = []
    for index, block in enumerate(blocks):
        cfg += [scaled_channels(c, width) for c in block]
        if index < pooled_blocks:
            cfg.append("M")
    model = VGG(cfg, num_classes=num_classes, norm_layer=nn.BatchNorm2d, drop_rate=drop_rate, **kwargs)
    channels = model.num_features
    model.pre_logits = nn.Identity()
    model.head = ClassifierHead(channels, num_classes, pool_type="avg", drop_rate=drop_rate)
    model.head_hidden_size = channels
    if num_classes:
        nn.init.normal_(model.head.fc.weight, std=0.01)
        nn.init.zeros_(model.head.fc.bias)
    model.feature_info, model.feature_ends = _block_taps(cfg, blocks, pooled_blocks)
    return model


def conv_layer_indices(blocks: tuple[tuple[int, ...], ...], pooled_blocks: int) -> list[list[int]]:
    """Index in ``VGG.features`` of every convolution, per block: timm lays out each convolution as three layers
    (conv, BatchNorm, ReLU) and each max-pool as one."""
    indices, layer = [], 0
    for index, block in enumerate(blocks):
        indices.append([layer + 3 * j for j in range(len(block))])
        layer += 3 * len(block) + (1 if index < pooled_blocks else 0)
    return indices


def _block_taps(cfg: list[int | str], blocks: tuple[tuple[int, ...], ...], pooled_blocks: int) -> tuple[list, list]:
    """One feature per block, the ReLU after its last convolution, with its channels and reduction."""
    widths = [c for c in cfg if c != "M"]
    info, ends, reduction, convs = [], [], 1, 0
    for index, layers in enumerate(conv_layer_indices(blocks, pooled_blocks)):
        convs += len(layers)
        info.append({"num_chs": widths[convs - 1], "reduction": reduction, "module": f"features.{layers[-1] + 2}"})
        ends.append(layers[-1] + 2)
        reduction *= 2 if index < pooled_blocks else 1
    return info, ends


def _cifar_vgg11_bn(pretrained: bool = False, width_multiplier: float = 1.0, **kwargs) -> VGG:
    """VGG11 with BatchNorm for 32x32 input and one linear classifier (kuangliu/pytorch-cifar's CIFAR VGG)."""
    name = "cifar_vgg11_bn"
    return build(
        build_block_vgg,
        name,
        pretrained,
        name=name,
        blocks=VGG11_BLOCKS,
        pooled_blocks=5,
        width_multiplier=width_multiplier,
        **kwargs,
    )


def _crd_entrypoint(name: str) -> Callable[..., VGG]:
    def entrypoint(pretrained: bool = False, width_multiplier: float = 1.0, **kwargs) -> VGG:
        return build(
            build_block_vgg,
            name,
            pretrained,
            name=name,
            blocks=CRD_BLOCKS[name],
            pooled_blocks=3,
            width_multiplier=width_multiplier,
            **kwargs,
        )

    entrypoint.__doc__ = f"RepDistiller's CIFAR {name.removeprefix('crd_')}_bn (BatchNorm, linear classifier)."
    return entrypoint


CIFAR_NAMES = register_family(
    __name__,
    PURPOSES[1],
    "VGG11 with BatchNorm for CIFAR-10",
    "kuangliu/pytorch-cifar models/vgg.py (VGG11 + BN, Linear(512) head); timm VGG",
    {"cifar_vgg11_bn": _cifar_vgg11_bn},
    {"cifar_vgg11_bn": model_cfg((3, 32, 32), 10, first_conv="features.0", classifier="head.fc", pool_size=1)},
).names
CRD_NAMES = register_family(
    __name__,
    PURPOSES[2],
    "RepDistiller's CIFAR VGGs (BN)",
    "HobbitLong/RepDistiller models/vgg.py (vgg*_bn, 32x32 path); timm VGG",
    {name: _crd_entrypoint(name) for name in CRD_BLOCKS},
    dict.fromkeys(CRD_BLOCKS, model_cfg((3, 32, 32), 100, first_conv="features.0", classifier="head.fc", pool_size=4)),
).names
