"""How the benchmark's feature and relation methods combine with cross-entropy and KD.

RepDistiller (Tian et al., ICLR 2020, train_student.py) trains every method with one total loss,
    L = gamma * CE(z_s, y) + alpha * T^2 * KL(p_t^T || p_s^T) + beta * L_method,
set by ``-r gamma -a alpha -b beta --kd_T T``; its scripts/run_cifar_distill.sh runs each method alone (``-r 1 -a 0``)
and CRD also with KD ("CRD+KD": ``-a 1``). Here ``ce_weight`` is gamma, ``kd_weight`` alpha, ``temperature`` T and each
method's own weight beta; a "+KD" variant is the same method with ``kd_weight: 1`` (no copy of the method).
"""

from __future__ import annotations

from torch import Tensor

from cskd.methods.losses import ce_kd_terms
from cskd.methods.validation import require_non_negative, require_positive

#: help lines of the three options every RepDistiller-style method takes
KD_OPTION_HELP: dict[str, str] = {
    "ce_weight": "gamma: weight of the cross-entropy on the labels; default 1 (RepDistiller -r 1, mdistiller "
    "CE_WEIGHT 1.0)",
    "kd_weight": "alpha: weight of Hinton's T^2 KL on the teacher's logits; default 0 = the method alone "
    "(RepDistiller's scripts -a 0); 1 = its '+KD' variant (CRD+KD: -a 1)",
    "temperature": "T of the KD term (used when kd_weight > 0); default 4 (RepDistiller --kd_T 4)",
}


def check_kd_options(ce_weight: float, kd_weight: float, temperature: float) -> None:
    require_non_negative("ce_weight", ce_weight)
    require_non_negative("kd_weight", kd_weight)
    require_positive("temperature", temperature)


class CombinesWithKD:
    """Mixin of the ``ce_weight``/``kd_weight``/``temperature`` options: ``classification_terms`` gives the CE and KD
    terms of RepDistiller's total loss."""

    ce_weight: float
    kd_weight: float
    temperature: float

    def set_kd_options(self, ce_weight: float, kd_weight: float, temperature: float) -> None:
        check_kd_options(ce_weight, kd_weight, temperature)
        self.ce_weight, self.kd_weight, self.temperature = ce_weight, kd_weight, temperature

    def classification_terms(self, student_logits: Tensor, teacher_logits: Tensor, labels: Tensor) -> dict[str, Tensor]:
        """``{"ce": gamma * CE, "kd": alpha * T^2 * KL}`` (the "kd" term only when alpha > 0)."""
        return ce_kd_terms(
            student_logits,
            teacher_logits,
            labels,
            ce_weight=self.ce_weight,
            kd_weight=self.kd_weight,
            temperature=self.temperature,
        )
