"""Neuron selectivity transfer: Huang, Wang, "Like What You Like: Knowledge Distill via Neuron Selectivity Transfer",
arXiv:1707.01219 (2017).

Each channel's map of a stage, flattened over the H*W positions and L2-normalised, is one sample f^i of that network's
distribution of neuron selectivity patterns; the squared maximum mean discrepancy between the teacher's C_T patterns
and the student's C_S patterns (their Eq. 4-5) is
    MMD^2 = 1/C_T^2 sum_i sum_i' k(f_T^i, f_T^i') + 1/C_S^2 sum_j sum_j' k(f_S^j, f_S^j')
            - 2/(C_T C_S) sum_i sum_j k(f_S^j, f_T^i),
with the polynomial kernel k(x, y) = (x^T y + c)^d, d = 2, c = 0 (their best, "NST poly"); the total loss is
L = CE + lambda/2 * MMD^2 (their Eq. 6). As the benchmark's code (RepDistiller distiller_zoo/NST.py), the MMD is
averaged over the batch and summed over the transfer points, weighted beta without the 1/2:
    L = gamma * CE + alpha * T^2 * KL(p_t^T || p_s^T) + beta * sum_points mean_b MMD^2.
Defaults: beta = 50 (RepDistiller -b 50, mdistiller FEAT_WEIGHT 50); gamma = 1, alpha = 0; transfer points every
stage but the stem, paired from the deepest (RepDistiller ``feat[1:-1]``). The MMD compares sets of patterns, so the
channel counts may differ; maps of different sizes: the larger is average-pooled to the smaller (as RepDistiller).
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
from cskd.methods.validation import require_non_negative


def selectivity_patterns(feature_map: Tensor) -> Tensor:
    """``[B, C, H*W]``: each channel's map flattened over positions and L2-normalised."""
    return F.normalize(feature_map.float().flatten(2), dim=2)


def mean_polynomial_kernel(a: Tensor, b: Tensor) -> Tensor:
    """``[B]``: mean over every pattern pair (i, j) of (a_i^T b_j)^2."""
    return (a @ b.transpose(1, 2)).pow(2).mean(dim=(1, 2))


def squared_mmd(student_map: Tensor, teacher_map: Tensor) -> Tensor:
    """MMD^2 with the polynomial kernel (d = 2, c = 0), averaged over the batch."""
    student_map, teacher_map = match_spatial(student_map, teacher_map)
    s, t = selectivity_patterns(student_map), selectivity_patterns(teacher_map)
    return (mean_polynomial_kernel(t, t) + mean_polynomial_kernel(s, s) - 2 * mean_polynomial_kernel(s, t)).mean()


@register_method("nst")
class NeuronSelectivity(CombinesWithKD, Method):
    """Neuron selectivity transfer (Huang & Wang, 2017): MMD between the channels' spatial activation patterns."""

    option_help: ClassVar[dict[str, str]] = {
        "nst_weight": "beta: weight of the summed MMD^2; default 50 (RepDistiller -b 50, mdistiller FEAT_WEIGHT 50)",
        "stages": "stages transferred (one index or a list, the same index for both networks, negative counts from "
        "the deepest); default None = every stage but the stem (RepDistiller feat[1:-1])",
        **KD_OPTION_HELP,
    }

    def __init__(
        self,
        student: FeatureSpec,
        teacher: FeatureSpec | None,
        *,
        nst_weight: float = 50.0,
        stages: int | Sequence[int] | None = None,
        ce_weight: float = 1.0,
        kd_weight: float = 0.0,
        temperature: float = 4.0,
    ) -> None:
        super().__init__(student, teacher)
        require_non_negative("nst_weight", nst_weight)
        self.set_kd_options(ce_weight, kd_weight, temperature)
        self.student_indices, self.teacher_indices = pair_stages(
            "stages", stages, student, teacher, default_transfer_points(student, teacher)
        )
        self.nst_weight = nst_weight

    def forward(self, student: Features, teacher: Features | None, labels: Tensor) -> dict[str, Tensor]:
        with full_precision(labels):
            total = sum(
                squared_mmd(student.stages[s], teacher.stages[t].detach())
                for s, t in zip(self.student_indices, self.teacher_indices, strict=True)
            )
        return self.classification_terms(student.logits, teacher.logits, labels) | {"nst": self.nst_weight * total}
