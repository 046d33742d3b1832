"""InceptionV3 for 32x32 input (issue 13, the authors' CIFAR-10 teacher) on timm's InceptionV3 and its blocks.

The CIFAR adaptation of huyvnphan/PyTorch_CIFAR10 (``cifar10_models/inception.py``, a torchvision port; facts read, no
code copied): the 299-px stem (five convolutions and two max-pools, stride 8 in all) becomes one 3x3 stride-1
convolution with padding 1 and 192 channels, so the Inception blocks run at 32x32 (Mixed_5b-5d), 15x15 (Mixed_6a-6e)
and 7x7 (Mixed_7a-7c); no auxiliary classifier; global average pooling, dropout 0.5 (torchvision's, kept by
huyvnphan) and a linear classifier on 2048 channels. The blocks are timm's ``InceptionA``..``InceptionE`` with timm's
conv-BatchNorm(eps 1e-3)-ReLU unit; forward, ``forward_intermediates`` and the head are timm's ``InceptionV3``
methods. Initialisation: PyTorch's defaults, as huyvnphan (whose code disables torchvision's truncated normal).

Stages (``feature_info``): the stem, then the last block at each resolution, as timm's InceptionV3 taps them:
Mixed_5d (288 channels, 32x32), Mixed_6e (768, 15x15), Mixed_7c (2048, 7x7). A block's output concatenates branches
that each end in a ReLU, so its pre-ReLU map (AB) is the concatenation of the branches' BatchNorm outputs.

``width_multiplier`` (default 1) scales every channel count of the network exactly (each branch, and hence each
concatenation): ``c * m`` must be a whole number for every count, which holds for ``m = k / 16``.
"""

from __future__ import annotations

from functools import partial

from timm.layers import ConvNormAct, create_classifier
from timm.models.inception_v3 import InceptionA, InceptionB, InceptionC, InceptionD, InceptionE, InceptionV3
from torch import Tensor, nn

from cskd.models.features import PRE_RELU_KEY
from cskd.models.registry import PURPOSES, build, check_width, model_cfg, register_family, reject_fixed_args

#: branches whose outputs a block concatenates, in order (timm's InceptionA/C/E ``_forward``)
CONCATENATED_BRANCHES: dict[type[nn.Module], tuple[str, ...]] = {
    InceptionA: ("branch1x1", "branch5x5_2", "branch3x3dbl_3", "branch_pool"),
    InceptionC: ("branch1x1", "branch7x7_3", "branch7x7dbl_5", "branch_pool"),
    InceptionE: ("branch1x1", "branch3x3_2a", "branch3x3_2b", "branch3x3dbl_3a", "branch3x3dbl_3b", "branch_pool"),
}
#: the layers of the CIFAR network in forward order, and the ones tapped as stages
LAYERS = (
    "Conv2d_1a_3x3",
    "Mixed_5b",
    "Mixed_5c",
    "Mixed_5d",
    "Mixed_6a",
    "Mixed_6b",
    "Mixed_6c",
    "Mixed_6d",
    "Mixed_6e",
    "Mixed_7a",
    "Mixed_7b",
    "Mixed_7c",
)
STAGES = ("Conv2d_1a_3x3", "Mixed_5d", "Mixed_6e", "Mixed_7c")
FIXED_ARGS = ("width", "aux_logits", "norm_layer", "norm_eps", "act_layer", "global_pool")


def exact_channels(channels: int, width: float) -> int:
    """``channels * width`` when it is a whole number; a :class:`ValueError` otherwise."""
    scaled = channels * width
    if scaled < 1 or abs(scaled - round(scaled)) > 1e-9:
        raise ValueError(
            f"cifar_inception_v3 scales every channel count exactly, and width_multiplier {width} makes {channels} "
            f"channels {scaled:g}: use a multiple of 1/16 (1, 0.5, 0.25, 0.125, 0.0625, ...)"
        )
    return round(scaled)


class ScaledConvNormAct(ConvNormAct):
    """timm's InceptionV3 unit (conv, BatchNorm eps 1e-3, ReLU; padding 0 unless given) with both channel counts
    scaled exactly by ``width``: every block of timm's InceptionV3 builds its convolutions through this class."""

    def __init__(self, in_channels: int, out_channels: int, *, width: float, padding: int | tuple = 0, **kwargs):
        super().__init__(
            exact_channels(in_channels, width),
            exact_channels(out_channels, width),
            padding=padding,
            norm_layer=nn.BatchNorm2d,
            act_layer=nn.ReLU,
            norm_kwargs={"eps": 1e-3},
            act_kwargs={"inplace": True},
            **kwargs,
        )


class CifarInceptionV3(InceptionV3):
    """timm's InceptionV3 with the CIFAR stem of huyvnphan/PyTorch_CIFAR10 (see the module docstring).

    timm's ``__init__`` builds the 299-px stem, so this one builds the CIFAR layers itself and keeps every other
    method of :class:`~timm.models.inception_v3.InceptionV3`.
    """

    def __init__(self, num_classes: int = 10, in_chans: int = 3, drop_rate: float = 0.5, width: float = 1.0):
        nn.Module.__init__(self)
        conv = partial(ScaledConvNormAct, width=width)
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.width = width
        self.aux_logits = False
        self.AuxLogits = None
        self.Conv2d_1a_3x3 = ConvNormAct(
            in_chans,
            exact_channels(192, width),
            kernel_size=3,
            stride=1,
            padding=1,
            norm_kwargs={"eps": 1e-3},
            act_kwargs={"inplace": True},
        )
        self.Mixed_5b = InceptionA(192, pool_features=32, conv_block=conv)
        self.Mixed_5c = InceptionA(256, pool_features=64, conv_block=conv)
        self.Mixed_5d = InceptionA(288, pool_features=64, conv_block=conv)
        self.Mixed_6a = InceptionB(288, conv_block=conv)
        self.Mixed_6b = InceptionC(768, channels_7x7=128, conv_block=conv)
        self.Mixed_6c = InceptionC(768, channels_7x7=160, conv_block=conv)
        self.Mixed_6d = InceptionC(768, channels_7x7=160, conv_block=conv)
        self.Mixed_6e = InceptionC(768, channels_7x7=192, conv_block=conv)
        self.Mixed_7a = InceptionD(768, conv_block=conv)
        self.Mixed_7b = InceptionE(1280, conv_block=conv)
        self.Mixed_7c = InceptionE(2048, conv_block=conv)
        self.layer_names = list(LAYERS)
        self.feature_info = [
            self._stage_info("Conv2d_1a_3x3", 192, 1),
            self._stage_info("Mixed_5d", 288, 1),
            self._stage_info("Mixed_6e", 768, 2),
            self._stage_info("Mixed_7c", 2048, 4),
        ]
        self.feature_ends = [self.layer_names.index(info["module"]) for info in self.feature_info]
        self.num_features = exact_channels(2048, width)
        self.global_pool, self.head_drop, self.fc = create_classifier(
            self.num_features, num_classes, pool_type="avg", drop_rate=drop_rate
        )
        self.head_hidden_size = self.num_features

    def _stage_info(self, name: str, channels: int, reduction: int) -> dict:
        info = {"num_chs": exact_channels(channels, self.width), "reduction": reduction, "module": name}
        block = getattr(self, name)
        if type(block) in CONCATENATED_BRANCHES:
            info[PRE_RELU_KEY] = [f"{name}.{branch}.bn.act" for branch in CONCATENATED_BRANCHES[type(block)]]
        return info

    def forward_features(self, x: Tensor) -> Tensor:
        for name in self.layer_names:
            x = getattr(self, name)(x)
        return x


def build_cifar_inception_v3(*, width_multiplier: float, **kwargs) -> CifarInceptionV3:
    reject_fixed_args("cifar_inception_v3", kwargs, FIXED_ARGS)
    return CifarInceptionV3(width=check_width(width_multiplier), **kwargs)


def _cifar_inception_v3(pretrained: bool = False, width_multiplier: float = 1.0, **kwargs) -> CifarInceptionV3:
    """InceptionV3 for 32x32 input: huyvnphan/PyTorch_CIFAR10's stride-1 stem, timm's Inception blocks."""
    return build(
        build_cifar_inception_v3, "cifar_inception_v3", pretrained, width_multiplier=width_multiplier, **kwargs
    )


MODEL_NAMES = register_family(
    __name__,
    PURPOSES[1],
    "InceptionV3 for CIFAR-10",
    "huyvnphan/PyTorch_CIFAR10 inception.py (3x3 stride-1 stem, 192 ch); timm InceptionV3 blocks",
    {"cifar_inception_v3": _cifar_inception_v3},
    {"cifar_inception_v3": model_cfg((3, 32, 32), 10, first_conv="Conv2d_1a_3x3.conv", classifier="fc", pool_size=7)},
).names
