"""RepDistiller's CIFAR ShuffleNets (the CRD benchmark's ShuffleV1 and ShuffleV2): small modules of our own, since
timm has no ShuffleNet, behind timm's feature contract (``forward_intermediates``, ``feature_info``, ``forward_head``).

Shapes from HobbitLong/RepDistiller ``models/ShuffleNetv1.py`` and ``models/ShuffleNetv2.py`` (facts read, no code
copied). Both have a 1x1 stride-1 stem of 24 channels (BatchNorm, ReLU; no pooling), three stages that each halve
the resolution (32x32 input -> 16, 8, 4), global average pooling and a linear classifier.

* ``crd_shufflev1`` (Zhang et al. 2018, g = 3): stages of 4, 8, 4 units with 240, 480, 960 output channels. A unit is
  a grouped 1x1 convolution to a quarter of its output width (ungrouped in the unit that follows the stem), a channel
  shuffle, a 3x3 depthwise convolution (carrying the stride), a grouped 1x1 convolution, each with BatchNorm (ReLU after
  the first two); stride 2 concatenates a 3x3 average-pooled input, stride 1 adds the input; then ReLU.
* ``crd_shufflev2`` (Ma et al. 2018, 1x): stages of a down-sampling unit and 3, 7, 3 basic units, 116, 232, 464
  channels, then a 1x1 convolution to 1024 (BatchNorm, ReLU). The basic unit splits the channels in halves, runs
  1x1-BN-ReLU, 3x3 depthwise-BN, 1x1-BN on the second, ReLU, concatenates and shuffles (2 groups). The down-sampling
  unit concatenates two stride-2 branches (3x3 depthwise-BN then 1x1-BN-ReLU; 1x1-BN-ReLU, 3x3 depthwise-BN,
  1x1-BN-ReLU) and shuffles.

Features, as RepDistiller's ``is_feat`` list: the stem output after its ReLU, then every stage output. Pre-ReLU maps
(AB): ShuffleV1 units end in a ReLU (the default rule of :mod:`cskd.models.features`). The ShuffleV2 basic unit here
applies its final ReLU after the concatenation and shuffle, to the whole map, instead of to the branch before them:
the result is the same, because the passed-through half is itself the output of a ReLU (every unit's input is the
output of a ReLU or of a shuffle of ReLU outputs), and the stage then ends in a ReLU whose input,
``shuffle(concat(x1, branch))``, is RepDistiller's ``preact`` ``concat(x1, branch)`` in shuffled channel order.

``width_multiplier`` (default 1) scales every channel count, rounded half up to the multiples the architectures need:
ShuffleV1 stem and stage widths to multiples of 12 (three groups, and a quarter-width bottleneck that is grouped too),
ShuffleV2 stage widths to even counts (halves). Initialisation: PyTorch's defaults, as the reference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from timm.models._features import feature_take_indices
from torch import Tensor, nn

from cskd.models.registry import (
    PURPOSES,
    build,
    check_width,
    model_cfg,
    register_family,
    reject_fixed_args,
    scaled_channels,
)


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Channel shuffle of Zhang et al. 2018: ``[N, g * c, H, W]`` viewed as ``[N, g, c]`` channels, transposed to
    ``[N, c, g]`` and flattened back, so that the next grouped convolution mixes every group."""
    n, channels, h, w = x.shape
    return x.view(n, groups, channels // groups, h, w).transpose(1, 2).reshape(n, channels, h, w)


class ChannelShuffle(nn.Module):
    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: Tensor) -> Tensor:
        return channel_shuffle(x, self.groups)


def conv_bn(in_chs: int, out_chs: int, kernel: int, *, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    """A convolution without bias (padding ``kernel // 2``) and its BatchNorm."""
    conv = nn.Conv2d(in_chs, out_chs, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False)
    return [conv, nn.BatchNorm2d(out_chs)]


class ShuffleV1Unit(nn.Module):
    """ShuffleNet V1 unit producing ``out_chs`` new channels (plus the pooled input when ``stride`` is 2)."""

    def __init__(self, in_chs: int, out_chs: int, *, stride: int, groups: int, first_groups: int) -> None:
        super().__init__()
        mid = out_chs // 4
        self.conv1, self.bn1 = conv_bn(in_chs, mid, 1, groups=first_groups)
        self.act1 = nn.ReLU(inplace=True)
        self.shuffle = ChannelShuffle(first_groups)
        self.conv2, self.bn2 = conv_bn(mid, mid, 3, stride=stride, groups=mid)
        self.act2 = nn.ReLU(inplace=True)
        self.conv3, self.bn3 = conv_bn(mid, out_chs, 1, groups=groups)
        self.shortcut = nn.AvgPool2d(3, stride=2, padding=1) if stride == 2 else nn.Identity()
        self.concatenate = stride == 2
        self.act3 = nn.ReLU(inplace=True)  # registered last: the unit's final ReLU (features.py's default rule)

    def forward(self, x: Tensor) -> Tensor:
        out = self.shuffle(self.act1(self.bn1(self.conv1(x))))
        out = self.bn3(self.conv3(self.act2(self.bn2(self.conv2(out)))))
        shortcut = self.shortcut(x)
        return self.act3(torch.cat([out, shortcut], 1) if self.concatenate else out + shortcut)


class ShuffleV2Unit(nn.Module):
    """ShuffleNet V2 basic unit on ``channels`` (even): half passes through, half goes through the branch."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        half = channels // 2
        self.conv1, self.bn1 = conv_bn(half, half, 1)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2, self.bn2 = conv_bn(half, half, 3, groups=half)
        self.conv3, self.bn3 = conv_bn(half, half, 1)
        self.shuffle = ChannelShuffle(2)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        passed, branch = x.chunk(2, dim=1)
        branch = self.bn3(self.conv3(self.bn2(self.conv2(self.act1(self.bn1(self.conv1(branch)))))))
        # relu(shuffle(cat(passed, branch))) == shuffle(cat(passed, relu(branch))) since passed >= 0 (module docstring)
        return self.act(self.shuffle(torch.cat([passed, branch], 1)))


class ShuffleV2Down(nn.Module):
    """ShuffleNet V2 down-sampling unit: two stride-2 branches of ``out_chs / 2`` channels each, concatenated."""

    def __init__(self, in_chs: int, out_chs: int) -> None:
        super().__init__()
        mid = out_chs // 2
        self.conv1, self.bn1 = conv_bn(in_chs, in_chs, 3, stride=2, groups=in_chs)
        self.conv2, self.bn2 = conv_bn(in_chs, mid, 1)
        self.act2 = nn.ReLU(inplace=True)
        self.conv3, self.bn3 = conv_bn(in_chs, mid, 1)
        self.act3 = nn.ReLU(inplace=True)
        self.conv4, self.bn4 = conv_bn(mid, mid, 3, stride=2, groups=mid)
        self.conv5, self.bn5 = conv_bn(mid, mid, 1)
        self.act5 = nn.ReLU(inplace=True)
        self.shuffle = ChannelShuffle(2)

    def forward(self, x: Tensor) -> Tensor:
        left = self.act2(self.bn2(self.conv2(self.bn1(self.conv1(x)))))
        right = self.act3(self.bn3(self.conv3(x)))
        right = self.act5(self.bn5(self.conv5(self.bn4(self.conv4(right)))))
        return self.shuffle(torch.cat([left, right], 1))


class CifarShuffleNet(nn.Module):
    """Stem, stages, optional 1x1 head convolution, global average pooling, linear classifier; timm's contract."""

    def __init__(
        self,
        stem_chs: int,
        stages: Sequence[nn.Sequential],
        stage_chs: Sequence[int],
        head_chs: int | None,
        *,
        num_classes: int,
        in_chans: int = 3,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.stem = nn.Sequential(*conv_bn(in_chans, stem_chs, 1), nn.ReLU(inplace=True))
        self.stages = nn.Sequential(*stages)
        last = stage_chs[-1]
        if head_chs is None:
            self.head_conv = nn.Identity()
            self.num_features = last
        else:
            self.head_conv = nn.Sequential(*conv_bn(last, head_chs, 1), nn.ReLU(inplace=True))
            self.num_features = head_chs
        self.head_hidden_size = self.num_features
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()
        self.feature_info = [{"num_chs": stem_chs, "reduction": 1, "module": "stem"}] + [
            {"num_chs": chs, "reduction": 2 ** (i + 1), "module": f"stages.{i}"} for i, chs in enumerate(stage_chs)
        ]

    def get_classifier(self) -> nn.Module:
        return self.fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        if global_pool not in (None, "avg"):
            raise ValueError(f"{type(self).__name__} pools by average only, got global_pool={global_pool!r}")
        self.num_classes = num_classes
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()

    def forward_intermediates(
        self,
        x: Tensor,
        indices: int | list[int] | None = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> list[Tensor] | tuple[Tensor, list[Tensor]]:
        """timm's contract: the ``feature_info`` maps (stem, then every stage) selected by ``indices``, and the
        final map (after the head convolution) unless ``intermediates_only``."""
        if output_fmt != "NCHW":
            raise ValueError(f"output_fmt must be 'NCHW', got {output_fmt!r}")
        take_indices, max_index = feature_take_indices(len(self.feature_info), indices)
        x = self.stem(x)
        intermediates = [x] if 0 in take_indices else []
        stages = self.stages[:max_index] if stop_early else self.stages
        for index, stage in enumerate(stages, start=1):
            x = stage(x)
            if index in take_indices:
                intermediates.append(x)
        if intermediates_only:
            return intermediates
        if len(stages) == len(self.stages):
            x = self.head_conv(x)
        return x, intermediates

    def forward_features(self, x: Tensor) -> Tensor:
        return self.head_conv(self.stages(self.stem(x)))

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        x = x.mean(dim=(2, 3))
        if self.drop_rate:
            x = nn.functional.dropout(x, self.drop_rate, self.training)
        return x if pre_logits else self.fc(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


#: ShuffleV1 (g = 3): units per stage and stage widths; RepDistiller models/ShuffleNetv1.py
V1_UNITS, V1_WIDTHS, V1_GROUPS, V1_STEM = (4, 8, 4), (240, 480, 960), 3, 24
#: ShuffleV2 (1x): basic units per stage, stage widths, head width; RepDistiller models/ShuffleNetv2.py
V2_UNITS, V2_WIDTHS, V2_HEAD, V2_STEM = (3, 7, 3), (116, 232, 464), 1024, 24
FIXED_ARGS = ("width", "stem_chs", "stages", "stage_chs", "head_chs")


def build_shufflev1(*, width_multiplier: float, num_classes: int = 100, **kwargs) -> CifarShuffleNet:
    """ShuffleNet V1 (g = 3) with every channel scaled by ``width_multiplier`` (multiples of 12)."""
    reject_fixed_args("crd_shufflev1", kwargs, FIXED_ARGS)
    width = check_width(width_multiplier)
    quantum = 4 * V1_GROUPS
    stem = scaled_channels(V1_STEM, width, quantum)
    widths = [scaled_channels(c, width, quantum) for c in V1_WIDTHS]
    if not stem < widths[0] < widths[1] < widths[2]:
        raise ValueError(
            f"width_multiplier {width} leaves crd_shufflev1 stage widths {widths} not above its stem {stem} "
            "(they are rounded to multiples of 12): use a larger multiplier, such as 0.125"
        )
    stages, in_chs = [], stem
    for units, out_chs in zip(V1_UNITS, widths, strict=True):
        blocks = []
        for index in range(units):
            stride = 2 if index == 0 else 1
            new_chs = out_chs - in_chs if stride == 2 else out_chs
            first_groups = 1 if in_chs == stem else V1_GROUPS
            blocks.append(ShuffleV1Unit(in_chs, new_chs, stride=stride, groups=V1_GROUPS, first_groups=first_groups))
            in_chs = out_chs
        stages.append(nn.Sequential(*blocks))
    return CifarShuffleNet(stem, stages, widths, None, num_classes=num_classes, **kwargs)


def build_shufflev2(*, width_multiplier: float, num_classes: int = 100, **kwargs) -> CifarShuffleNet:
    """ShuffleNet V2 (1x) with every channel scaled by ``width_multiplier`` (stage widths even)."""
    reject_fixed_args("crd_shufflev2", kwargs, FIXED_ARGS)
    width = check_width(width_multiplier)
    stem = scaled_channels(V2_STEM, width)
    widths = [scaled_channels(c, width, 2) for c in V2_WIDTHS]
    stages, in_chs = [], stem
    for units, out_chs in zip(V2_UNITS, widths, strict=True):
        stages.append(nn.Sequential(ShuffleV2Down(in_chs, out_chs), *(ShuffleV2Unit(out_chs) for _ in range(units))))
        in_chs = out_chs
    head = scaled_channels(V2_HEAD, width)
    return CifarShuffleNet(stem, stages, widths, head, num_classes=num_classes, **kwargs)


def _entrypoint(name: str, builder: Callable[..., CifarShuffleNet], doc: str) -> Callable[..., CifarShuffleNet]:
    def entrypoint(pretrained: bool = False, width_multiplier: float = 1.0, **kwargs) -> CifarShuffleNet:
        return build(builder, name, pretrained, width_multiplier=width_multiplier, **kwargs)

    entrypoint.__doc__ = doc
    return entrypoint


MODEL_NAMES = register_family(
    __name__,
    PURPOSES[2],
    "RepDistiller's CIFAR ShuffleNets",
    "HobbitLong/RepDistiller models/ShuffleNetv1.py, ShuffleNetv2.py; our modules (timm has none)",
    {
        "crd_shufflev1": _entrypoint("crd_shufflev1", build_shufflev1, "RepDistiller's ShuffleV1 (g=3) for CIFAR."),
        "crd_shufflev2": _entrypoint("crd_shufflev2", build_shufflev2, "RepDistiller's ShuffleV2 (1x) for CIFAR."),
    },
    {
        name: model_cfg((3, 32, 32), 100, first_conv="stem.0", classifier="fc", pool_size=4)
        for name in ("crd_shufflev1", "crd_shufflev2")
    },
).names
