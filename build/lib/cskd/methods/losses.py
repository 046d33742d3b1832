"""Loss functions shared by several methods, all computed in float32 so bf16/fp16 autocast cannot overflow them."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy of the logits against integer labels."""
    return F.cross_entropy(logits.float(), labels)


def soft_target_kl(student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
    """Hinton et al. 2015: ``T^2 * KL(p_t^T || p_s^T)``, p^T = softmax(z / T), summed over classes, batch mean.

    The ``T^2`` factor keeps the gradient scale independent of T (Hinton et al. 2015, Sec. 2).
    """
    log_p_student = F.log_softmax(student_logits.float() / temperature, dim=1)
    log_p_teacher = F.log_softmax(teacher_logits.detach().float() / temperature, dim=1)
    kl = (log_p_teacher.exp() * (log_p_teacher - log_p_student)).sum(dim=1)
    return temperature**2 * kl.mean()


def logit_mse(student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
    """Mean (over samples and classes) squared difference of the logits: the CSKD paper's L_KD (Eq. 10)."""
    return F.mse_loss(student_logits.float(), teacher_logits.detach().float())


def sqrt_with_zero_gradient(squares: Tensor) -> Tensor:
    """``sqrt(x)`` for ``x >= 0`` whose gradient at ``x == 0`` is 0 instead of NaN.

    ``sqrt(sum(d**2))`` back-propagates ``d / 0`` when ``d`` is all zeros; this picks the value 0 and a zero
    gradient there (the same convention as ``torch.linalg.vector_norm``), so a norm of a vanishing difference is safe.
    """
    positive = squares > 0
    safe = torch.where(positive, squares, torch.ones_like(squares))
    return torch.where(positive, safe.sqrt(), torch.zeros_like(squares))


def hinton_terms(
    student_logits: Tensor, teacher_logits: Tensor, labels: Tensor, *, kd_weight: float, temperature: float
) -> dict[str, Tensor]:
    """``{"ce": (1 - w) * CE, "kd": w * T^2 * KL}`` (Hinton et al. 2015); the "kd" term is left out when w = 0."""
    return ce_kd_terms(
        student_logits, teacher_logits, labels, ce_weight=1 - kd_weight, kd_weight=kd_weight, temperature=temperature
    )


def ce_kd_terms(
    student_logits: Tensor,
    teacher_logits: Tensor,
    labels: Tensor,
    *,
    ce_weight: float,
    kd_weight: float,
    temperature: float,
) -> dict[str, Tensor]:
    """``{"ce": gamma * CE, "kd": alpha * T^2 * KL}`` with independent weights (RepDistiller's ``-r gamma -a alpha``);
    the "kd" term is left out when alpha = 0."""
    terms = {"ce": ce_weight * cross_entropy(student_logits, labels)}
    if kd_weight > 0:
        terms["kd"] = kd_weight * soft_target_kl(student_logits, teacher_logits, temperature)
    return terms


def full_precision(reference: Tensor) -> torch.autocast:
    """A region with autocast off on ``reference``'s device, so matrix products in it stay in float32."""
    return torch.autocast(reference.device.type, enabled=False)
