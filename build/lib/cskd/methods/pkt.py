"""Probabilistic knowledge transfer: Passalis, Tefas, "Learning Deep Representations with Probabilistic Knowledge
Transfer", ECCV 2018 (arXiv:1803.10837).

With the cosine-similarity kernel K(a, b) = 1/2 (a^T b / (||a||_2 ||b||_2) + 1), the conditional probabilities of the
batch's embeddings (their Eq. 10-11) are
    p_{j|i} = K(t_i, t_j) / sum_k K(t_i, t_k)       (teacher),     q_{j|i} likewise on the student's,
and the transfer loss is the divergence of the two (their Eq. 12),
    L_PKT = sum_i sum_j p_{j|i} log(p_{j|i} / q_{j|i}).
As the benchmark's code (RepDistiller distiller_zoo/PKT.py, taken from the authors' code): the sums run over every j,
the sample itself included (K(t_i, t_i) = 1), each vector is divided by (its norm + eps), the logarithm is of
(p + eps) / (q + eps) with eps = 1e-7, and the double sum is a mean over the b^2 entries,
    L = gamma * CE + alpha * T^2 * KL(p_t^T || p_s^T) + beta/b^2 * sum_ij p_{j|i} log((p_{j|i} + eps) / (q_{j|i} + eps))
Defaults: the pooled pre-logit embedding (RepDistiller ``feat[-1]``), beta = 30000 (RepDistiller -b 30000, mdistiller
FEAT_WEIGHT 30000); gamma = 1, alpha = 0. No adapter: the b x b probabilities do not depend on the widths.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from cskd.features import Features, FeatureSpec
from cskd.methods.base import Method, register_method
from cskd.methods.combine import KD_OPTION_HELP, CombinesWithKD
from cskd.methods.losses import full_precision
from cskd.methods.validation import require_non_negative

#: RepDistiller's (and the authors') epsilon in the normalisation and the logarithm
PKT_EPS = 1e-7


def conditional_probabilities(embedding: Tensor) -> Tensor:
    """``[b, b]``: row i holds p_{j|i} of the cosine kernel, the sample itself included."""
    unit = embedding / (embedding.norm(dim=1, keepdim=True) + PKT_EPS)
    kernel = (unit @ unit.T + 1) / 2
    return kernel / kernel.sum(dim=1, keepdim=True)


def pkt_loss(student_embedding: Tensor, teacher_embedding: Tensor) -> Tensor:
    student = conditional_probabilities(student_embedding.float().flatten(1))
    teacher = conditional_probabilities(teacher_embedding.detach().float().flatten(1))
    return (teacher * torch.log((teacher + PKT_EPS) / (student + PKT_EPS))).mean()


@register_method("pkt")
class ProbabilisticKT(CombinesWithKD, Method):
    """Probabilistic knowledge transfer (Passalis & Tefas, ECCV 2018): match the batch's kernel probabilities."""

    option_help: ClassVar[dict[str, str]] = {
        "pkt_weight": "beta: weight of L_PKT; default 30000 (RepDistiller -b 30000, mdistiller FEAT_WEIGHT 30000)",
        **KD_OPTION_HELP,
    }

    def __init__(
        self,
        student: FeatureSpec,
        teacher: FeatureSpec | None,
        *,
        pkt_weight: float = 30000.0,
        ce_weight: float = 1.0,
        kd_weight: float = 0.0,
        temperature: float = 4.0,
    ) -> None:
        super().__init__(student, teacher)
        require_non_negative("pkt_weight", pkt_weight)
        self.set_kd_options(ce_weight, kd_weight, temperature)
        self.pkt_weight = pkt_weight

    def forward(self, student: Features, teacher: Features | None, labels: Tensor) -> dict[str, Tensor]:
        with full_precision(labels):
            loss = pkt_loss(student.embedding, teacher.embedding)
        return self.classification_terms(student.logits, teacher.logits, labels) | {"pkt": self.pkt_weight * loss}
