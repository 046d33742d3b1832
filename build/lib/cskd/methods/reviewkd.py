"""Knowledge review: Chen, Liu, Zhao, Jia, "Distilling Knowledge via Knowledge Review", CVPR 2021 (arXiv:2104.09044).

The student's levels F_S^1..F_S^n (shallow to deep) are fused from the deepest down by attention-based fusion (ABF)
modules, so each level's output "reviews" the deeper ones (their Sec. 3.3-3.4, residual learning framework):
    R_n = c1_n(F_S^n),                 Y_n = c2_n(R_n),
    R_i = a_i * c1_i(F_S^i) + b_i * up(R_{i+1}),   [a_i, b_i] = sigmoid(att_i([c1_i(F_S^i), up(R_{i+1})])),
    Y_i = c2_i(R_i)   (R_i brought to the teacher level's size before c2_i),
with c1 a 1x1 convolution + BatchNorm to ``mid`` channels, c2 a 3x3 convolution + BatchNorm to the teacher level's
channels, att a 1x1 convolution to two maps, up a nearest-neighbour resize. Each Y_i is compared with the teacher's
level F_T^i by the hierarchical context loss (HCL, their Sec. 3.5): the mean squared error at full size plus the mean
squared errors after average pooling to 4x4, 2x2 and 1x1 (the sizes smaller than the map), weighted 1, 1/2, 1/4, 1/8
and divided by the sum of the weights used. Total loss (their Eq. 7 with the authors' warm-up):
    L = gamma * CE + alpha * T^2 * KL(p_t^T || p_s^T) + lambda * min(e / warmup, 1) * sum_i HCL(Y_i, F_T^i).
Levels (as the authors' code, CIFAR-100/train.py and model/reviewkd.py): every stage but the stem, then the pooled
embedding as a 1x1 map, paired from the deepest; the teacher's stage maps are taken *before* their final ReLU
(``teacher_pre_relu``; the student's after it); mid = min(512, the student embedding's width); conv weights start
Kaiming-uniform with a = 1.
Defaults: lambda = 5 (the authors' reviewKD.sh for wrn_40_2 -> wrn_16_2 / wrn_40_1 / ShuffleV1 and resnet32x4 ->
resnet8x4 / ShuffleV1, and mdistiller's CIFAR-100 config; the script uses 8 for resnet32x4 -> ShuffleV2, 0.6 for
resnet56 -> resnet20, 1 for resnet110 -> resnet32), warm-up 20 epochs with the 1-based epoch e (mdistiller; the
authors' loop counts from 0, so their first epoch has no review term), gamma = 1, alpha = 0 (the authors' --use-kl is
off by default; T = 4 when on). The warm-up reads the epoch the engine sets with ``begin_epoch``.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cskd.features import Features, FeatureSpec
from cskd.methods.base import Method, register_method
from cskd.methods.combine import KD_OPTION_HELP, CombinesWithKD
from cskd.methods.losses import full_precision
from cskd.methods.stage_pairs import pre_relu_maps
from cskd.methods.validation import require_int_at_least, require_non_negative

#: the pooled sizes of the hierarchical context loss, and the widest ABF
HCL_LEVELS = (4, 2, 1)
MAX_MID_CHANNELS = 512


def hcl_loss(student_map: Tensor, teacher_map: Tensor) -> Tensor:
    """Hierarchical context loss of one level (equal spatial sizes)."""
    loss = F.mse_loss(student_map, teacher_map)
    weight, total = 1.0, 1.0
    for size in HCL_LEVELS:
        if size >= min(student_map.shape[-2:]):
            continue
        weight /= 2
        pooled = F.mse_loss(F.adaptive_avg_pool2d(student_map, size), F.adaptive_avg_pool2d(teacher_map, size))
        loss = loss + weight * pooled
        total += weight
    return loss / total


class AttentionFusion(nn.Module):
    """One ABF: c1 (1x1 conv + BN), optional fusion with the deeper residual, c2 (3x3 conv + BN)."""

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int, fuse: bool) -> None:
        super().__init__()
        self.reduce = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, kernel_size=1, bias=False), nn.BatchNorm2d(mid_channels)
        )
        self.output = nn.Sequential(
            nn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(out_channels)
        )
        self.attention = nn.Sequential(nn.Conv2d(2 * mid_channels, 2, kernel_size=1), nn.Sigmoid()) if fuse else None
        nn.init.kaiming_uniform_(self.reduce[0].weight, a=1)
        nn.init.kaiming_uniform_(self.output[0].weight, a=1)

    def forward(self, student_map: Tensor, residual: Tensor | None, out_size: tuple[int, int]) -> tuple[Tensor, Tensor]:
        """``(Y, R)``: the level's output at ``out_size`` and the residual handed to the next shallower level."""
        x = self.reduce(student_map)
        if self.attention is not None:
            deeper = F.interpolate(residual, size=x.shape[-2:], mode="nearest")
            weights = self.attention(torch.cat([x, deeper], dim=1))
            x = x * weights[:, :1] + deeper * weights[:, 1:]
        if tuple(x.shape[-2:]) != tuple(out_size):
            x = F.interpolate(x, size=out_size, mode="nearest")
        return self.output(x), x


@register_method("reviewkd")
class ReviewKD(CombinesWithKD, Method):
    """Knowledge review (Chen et al., CVPR 2021): fused student levels regress the teacher's levels."""

    option_help: ClassVar[dict[str, str]] = {
        "review_weight": "lambda: weight of the summed HCL losses; default 5 (the authors' reviewKD.sh for most "
        "pairs, mdistiller's CIFAR-100 config)",
        "warmup": "epochs over which the review term ramps up, min(epoch / warmup, 1); default 20 (the authors' "
        "--kd-warm-up, mdistiller WARMUP_EPOCHS)",
        "teacher_pre_relu": "compare with the teacher's stage maps before their final ReLU (the authors' "
        "preact=True, default true); false = after it (for teachers whose stages do not end in a ReLU)",
        **KD_OPTION_HELP,
    }

    def __init__(
        self,
        student: FeatureSpec,
        teacher: FeatureSpec | None,
        *,
        review_weight: float = 5.0,
        warmup: int = 20,
        teacher_pre_relu: bool = True,
        ce_weight: float = 1.0,
        kd_weight: float = 0.0,
        temperature: float = 4.0,
    ) -> None:
        super().__init__(student, teacher)
        require_non_negative("review_weight", review_weight)
        require_int_at_least("warmup", warmup, 1)
        self.set_kd_options(ce_weight, kd_weight, temperature)
        self.teacher_pre_relu = bool(teacher_pre_relu)
        levels = min(student.num_stages, teacher.num_stages)  # every stage but the stem, plus the embedding
        self.student_indices = list(range(student.num_stages - levels + 1, student.num_stages))
        self.teacher_indices = list(range(teacher.num_stages - levels + 1, teacher.num_stages))
        student_channels = [student.stage_channels[i] for i in self.student_indices] + [student.embedding_dim]
        teacher_channels = [teacher.stage_channels[i] for i in self.teacher_indices] + [teacher.embedding_dim]
        self.teacher_sizes = [teacher.stage_sizes[i] for i in self.teacher_indices] + [(1, 1)]
        mid = min(MAX_MID_CHANNELS, student.embedding_dim)
        deepest = len(student_channels) - 1
        #: shallow to deep, as the levels
        self.fusions = nn.ModuleList(
            AttentionFusion(c_s, mid, c_t, fuse=k < deepest)
            for k, (c_s, c_t) in enumerate(zip(student_channels, teacher_channels, strict=True))
        )
        self.review_weight = review_weight
        self.warmup = warmup

    def reviewed(self, student: Features) -> list[Tensor]:
        """Y_1..Y_n (shallow to deep), each at its teacher level's size."""
        levels = [student.stages[i].float() for i in self.student_indices]
        levels.append(student.embedding.float()[:, :, None, None])
        outputs: list[Tensor] = [None] * len(levels)
        residual = None
        for k in reversed(range(len(levels))):
            outputs[k], residual = self.fusions[k](levels[k], residual, self.teacher_sizes[k])
        return outputs

    def teacher_levels(self, teacher: Features) -> list[Tensor]:
        maps = pre_relu_maps(teacher, "teacher", self.name) if self.teacher_pre_relu else teacher.stages
        embedding = teacher.embedding[:, :, None, None]
        return [maps[i].detach().float() for i in self.teacher_indices] + [embedding.detach().float()]

    def forward(self, student: Features, teacher: Features | None, labels: Tensor) -> dict[str, Tensor]:
        ramp = min(self.current_epoch() / self.warmup, 1.0)
        with full_precision(labels):
            total = sum(
                hcl_loss(y, t) for y, t in zip(self.reviewed(student), self.teacher_levels(teacher), strict=True)
            )
        return self.classification_terms(student.logits, teacher.logits, labels) | {
            "review": self.review_weight * ramp * total
        }
