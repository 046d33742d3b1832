"""Activation-boundary transfer: Heo, Lee, Yun, Choi, "Knowledge Transfer via Distillation of Activation Boundaries
Formed by Hidden Neurons", AAAI 2019 (arXiv:1811.03233).

At each transfer point l (a residual stage output taken *before* its final ReLU), with T the teacher's pre-ReLU map,
S the student's and r_l a connector (1x1 convolution + BatchNorm, as in the paper), the piecewise-differentiable
(squared-hinge) alternative loss of Heo et al. is, element-wise with rho(T) = 1[T > 0] and margin mu,
    a_l = rho(T) * max(0, mu - r_l(S))^2 + (1 - rho(T)) * max(0, mu + r_l(S))^2,
summed over channels and positions and averaged over the batch. The initialisation-stage loss is
    L_AB = ab_weight * sum_l 2^-(L-1-l) * (1/B) * sum a_l,
the deepest transfer point weighted 1 and each shallower one half the next, as the authors' code
(github.com/bhheo/AB_distillation, cifar10_AB_distillation.py: per-point weights 1, 1/2, 1/4, then ``/ 1000 * 3``,
hence ab_weight = 3e-3). Training (Heo et al.): ``init_epochs`` epochs minimising L_AB alone (student and
connectors), then main training with (1 - w) * CE + w * T^2 * KL, w = 0 by default (CE only; the CSKD paper does
not say what its AB rows used after the initialisation, the authors' script trains on KD alone at T = 3 instead).

Departures: transfer points are the stage outputs the models expose (``Features.pre_relu``), by default every stage
but the first, which in timm's feature lists is the stem (the authors transfer at the end of each of the three
groups of their WRNs; here the four residual stages of the ResNets); maps of different sizes are matched by
average pooling the larger; the initialisation length (30 epochs) is RepDistiller's ``--init_epochs``, since the
authors' published script leaves a placeholder value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from torch import Tensor, nn

from cskd.features import Features, FeatureSpec
from cskd.methods.adapters import conv1x1, match_spatial
from cskd.methods.base import Method, register_method
from cskd.methods.losses import hinton_terms
from cskd.methods.stage_pairs import default_transfer_points, pair_stages, pre_relu_maps
from cskd.methods.validation import require_fraction, require_int_at_least, require_positive


def activation_boundary_loss(connected_student: Tensor, teacher_pre_relu: Tensor, margin: float) -> Tensor:
    """Heo et al.'s alternative (squared-hinge) loss, summed over channels and positions, averaged over the batch."""
    student = connected_student.float()
    active = teacher_pre_relu.float() > 0
    hinge = (margin - student).clamp_min(0).where(active, (margin + student).clamp_min(0))
    return hinge.pow(2).sum() / student.shape[0]


@register_method("ab")
class ActivationBoundaries(Method):
    """Activation-boundary distillation (Heo et al., AAAI 2019): initialise the student on the teacher's boundaries."""

    student_pre_relu = True
    teacher_pre_relu = True
    option_help: ClassVar[dict[str, str]] = {
        "margin": "mu of the squared-hinge alternative loss (Heo et al.); default 1.0 from the authors' code",
        "stages": "stages whose pre-ReLU outputs are transferred (one index or a list, same index for both "
        "networks); default None = every stage but the first (the stem), as the authors transfer at the end of "
        "every group of residual blocks",
        "init_epochs": "epochs of the initialisation stage on the AB loss alone (Heo et al.'s initialisation); "
        "default 30 = RepDistiller's --init_epochs (the authors' script leaves a placeholder)",
        "ab_weight": "scale of the AB loss; default 3e-3 = the authors' code's '/ 1000 * 3' on the per-sample sum",
        "kd_weight": "w: KD weight of main training, CE gets 1 - w; default 0 (CE only, Heo et al.'s plain "
        "initialise-then-train setting)",
        "temperature": "KD temperature when kd_weight > 0; default 3 from the authors' code",
    }

    def __init__(
        self,
        student: FeatureSpec,
        teacher: FeatureSpec | None,
        *,
        margin: float = 1.0,
        stages: int | Sequence[int] | None = None,
        init_epochs: int = 30,
        ab_weight: float = 3e-3,
        kd_weight: float = 0.0,
        temperature: float = 3.0,
    ) -> None:
        super().__init__(student, teacher)
        require_positive("margin", margin)
        require_int_at_least("init_epochs", init_epochs, 1)
        require_positive("ab_weight", ab_weight)
        require_fraction("kd_weight", kd_weight)
        require_positive("temperature", temperature)
        self.student_indices, self.teacher_indices = pair_stages(
            "stages", stages, student, teacher, default_transfer_points(student, teacher)
        )
        points = len(self.student_indices)
        #: shallow to deep: the deepest transfer point weighs 1, each shallower one half the next (authors' code)
        self.point_weights = [2.0 ** -(points - 1 - k) for k in range(points)]
        self.connectors = nn.ModuleList(
            conv1x1(student.stage_channels[s], teacher.stage_channels[t], batch_norm=True)
            for s, t in zip(self.student_indices, self.teacher_indices, strict=True)
        )
        self.margin = margin
        self.ab_weight = ab_weight
        self.kd_weight = kd_weight
        self.temperature = temperature
        self.init_epochs = init_epochs

    def forward_init(self, student: Features, teacher: Features | None, labels: Tensor) -> dict[str, Tensor]:
        student_maps = pre_relu_maps(student, "student", self.name)
        teacher_maps = pre_relu_maps(teacher, "teacher", self.name)
        total = 0.0
        for k, connector in enumerate(self.connectors):
            student_map = student_maps[self.student_indices[k]]
            teacher_map = teacher_maps[self.teacher_indices[k]].detach()
            student_map, teacher_map = match_spatial(student_map, teacher_map)
            loss = activation_boundary_loss(connector(student_map), teacher_map, self.margin)
            total = total + self.point_weights[k] * loss
        return {"ab": self.ab_weight * total}

    def forward(self, student: Features, teacher: Features | None, labels: Tensor) -> dict[str, Tensor]:
        return hinton_terms(
            student.logits, teacher.logits, labels, kd_weight=self.kd_weight, temperature=self.temperature
        )
