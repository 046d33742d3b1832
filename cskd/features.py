"""What a model exposes to a distillation method, and its static shape description.

Every method sees a model only through :class:`Features`: the outputs of the model's stages (feature maps: the stem,
then each stage), the pooled embedding before the classifier, and the logits, all from a single forward pass. They
are produced by :func:`cskd.models.extraction.extract_features`, which works for any timm model with
``forward_intermediates``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the planning commands read FeatureSpec without importing torch
    from torch import Tensor


@dataclass
class Features:
    """One forward pass of a model.

    stages: stage outputs, shallow to deep, each ``[B, C_i, H_i, W_i]`` (after the stage's final activation, if it
        has one: MobileNetV2's linear bottlenecks and the pre-activation wide ResNets' residual sums have none).
    embedding: the pooled pre-logit vector ``[B, D]``.
    logits: the classifier output ``[B, K]``.
    pre_relu: each stage's map before its ReLU, only when asked for (AB needs them); the rules per architecture are
        in :mod:`cskd.models.extraction`.
    """

    stages: list[Tensor]
    embedding: Tensor
    logits: Tensor
    pre_relu: list[Tensor] | None = None


@dataclass(frozen=True)
class FeatureSpec:
    """Shapes of a model's :class:`Features` for one input size, found by a dummy forward.

    Methods build their adapters from it, so any teacher/student pair works.
    """

    stage_channels: tuple[int, ...]
    stage_sizes: tuple[tuple[int, int], ...]
    embedding_dim: int
    num_classes: int

    @property
    def num_stages(self) -> int:
        return len(self.stage_channels)
