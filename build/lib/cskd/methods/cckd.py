"""Correlation congruence: Peng, Jin, Liu, Li, Wu, Liu, Zhou, Zhang, "Correlation Congruence for Knowledge
Distillation", ICCV 2019 (arXiv:1904.01802).

On the L2-normalised embeddings f_1..f_n of a batch (the pooled pre-logit vectors), the correlation matrix is
psi(F)_ij = k(f_i, f_j) with the Gaussian RBF kernel k(x, y) = exp(-gamma * ||x - y||^2). For unit vectors
||x - y||^2 = 2 - 2 x.y, and Peng et al. approximate the kernel by its P-th order Taylor expansion:
    k(x, y) ~ sum_{p=0..P} exp(-2 gamma) * (2 gamma)^p / p! * (x.y)^p.
The correlation-congruence loss is their Eq. 4, L_CC = 1/n^2 * ||psi(F_t) - psi(F_s)||_2^2 (squared Frobenius norm
of the n x n difference, i.e. the mean squared entry), and the total loss is
    L = alpha * CE + (1 - alpha) * T^2 * KL(p_t^T || p_s^T) + beta * L_CC.
No adapter is needed: the two n x n matrices have the same shape whatever the embedding widths.

Defaults: the CCKD paper's own CIFAR values were not available to this implementation. gamma = 0.4, P = 2 and
beta = 100 (on the mean-squared L_CC) are the CC setting of Knowledge-Distillation-Zoo (github.com/AberHu,
example_train_script.sh: --kd_mode cc --lambda_kd 100 --gamma 0.4 --P_order 2), a common re-implementation whose
objective is CE + 100 * L_CC, with no KL term. Here beta * L_CC is added to Hinton's KD with the ``kd`` method's
defaults (alpha = 0.1 on CE, 1 - alpha = 0.9 on T^2 * KL, T = 4, from RepDistiller), i.e. CCKD = the ``kd`` method
with its default ``form="kl"`` + beta * L_CC. That "KD baseline" is Hinton's form, not the CSKD paper's logit-MSE KD
column (``kd`` with ``form="mse"``); beta = 100 was set by Knowledge-Distillation-Zoo for an objective without the KL
term, so next to it the weight is transplanted, not tuned. Set ``alpha=1`` for Knowledge-Distillation-Zoo's objective.
Departure: Peng et al. also describe a sampling strategy for the mini-batches (class-aware sampling); batches here
are ordinary shuffled batches, as for every method.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch.nn.functional as F
from torch import Tensor

from cskd.features import Features, FeatureSpec
from cskd.methods.base import Method, register_method
from cskd.methods.losses import cross_entropy, full_precision, soft_target_kl
from cskd.methods.validation import require_fraction, require_int_at_least, require_non_negative, require_positive


def taylor_rbf_correlation(embeddings: Tensor, gamma: float, order: int) -> Tensor:
    """The n x n matrix of the order-P Taylor expansion of exp(-gamma ||f_i - f_j||^2) on unit-normalised rows."""
    unit = F.normalize(embeddings.float(), dim=1)
    similarity = unit @ unit.T
    scale = math.exp(-2 * gamma)
    return sum(scale * (2 * gamma) ** p / math.factorial(p) * similarity**p for p in range(order + 1))


@register_method("cckd")
class CorrelationCongruence(Method):
    """CCKD (Peng et al., ICCV 2019): KD plus congruence of the batch's kernel correlation matrices."""

    option_help: ClassVar[dict[str, str]] = {
        "alpha": "CE weight alpha of Peng et al.'s total loss, KD gets 1 - alpha; default 0.1 as the kd method "
        "(RepDistiller)",
        "temperature": "KD temperature T; default 4 as the kd method (RepDistiller --kd_T 4)",
        "beta": "weight of L_CC (Eq. 4, mean squared entry of the correlation difference); default 100 from "
        "Knowledge-Distillation-Zoo's CC script (--lambda_kd 100), whose objective is CE + 100 L_CC without KL "
        "(alpha=1 reproduces it); here it is added to alpha CE + (1 - alpha) T^2 KL",
        "gamma": "RBF kernel parameter gamma of exp(-gamma ||x - y||^2); default 0.4 from Knowledge-Distillation-Zoo",
        "order": "P, order of the Taylor expansion of the RBF kernel (Peng et al.'s generalised kernel); default 2 "
        "from Knowledge-Distillation-Zoo",
    }

    def __init__(
        self,
        student: FeatureSpec,
        teacher: FeatureSpec | None,
        *,
        alpha: float = 0.1,
        temperature: float = 4.0,
        beta: float = 100.0,
        gamma: float = 0.4,
        order: int = 2,
    ) -> None:
        super().__init__(student, teacher)
        require_fraction("alpha", alpha)
        require_positive("temperature", temperature)
        require_non_negative("beta", beta)
        require_positive("gamma", gamma)
        require_int_at_least("order", order, 1)
        self.alpha = alpha
        self.temperature = temperature
        self.beta = beta
        self.gamma = gamma
        self.order = order

    def correlation_loss(self, student_embedding: Tensor, teacher_embedding: Tensor) -> Tensor:
        """L_CC = 1/n^2 * ||psi_t - psi_s||_F^2 (Peng et al. Eq. 4)."""
        with full_precision(student_embedding):
            psi_student = taylor_rbf_correlation(student_embedding, self.gamma, self.order)
            psi_teacher = taylor_rbf_correlation(teacher_embedding.detach(), self.gamma, self.order)
        return (psi_teacher - psi_student).pow(2).mean()

    def forward(self, student: Features, teacher: Features | None, labels: Tensor) -> dict[str, Tensor]:
        return {
            "ce": self.alpha * cross_entropy(student.logits, labels),
            "kd": (1 - self.alpha) * soft_target_kl(student.logits, teacher.logits, self.temperature),
            "cc": self.beta * self.correlation_loss(student.embedding, teacher.embedding),
        }
