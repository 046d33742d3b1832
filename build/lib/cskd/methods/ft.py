"""Factor transfer: Kim, Park, Kwak, "Paraphrasing Complex Network: Network Compression via Factor Transfer",
NeurIPS 2018 (arXiv:1802.04977).

A paraphraser P (a convolutional encoder E and decoder D) is first trained, unsupervised, to reconstruct the teacher's
last feature map x (their Eq. 1, the initialisation stage here):
    L_rec = || x - D(E(x)) ||^2        (mean over the map's entries, as RepDistiller's nn.MSELoss);
the teacher factor is F_T = E(x). A translator on the student's last map s gives the student factor F_S, trained with
the student by (their Eq. 2-3)
    L = CE + beta * || F_T / ||F_T||_2 - F_S / ||F_S||_2 ||_p,   p = 1,
while the paraphraser stays fixed. ``factor_form`` selects how a factor becomes the normalised vector:
``"repdistiller"`` (default, the benchmark's code, distiller_zoo/FT.py): the channel mean of the squared factor at each
position, flattened and L2-normalised (an attention map of the factor, as AT); ``"paper"``: the whole factor
flattened and L2-normalised (Kim et al.'s Eq. 3 and the authors' code). Either way the distance is the mean absolute
difference of the normalised vectors, and when the two factors differ in size the larger is average-pooled first.
With the benchmark's CE/KD weights:
    L = gamma * CE + alpha * T^2 * KL(p_t^T || p_s^T) + beta * mean |v(F_T) - v(F_S)|.
Modules (RepDistiller models/util.py): the encoder is three 3x3 convolutions C -> C -> kC -> kC, the decoder three
3x3 transposed convolutions kC -> kC -> C -> C, each followed by LeakyReLU(0.1), no BatchNorm; the translator three
3x3 convolutions C_s -> C_s -> kC_t -> kC_t, each with BatchNorm and LeakyReLU(0.1) (no convolution bias before a
BatchNorm, which would cancel it; RepDistiller keeps it); paraphrase rate k = 0.5.
Defaults: the last stage before pooling (RepDistiller ``feat[-2]``); k = 0.5, beta = 200 (RepDistiller -b 200);
initialisation 30 epochs (RepDistiller --init_epochs 30) at learning rate 0.01 (RepDistiller's init stage uses 0.01 for
FT with ResNet and WRN students, the recipe's rate for the others); gamma = 1, alpha = 0.
Departure: during the initialisation stage the engine still runs the student forward in training mode (it trains
nothing of the student, but its BatchNorm running statistics follow those passes, where RepDistiller keeps the student
in eval mode).
"""

from __future__ import annotations

import itertools
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cskd.features import Features, FeatureSpec
from cskd.methods.adapters import match_spatial
from cskd.methods.base import Method, register_method
from cskd.methods.combine import KD_OPTION_HELP, CombinesWithKD
from cskd.methods.losses import full_precision
from cskd.methods.validation import (
    require_choice,
    require_fraction,
    require_int_at_least,
    require_non_negative,
    require_positive,
    resolve_stage,
)

FACTOR_FORMS = ("repdistiller", "paper")
LEAKY_SLOPE = 0.1


def conv_block(layer: type[nn.Module], channels: list[int], batch_norm: bool) -> nn.Sequential:
    """3x3 (transposed) convolutions through ``channels``, each followed by [BatchNorm and] LeakyReLU(0.1)."""
    modules: list[nn.Module] = []
    for c_in, c_out in itertools.pairwise(channels):
        modules.append(layer(c_in, c_out, kernel_size=3, stride=1, padding=1, bias=not batch_norm))
        if batch_norm:
            modules.append(nn.BatchNorm2d(c_out))
        modules.append(nn.LeakyReLU(LEAKY_SLOPE))
    return nn.Sequential(*modules)


class Paraphraser(nn.Module):
    """Encoder E and decoder D of the teacher's map; E(x) is the teacher factor."""

    def __init__(self, channels: int, factor_channels: int) -> None:
        super().__init__()
        self.encoder = conv_block(nn.Conv2d, [channels, channels, factor_channels, factor_channels], batch_norm=False)
        self.decoder = conv_block(
            nn.ConvTranspose2d, [factor_channels, factor_channels, channels, channels], batch_norm=False
        )


def factor_vector(factor: Tensor, form: str) -> Tensor:
    """``[B, D]``: the normalised vector of a factor (module docstring, ``factor_form``)."""
    values = factor.float()
    flat = values.pow(2).mean(dim=1).flatten(1) if form == "repdistiller" else values.flatten(1)
    return F.normalize(flat, dim=1)


@register_method("ft")
class FactorTransfer(CombinesWithKD, Method):
    """Factor transfer (Kim et al., NeurIPS 2018): a paraphraser of the teacher, a translator of the student."""

    option_help: ClassVar[dict[str, str]] = {
        "ft_weight": "beta: weight of the factor loss; default 200 (RepDistiller -b 200)",
        "rate": "k: factor channels = k * teacher channels; default 0.5 (RepDistiller's Paraphraser k = 0.5)",
        "factor_form": "'repdistiller' = channel mean of the squared factor, normalised (the benchmark's code, "
        "default); 'paper' = the whole factor flattened and normalised (Kim et al. Eq. 3)",
        "init_epochs": "epochs training the paraphraser to reconstruct the teacher's map before main training; "
        "default 30 (RepDistiller --init_epochs 30)",
        "init_lr": "learning rate of that stage; default 0.01 (RepDistiller's FT init for ResNet/WRN students; "
        "None = the recipe's base rate, as RepDistiller for the other students)",
        "stage": "stage of both networks whose maps are factored (negative counts from the deepest); default -1 = "
        "the last stage before pooling (RepDistiller feat[-2])",
        **KD_OPTION_HELP,
    }

    def __init__(
        self,
        student: FeatureSpec,
        teacher: FeatureSpec | None,
        *,
        ft_weight: float = 200.0,
        rate: float = 0.5,
        factor_form: Literal["repdistiller", "paper"] = "repdistiller",
        init_epochs: int = 30,
        init_lr: float | None = 0.01,
        stage: int = -1,
        ce_weight: float = 1.0,
        kd_weight: float = 0.0,
        temperature: float = 4.0,
    ) -> None:
        super().__init__(student, teacher)
        require_non_negative("ft_weight", ft_weight)
        require_fraction("rate", rate)
        require_choice("factor_form", factor_form, FACTOR_FORMS)
        require_int_at_least("init_epochs", init_epochs, 1)
        if init_lr is not None:
            require_positive("init_lr", init_lr)
        self.set_kd_options(ce_weight, kd_weight, temperature)
        self.student_index = resolve_stage("stage", stage, student.num_stages)
        self.teacher_index = resolve_stage("stage", stage, teacher.num_stages)
        teacher_channels = teacher.stage_channels[self.teacher_index]
        factor_channels = int(teacher_channels * rate)
        if factor_channels < 1:
            raise ValueError(
                f"option 'rate' = {rate} leaves no factor channel for a teacher stage of {teacher_channels} channels"
            )
        compared = [
            min(a, b)
            for a, b in zip(
                student.stage_sizes[self.student_index], teacher.stage_sizes[self.teacher_index], strict=True
            )
        ]
        if factor_form == "repdistiller" and compared == [1, 1]:
            raise ValueError(
                "ft: the compared factors are 1x1, where factor_form 'repdistiller' (a normalised map over positions) "
                "is constant and transfers nothing: use factor_form: paper, or a stage with a larger map"
            )
        student_channels = student.stage_channels[self.student_index]
        self.paraphraser = Paraphraser(teacher_channels, factor_channels)
        self.translator = conv_block(
            nn.Conv2d, [student_channels, student_channels, factor_channels, factor_channels], batch_norm=True
        )
        self.ft_weight = ft_weight
        self.factor_form = factor_form
        self.init_epochs = init_epochs
        self.init_lr = init_lr

    def forward_init(self, student: Features, teacher: Features | None, labels: Tensor) -> dict[str, Tensor]:
        """L_rec: mean squared reconstruction error of the teacher's map by the paraphraser."""
        with full_precision(labels):
            target = teacher.stages[self.teacher_index].detach().float()
            reconstruction = self.paraphraser.decoder(self.paraphraser.encoder(target))
            return {"rec": (reconstruction - target).pow(2).mean()}

    def factor_loss(self, student: Features, teacher: Features) -> Tensor:
        """``mean |v(F_T) - v(F_S)|``; the paraphraser is fixed (no gradient reaches it)."""
        with torch.no_grad():
            teacher_factor = self.paraphraser.encoder(teacher.stages[self.teacher_index].detach().float())
        student_factor = self.translator(student.stages[self.student_index].float())
        student_factor, teacher_factor = match_spatial(student_factor, teacher_factor)
        difference = factor_vector(teacher_factor, self.factor_form) - factor_vector(student_factor, self.factor_form)
        return difference.abs().mean()

    def forward(self, student: Features, teacher: Features | None, labels: Tensor) -> dict[str, Tensor]:
        with full_precision(labels):
            loss = self.factor_loss(student, teacher)
        return self.classification_terms(student.logits, teacher.logits, labels) | {"ft": self.ft_weight * loss}
