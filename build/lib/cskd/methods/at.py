"""Attention transfer: Zagoruyko, Komodakis, "Paying More Attention to Attention: Improving the Performance of
Convolutional Neural Networks via Attention Transfer", ICLR 2017 (arXiv:1612.03928).

Activation-based spatial attention of a stage map A with C channels (their Sec. 3.1, F^p_sum):
    Q(A) = sum_c |A_c|^p        (one value per spatial position),
and the transfer loss of their Eq. 2 over the chosen pairs j of student/teacher stages:
    L = CE + beta / 2 * sum_j || Q_S^j / ||Q_S^j||_2 - Q_T^j / ||Q_T^j||_2 ||_p.
As the benchmark's code (RepDistiller distiller_zoo/AT.py, which follows the authors' code), the attention is the
channel *mean* of A^p (the 1/C cancels in the normalisation) and the distance is the mean, over samples and
positions, of the squared difference of the normalised maps; with q = Q / ||Q||_2,
    L = gamma * CE + alpha * T^2 * KL(p_t^T || p_s^T) + beta * sum_j mean_{b, hw} (q_S^j - q_T^j)^2.
Defaults: p = 2 (Zagoruyko & Komodakis); beta = 1000 (RepDistiller -b 1000, mdistiller FEAT_WEIGHT 1000; the authors'
code uses beta / 2 with beta = 1000 on the same mean); gamma = 1, alpha = 0 (RepDistiller's script). Transfer points:
every stage but the stem, paired from the deepest (RepDistiller's ``feat[1:-1]``, the output of each group of
blocks). When two paired maps differ in size, the larger is average-pooled to the smaller (as RepDistiller).
No adapter: attention maps have no channel axis, so any pair of widths works.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch.nn.functional as F
from torch import Tensor

from cskd.features import Features, FeatureSpec
from cskd.methods.adapters import match_spatial
from cskd.methods.base import Method, register_method
from cskd.methods.combine import KD_OPTION_HELP, CombinesWithKD
from cskd.methods.losses import full_precision
from cskd.methods.stage_pairs import default_transfer_points, pair_stages
from cskd.methods.validation import require_non_negative, require_positive


def attention_map(feature_map: Tensor, p: float) -> Tensor:
    """``[B, H*W]``: the channel mean of ``|A|^p`` at each position, L2-normalised per sample."""
    return F.normalize(feature_map.float().abs().pow(p).mean(dim=1).flatten(1), dim=1)


def attention_loss(student_map: Tensor, teacher_map: Tensor, p: float) -> Tensor:
    """``mean_{b, hw} (q_S - q_T)^2`` after pooling the larger map to the smaller size."""
    student_map, teacher_map = match_spatial(student_map, teacher_map)
    return (attention_map(student_map, p) - attention_map(teacher_map, p)).pow(2).mean()


@register_method("at")
class AttentionTransfer(CombinesWithKD, Method):
    """Attention transfer (Zagoruyko & Komodakis, ICLR 2017): match the normalised spatial attention maps."""

    option_help: ClassVar[dict[str, str]] = {
        "at_weight": "beta: weight of the summed attention losses; default 1000 (RepDistiller -b 1000, mdistiller "
        "FEAT_WEIGHT 1000)",
        "p": "exponent p of the attention map mean_c |A_c|^p; default 2 (Zagoruyko & Komodakis)",
        "stages": "stages compared (one index or a list, the same index for both networks, negative counts from the "
        "deepest); default None = every stage but the stem (RepDistiller feat[1:-1])",
        **KD_OPTION_HELP,
    }

    def __init__(
        self,
        student: FeatureSpec,
        teacher: FeatureSpec | None,
        *,
        at_weight: float = 1000.0,
        p: float = 2.0,
        stages: int | Sequence[int] | None = None,
        ce_weight: float = 1.0,
        kd_weight: float = 0.0,
        temperature: float = 4.0,
    ) -> None:
        super().__init__(student, teacher)
        require_non_negative("at_weight", at_weight)
        require_positive("p", p)
        self.set_kd_options(ce_weight, kd_weight, temperature)
        self.student_indices, self.teacher_indices = pair_stages(
            "stages", stages, student, teacher, default_transfer_points(student, teacher)
        )
        self.at_weight = at_weight
        self.p = p

    def forward(self, student: Features, teacher: Features | None, labels: Tensor) -> dict[str, Tensor]:
        with full_precision(labels):
            total = sum(
                attention_loss(student.stages[s], teacher.stages[t].detach(), self.p)
                for s, t in zip(self.student_indices, self.teacher_indices, strict=True)
            )
        return self.classification_terms(student.logits, teacher.logits, labels) | {"at": self.at_weight * total}
