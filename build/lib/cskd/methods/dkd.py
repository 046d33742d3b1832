"""Decoupled knowledge distillation: Zhao, Cui, Song, Qiu, Liang, "Decoupled Knowledge Distillation", CVPR 2022
(arXiv:2203.08679).

With p = softmax(z / T) over the K classes and t the ground-truth class of a sample, the binary probabilities
b = [p_t, 1 - p_t] (target vs every other class) and the distribution p^ = softmax over the K - 1 non-target classes
alone, their Eq. 1 rewrites classical KD as KD = TCKD + (1 - p_t^T) NCKD, with
    TCKD = KL(b^T || b^S)        (target-class knowledge),
    NCKD = KL(p^^T || p^^S)      (non-target-class knowledge),
and DKD (their Eq. 2) weighs the two parts independently:
    DKD = alpha * TCKD + beta * NCKD.
As the authors' code (mdistiller, distillers/DKD.py): both KLs are scaled by T^2 and averaged over the batch, and the
DKD term is ramped up linearly over the first ``warmup`` epochs,
    L = gamma * CE + min(e / warmup, 1) * T^2 * (alpha * TCKD + beta * NCKD),   e the 1-based main epoch.
(mdistiller removes the target class from p^ by subtracting 1000 from its logit; here it is dropped exactly.)
Defaults (mdistiller configs/cifar100/dkd and engine/cfg.py): alpha = 1, beta = 8, T = 4, warmup 20 epochs,
gamma = 1. mdistiller tunes beta per pair: 8 for resnet32x4 -> resnet8x4, ResNet50 -> MobileNetV2 and the ShuffleNet
students; 6 for vgg13 -> vgg8, vgg13 -> MobileNetV2, wrn_40_2 -> wrn_16_2 and wrn_40_2 -> wrn_40_1; 2 for
resnet56 -> resnet20 and resnet110 -> resnet32. The warm-up reads the epoch the engine sets with ``begin_epoch``.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from cskd.features import Features, FeatureSpec
from cskd.methods.base import Method, register_method
from cskd.methods.losses import cross_entropy, full_precision
from cskd.methods.validation import require_int_at_least, require_non_negative, require_positive


def decoupled_terms(
    student_logits: Tensor, teacher_logits: Tensor, labels: Tensor, temperature: float
) -> tuple[Tensor, Tensor]:
    """``(TCKD, NCKD)``, each ``T^2 *`` the batch mean of its KL (teacher || student)."""
    target = F.one_hot(labels, student_logits.shape[1]).bool()

    def binary_and_rest(logits: Tensor) -> tuple[Tensor, Tensor]:
        """log [p_t, 1 - p_t] ``[B, 2]`` and log p^ over the non-target classes ``[B, K - 1]``."""
        scaled = logits.float() / temperature
        log_p = F.log_softmax(scaled, dim=1)
        rest = scaled[~target].view(scaled.shape[0], -1)
        log_target = log_p[target]
        log_others = torch.logsumexp(rest, dim=1) - torch.logsumexp(scaled, dim=1)
        return torch.stack([log_target, log_others], dim=1), F.log_softmax(rest, dim=1)

    student_binary, student_rest = binary_and_rest(student_logits)
    teacher_binary, teacher_rest = binary_and_rest(teacher_logits.detach())

    def kl(log_p: Tensor, log_q: Tensor) -> Tensor:
        return (log_p.exp() * (log_p - log_q)).sum(dim=1).mean()

    scale = temperature**2
    return scale * kl(teacher_binary, student_binary), scale * kl(teacher_rest, student_rest)


@register_method("dkd")
class DecoupledKD(Method):
    """Decoupled KD (Zhao et al., CVPR 2022): target-class and non-target-class KD weighted separately."""

    option_help: ClassVar[dict[str, str]] = {
        "alpha": "weight of TCKD; default 1 (mdistiller DKD.ALPHA)",
        "beta": "weight of NCKD; default 8 (mdistiller DKD.BETA; its configs use 6 or 2 for some pairs, see the "
        "module docstring)",
        "temperature": "T; default 4 (mdistiller DKD.T)",
        "warmup": "epochs over which the DKD term ramps up linearly, min(epoch / warmup, 1); default 20 "
        "(mdistiller DKD.WARMUP)",
        "ce_weight": "gamma: weight of the cross-entropy; default 1 (mdistiller DKD.CE_WEIGHT)",
    }

    def __init__(
        self,
        student: FeatureSpec,
        teacher: FeatureSpec | None,
        *,
        alpha: float = 1.0,
        beta: float = 8.0,
        temperature: float = 4.0,
        warmup: int = 20,
        ce_weight: float = 1.0,
    ) -> None:
        super().__init__(student, teacher)
        require_non_negative("alpha", alpha)
        require_non_negative("beta", beta)
        require_positive("temperature", temperature)
        require_int_at_least("warmup", warmup, 1)
        require_non_negative("ce_weight", ce_weight)
        self.alpha = alpha
        self.beta = beta
        self.temperature = temperature
        self.warmup = warmup
        self.ce_weight = ce_weight

    def warmup_factor(self) -> float:
        """min(e / warmup, 1) for the current 1-based epoch e."""
        return min(self.current_epoch() / self.warmup, 1.0)

    def forward(self, student: Features, teacher: Features | None, labels: Tensor) -> dict[str, Tensor]:
        ramp = self.warmup_factor()
        with full_precision(labels):
            tckd, nckd = decoupled_terms(student.logits, teacher.logits, labels, self.temperature)
        return {
            "ce": self.ce_weight * cross_entropy(student.logits, labels),
            "tckd": ramp * self.alpha * tckd,
            "nckd": ramp * self.beta * nckd,
        }
