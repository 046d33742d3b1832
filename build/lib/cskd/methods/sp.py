"""Similarity-preserving distillation: Tung, Mori, "Similarity-Preserving Knowledge Distillation", ICCV 2019
(arXiv:1907.09682).

For a batch of b samples and a stage map A of shape [b, C, H, W], Q = A reshaped to [b, C*H*W]; the pairwise
similarities G~ = Q Q^T (b x b) are row-normalised, G[i, :] = G~[i, :] / ||G~[i, :]||_2 (their Eq. 1-2), and
    L_SP = 1 / b^2 * sum_(l, l') || G_T^(l) - G_S^(l') ||_F^2                               (their Eq. 3)
over the chosen pairs of layers; the total loss (their Eq. 4) with the benchmark's CE/KD weights is
    L = gamma * CE + alpha * T^2 * KL(p_t^T || p_s^T) + beta * L_SP.
Defaults: the last stage before pooling (RepDistiller's ``feat[-2]``), beta = 3000 (RepDistiller -b 3000,
mdistiller FEAT_WEIGHT 3000); gamma = 1, alpha = 0. The b x b matrices have the same shape whatever the widths and
map sizes, so no adapter is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch.nn.functional as F
from torch import Tensor

from cskd.features import Features, FeatureSpec
from cskd.methods.base import Method, register_method
from cskd.methods.combine import KD_OPTION_HELP, CombinesWithKD
from cskd.methods.losses import full_precision
from cskd.methods.stage_pairs import pair_stages
from cskd.methods.validation import require_non_negative


def similarity_matrix(feature_map: Tensor) -> Tensor:
    """``[b, b]``: G~ = Q Q^T of the flattened maps, each row L2-normalised."""
    flat = feature_map.float().flatten(1)
    return F.normalize(flat @ flat.T, dim=1)


def similarity_loss(student_map: Tensor, teacher_map: Tensor) -> Tensor:
    """``||G_T - G_S||_F^2 / b^2``."""
    batch = student_map.shape[0]
    return (similarity_matrix(teacher_map) - similarity_matrix(student_map)).pow(2).sum() / batch**2


@register_method("sp")
class SimilarityPreserving(CombinesWithKD, Method):
    """Similarity-preserving KD (Tung & Mori, ICCV 2019): match the batch's normalised pairwise similarities."""

    option_help: ClassVar[dict[str, str]] = {
        "sp_weight": "beta: weight of L_SP; default 3000 (RepDistiller -b 3000, mdistiller FEAT_WEIGHT 3000)",
        "stages": "stage(s) compared (one index or a list, negative counts from the deepest); default -1 = the last "
        "stage before pooling (RepDistiller feat[-2])",
        **KD_OPTION_HELP,
    }

    def __init__(
        self,
        student: FeatureSpec,
        teacher: FeatureSpec | None,
        *,
        sp_weight: float = 3000.0,
        stages: int | Sequence[int] = -1,
        ce_weight: float = 1.0,
        kd_weight: float = 0.0,
        temperature: float = 4.0,
    ) -> None:
        super().__init__(student, teacher)
        require_non_negative("sp_weight", sp_weight)
        self.set_kd_options(ce_weight, kd_weight, temperature)
        self.student_indices, self.teacher_indices = pair_stages("stages", stages, student, teacher, (-1,))
        self.sp_weight = sp_weight

    def forward(self, student: Features, teacher: Features | None, labels: Tensor) -> dict[str, Tensor]:
        with full_precision(labels):
            total = sum(
                similarity_loss(student.stages[s], teacher.stages[t].detach())
                for s, t in zip(self.student_indices, self.teacher_indices, strict=True)
            )
        return self.classification_terms(student.logits, teacher.logits, labels) | {"sp": self.sp_weight * total}
