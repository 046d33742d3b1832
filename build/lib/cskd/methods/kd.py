"""Knowledge distillation from the teacher's logits: Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural
Network" (NIPS 2014 Deep Learning Workshop, arXiv:1503.02531, 2015).

``form="kl"`` (Hinton et al. 2015, Sec. 2):
    L = (1 - w) * CE(z_s, y) + w * T^2 * KL(softmax(z_t / T) || softmax(z_s / T))
``form="mse"`` (the "KD" baseline of the CSKD paper, Chen et al. ECCV 2020, Eq. 10 without L_CS):
    L = (1 - w) * CE(z_s, y) + w * mean((z_s - z_t)^2)
With the default w = 0.9 the mse form is exactly CSKD's alpha * CE + (1 - alpha) * MSE at alpha = 0.1, i.e. the
``cskd`` method with ``intra=False, inter=False`` (Table 4's "neither" row equals Table 3's KD row).

Defaults: Hinton et al. give no CIFAR values (they only advise a low weight on the hard-label term); T = 4 and
w = 0.9 are the KD setting of RepDistiller (Tian et al., ICLR 2020, scripts/run_cifar_distill.sh: -r 0.1 -a 0.9,
--kd_T 4), a common re-implementation, not the original paper.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from torch import Tensor

from cskd.features import Features, FeatureSpec
from cskd.methods.base import Method, register_method
from cskd.methods.losses import cross_entropy, logit_mse, soft_target_kl
from cskd.methods.validation import require_choice, require_fraction, require_positive

KD_FORMS = ("kl", "mse")


@register_method("kd")
class KnowledgeDistillation(Method):
    """Hinton et al. 2015 soft-target distillation, or the CSKD paper's logit-MSE KD baseline (``form="mse"``)."""

    option_help: ClassVar[dict[str, str]] = {
        "temperature": "softmax temperature T of the kl form (unused by mse); default 4 from RepDistiller "
        "(--kd_T 4), Hinton et al. 2015 give no CIFAR value",
        "kd_weight": "w: weight of the distillation term, CE gets 1 - w; default 0.9 from RepDistiller "
        "(-r 0.1 -a 0.9), equal to CSKD Eq. 10's 1 - alpha with alpha = 0.1",
        "form": "'kl' = Hinton et al. 2015 T^2 * KL of softened outputs; 'mse' = mean squared logit difference, "
        "the CSKD paper's KD baseline (Eq. 10, Table 4 'neither' row)",
    }

    def __init__(
        self,
        student: FeatureSpec,
        teacher: FeatureSpec | None,
        *,
        temperature: float = 4.0,
        kd_weight: float = 0.9,
        form: Literal["kl", "mse"] = "kl",
    ) -> None:
        super().__init__(student, teacher)
        require_positive("temperature", temperature)
        require_fraction("kd_weight", kd_weight)
        require_choice("form", form, KD_FORMS)
        self.temperature = temperature
        self.kd_weight = kd_weight
        self.form = form

    def forward(self, student: Features, teacher: Features | None, labels: Tensor) -> dict[str, Tensor]:
        if self.form == "kl":
            distill = soft_target_kl(student.logits, teacher.logits, self.temperature)
        else:
            distill = logit_mse(student.logits, teacher.logits)
        return {
            "ce": (1 - self.kd_weight) * cross_entropy(student.logits, labels),
            "kd": self.kd_weight * distill,
        }
