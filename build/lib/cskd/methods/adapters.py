"""Student-side adapters built from FeatureSpecs, and the spatial matching of a student map to a teacher map.

Adapters map channels only (1x1 convolutions), so any teacher/student pair works. When the two maps of a pair have
different spatial sizes, the larger one is average-pooled (``adaptive_avg_pool2d``) to the smaller size, per axis,
before the comparison; the student map is pooled before its adapter (a 1x1 convolution commutes with average pooling).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def conv1x1(in_channels: int, out_channels: int, *, bias: bool = False, batch_norm: bool = False) -> nn.Module:
    """A 1x1 convolution ``in_channels -> out_channels`` (optionally followed by BatchNorm).

    Weights use He-normal initialisation with fan-out (std sqrt(2 / out_channels)), as the AB and CSKD authors' code;
    BatchNorm starts at weight 1, bias 0.
    """
    conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=bias)
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    if bias:
        nn.init.zeros_(conv.bias)
    if not batch_norm:
        return conv
    return nn.Sequential(conv, nn.BatchNorm2d(out_channels))


def match_spatial(student_map: Tensor, teacher_map: Tensor) -> tuple[Tensor, Tensor]:
    """Both maps at the smaller of their heights and of their widths (average pooling of the larger)."""
    size = (min(student_map.shape[-2], teacher_map.shape[-2]), min(student_map.shape[-1], teacher_map.shape[-1]))
    if tuple(student_map.shape[-2:]) != size:
        student_map = F.adaptive_avg_pool2d(student_map, size)
    if tuple(teacher_map.shape[-2:]) != size:
        teacher_map = F.adaptive_avg_pool2d(teacher_map, size)
    return student_map, teacher_map
