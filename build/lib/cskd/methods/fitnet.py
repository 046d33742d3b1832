"""FitNets: Romero, Ballas, Kahou, Chassang, Gatta, Bengio, "FitNets: Hints for Thin Deep Nets", ICLR 2015.

Hint loss (Romero et al. Eq. 3), with u_h the teacher's hint-stage output, v_g the student's guided-stage output and
r a regressor on the student:
    L_hint = 1/2 * mean((u_h - r(v_g))^2)
The squared norm of the paper is *averaged* over every element (batch, channels, positions) rather than summed, so
its scale does not depend on the map size or the batch size.

``schedule="two_stage"`` (the paper's training, Romero et al. Sec. 2.2 and Algorithm 1):
    stage 1, the initialisation stage of ``hint_epochs`` epochs: minimise L_hint alone; only the student's layers up
    to the guided stage and the regressor receive gradients (later layers get none, so the engine leaves their
    weights as they are; their BatchNorm running statistics still follow the forward passes); stage 2, main
    training: the whole student with KD,
    L = (1 - w) * CE + w * T^2 * KL(p_t^T || p_s^T).
``schedule="joint"`` (one stage):
    L = (1 - w) * CE + w * T^2 * KL + beta * L_hint,
which with the defaults (w = 0.9, T = 4, beta = 100) is 0.1 * CE + 0.9 * T^2 * KL + 100 * 1/2 * MSE: an effective
weight of 50 on the mean squared error. RepDistiller (Tian et al., ICLR 2020; train_student.py --distill hint, its
scripts/run_cifar_distill.sh: -a 0 -b 100, CE weight -r 1 by default) trains FitNet in one stage as
    L = 1.0 * CE + 100 * MSE     (its HintLoss is nn.MSELoss: the mean, without the 1/2; no KL term),
which is ``schedule="joint", kd_weight=0, hint_weight=200`` here (200 * 1/2 * MSE = 100 * MSE), except for the
regressor: RepDistiller's ConvReg is a convolution + BatchNorm + ReLU whose kernel also matches the spatial sizes.

Departures from Romero et al.:
* the regressor is a 1x1 convolution (+ ReLU, so it has the hint's non-linearity, Sec. 2.2) instead of a
  convolution whose kernel shrinks the guided map to the hint map's size; when the two maps differ in size the larger
  is average-pooled to the smaller;
* stage 2 uses constant KD weights (those of the ``kd`` method) where FitNets anneal the soft-target weight during
  training; the stage-1 length is a fixed number of epochs, not the paper's training to convergence. The default 30
  is our choice: it is the length RepDistiller gives the initialisation stages of *other* methods (its
  ``--init_epochs 30``, used for AB, FT and FSP only; RepDistiller itself trains FitNet in one stage, without hint
  pre-training);
* hint and guided stages default to the middle entry of the model's stage list, index ``num_stages // 2``, as
  FitNets use the middle layers (Sec. 2.2); for the suite's ResNets, whose list is the stem and four residual stages,
  that is the output of the second residual stage (16x16 on CIFAR), the same choice as RepDistiller's
  ``--hint_layer 2``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from torch import Tensor, nn

from cskd.features import Features, FeatureSpec
from cskd.methods.adapters import conv1x1, match_spatial
from cskd.methods.base import Method, register_method
from cskd.methods.losses import hinton_terms
from cskd.methods.validation import (
    require_choice,
    require_fraction,
    require_int_at_least,
    require_non_negative,
    require_positive,
    resolve_stage,
)

SCHEDULES = ("two_stage", "joint")


def middle_stage(num_stages: int) -> int:
    """The middle stage of a network (the upper one of two middles): FitNets' default hint/guided layer."""
    return num_stages // 2


@register_method("fitnet")
class FitNet(Method):
    """Hint-based training (Romero et al., ICLR 2015): regress the teacher's middle stage from the student's."""

    option_help: ClassVar[dict[str, str]] = {
        "schedule": "'two_stage' = the paper's hint pre-training stage then KD (Romero et al. Sec. 2.2); "
        "'joint' = (1 - w) CE + w T^2 KL + hint_weight * hint in one stage (RepDistiller's one-stage FitNet is "
        "joint with kd_weight 0 and hint_weight 200: 1.0 CE + 100 MSE, no KL)",
        "hint_stage": "teacher stage giving the hint (negative counts from the deepest); default None = middle "
        "stage num_stages // 2, as FitNets hint from the teacher's middle layer",
        "guided_stage": "student stage regressed onto the hint; default None = middle stage num_stages // 2 "
        "(FitNets: the student's middle layer)",
        "hint_epochs": "epochs of the hint stage (two_stage only); default 30, our choice: the length of "
        "RepDistiller's init stage for AB, FT and FSP (--init_epochs 30; RepDistiller has no FitNet hint stage), "
        "the paper trains stage 1 to convergence",
        "hint_weight": "beta: weight of the hint loss 1/2 MSE in the joint schedule (the two_stage hint stage uses "
        "the hint alone); default 100, RepDistiller's -b 100, but RepDistiller's hint is the MSE without the 1/2, so "
        "its weight on the MSE is 100 where the default here gives 50 (hint_weight 200 matches it)",
        "regressor_relu": "end the 1x1-conv regressor with a ReLU, so it has the (post-ReLU) hint's non-linearity "
        "as Romero et al. Sec. 2.2 require; default True",
        "temperature": "KD temperature T of the main stage; default 4 as the kd method (RepDistiller --kd_T 4)",
        "kd_weight": "w: weight of the KD term, CE gets 1 - w; default 0.9 as the kd method (RepDistiller -a 0.9)",
    }

    def __init__(
        self,
        student: FeatureSpec,
        teacher: FeatureSpec | None,
        *,
        schedule: Literal["two_stage", "joint"] = "two_stage",
        hint_stage: int | None = None,
        guided_stage: int | None = None,
        hint_epochs: int = 30,
        hint_weight: float = 100.0,
        regressor_relu: bool = True,
        temperature: float = 4.0,
        kd_weight: float = 0.9,
    ) -> None:
        super().__init__(student, teacher)
        require_choice("schedule", schedule, SCHEDULES)
        require_int_at_least("hint_epochs", hint_epochs, 1)
        require_non_negative("hint_weight", hint_weight)
        require_positive("temperature", temperature)
        require_fraction("kd_weight", kd_weight)
        hint = middle_stage(teacher.num_stages) if hint_stage is None else hint_stage
        guided = middle_stage(student.num_stages) if guided_stage is None else guided_stage
        self.hint_index = resolve_stage("hint_stage", hint, teacher.num_stages)
        self.guided_index = resolve_stage("guided_stage", guided, student.num_stages)
        self.schedule = schedule
        self.hint_weight = hint_weight
        self.temperature = temperature
        self.kd_weight = kd_weight
        channels_in = student.stage_channels[self.guided_index]
        channels_out = teacher.stage_channels[self.hint_index]
        regressor = [conv1x1(channels_in, channels_out, bias=True)]
        self.regressor = nn.Sequential(*regressor, nn.ReLU()) if regressor_relu else regressor[0]
        self.init_epochs = hint_epochs if schedule == "two_stage" else 0

    def hint_loss(self, student: Features, teacher: Features) -> Tensor:
        """``1/2 * mean((u_h - r(v_g))^2)`` over batch, channels and positions."""
        guided, hint = match_spatial(student.stages[self.guided_index], teacher.stages[self.hint_index].detach())
        regressed = self.regressor(guided).float()
        return 0.5 * (hint.float() - regressed).pow(2).mean()

    def forward_init(self, student: Features, teacher: Features | None, labels: Tensor) -> dict[str, Tensor]:
        return {"hint": self.hint_loss(student, teacher)}

    def forward(self, student: Features, teacher: Features | None, labels: Tensor) -> dict[str, Tensor]:
        terms = hinton_terms(
            student.logits, teacher.logits, labels, kd_weight=self.kd_weight, temperature=self.temperature
        )
        if self.schedule == "joint":
            terms["hint"] = self.hint_weight * self.hint_loss(student, teacher)
        return terms
