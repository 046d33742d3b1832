"""Flow of solution procedure: Yim, Joo, Bae, Kim, "A Gift from Knowledge Distillation: Fast Optimization, Network
Minimization and Transfer Learning", CVPR 2017.

The FSP matrix of two feature maps F1 (h x w x m) and F2 (h x w x n) of one network (their Eq. 1):
    G_{i,j} = sum_{s,t} F1_{s,t,i} * F2_{s,t,j} / (h * w)        (an m x n matrix per sample),
taken between consecutive stages; the distillation loss (their Eq. 2) over the N samples and the chosen pairs i is
    L_FSP = 1/N * sum_x sum_i lambda_i || G_i^T(x) - G_i^S(x) ||_2^2,   lambda_i all equal.
Training (their Sec. 3.3): stage 1 minimises L_FSP alone (the initialisation stage here: the student's layers and
any channel adapter learn, its classifier gets no gradient); stage 2 trains the student on the main task (CE, with
optional KD as the other benchmark methods: gamma * CE + alpha * T^2 * KL).
As the benchmark's code (RepDistiller distiller_zoo/FSP.py and helper/pretrain.py): when the two maps of a pair differ
in size the larger is average-pooled to the smaller; each matrix's squared error is a *mean* over samples and entries;
the pairs' losses are summed with weight 1 in the initialisation stage (RepDistiller's ``-b 50`` is not applied
there, and its main stage is CE alone).
Defaults: every stage of the shallower network, the stem included, paired from the deepest (RepDistiller
``feat[:-1]``), giving one matrix per consecutive pair; ``init_epochs`` 30 (RepDistiller --init_epochs 30) at the
recipe's learning rate; gamma = 1, alpha = 0.
Channels: FSP needs each student map to have its teacher map's channel count; RepDistiller refuses other pairs (the
benchmark's "n/a" for wrn_40_2 -> wrn_40_1). Here ``adapt_channels: true`` (default, ours) puts a 1x1 convolution
(student -> teacher channels, no bias) on each student map whose count differs, learnt in the initialisation stage;
``false`` refuses such pairs as RepDistiller.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import ClassVar

from torch import Tensor, nn

from cskd.features import Features, FeatureSpec
from cskd.methods.adapters import conv1x1, match_spatial
from cskd.methods.base import Method, register_method
from cskd.methods.combine import KD_OPTION_HELP, CombinesWithKD
from cskd.methods.losses import full_precision
from cskd.methods.stage_pairs import all_shared_stages, pair_stages
from cskd.methods.validation import require_int_at_least, require_non_negative


def fsp_matrix(bottom: Tensor, top: Tensor) -> Tensor:
    """``[B, m, n]``: G_{i,j} = mean over positions of bottom_i * top_j, the larger map pooled to the smaller."""
    bottom, top = match_spatial(bottom.float(), top.float())
    return bottom.flatten(2) @ top.flatten(2).transpose(1, 2) / bottom.shape[2] / bottom.shape[3]


def fsp_matrices(maps: list[Tensor]) -> list[Tensor]:
    """One FSP matrix per consecutive pair of ``maps`` (shallow to deep)."""
    return [fsp_matrix(bottom, top) for bottom, top in itertools.pairwise(maps)]


@register_method("fsp")
class FlowOfSolution(CombinesWithKD, Method):
    """FSP (Yim et al., CVPR 2017): initialise the student on the teacher's flow between consecutive stages."""

    option_help: ClassVar[dict[str, str]] = {
        "stages": "stages whose consecutive pairs give FSP matrices (a list of at least two indices, the same index "
        "for both networks, negative counts from the deepest); default None = every stage of the shallower network, "
        "stem included (RepDistiller feat[:-1])",
        "fsp_weight": "weight of the summed FSP losses in the initialisation stage; default 1 (RepDistiller's init "
        "stage, Yim et al.'s equal lambda_i)",
        "init_epochs": "epochs of the FSP initialisation stage; default 30 (RepDistiller --init_epochs 30)",
        "adapt_channels": "true (default, ours): a 1x1 convolution maps each student map to its teacher map's "
        "channels where they differ; false: refuse such pairs, as RepDistiller",
        **KD_OPTION_HELP,
    }

    def __init__(
        self,
        student: FeatureSpec,
        teacher: FeatureSpec | None,
        *,
        stages: Sequence[int] | None = None,
        fsp_weight: float = 1.0,
        init_epochs: int = 30,
        adapt_channels: bool = True,
        ce_weight: float = 1.0,
        kd_weight: float = 0.0,
        temperature: float = 4.0,
    ) -> None:
        super().__init__(student, teacher)
        require_non_negative("fsp_weight", fsp_weight)
        require_int_at_least("init_epochs", init_epochs, 1)
        self.set_kd_options(ce_weight, kd_weight, temperature)
        self.student_indices, self.teacher_indices = pair_stages(
            "stages", stages, student, teacher, all_shared_stages(student, teacher)
        )
        if len(self.student_indices) < 2:
            raise ValueError(
                f"option 'stages' must name at least two stages (an FSP matrix joins two), got {stages!r}; the "
                f"networks share {min(student.num_stages, teacher.num_stages)}"
            )
        self.adapters = nn.ModuleList()
        for s, t in zip(self.student_indices, self.teacher_indices, strict=True):
            c_s, c_t = student.stage_channels[s], teacher.stage_channels[t]
            if c_s == c_t:
                self.adapters.append(nn.Identity())
            elif adapt_channels:
                self.adapters.append(conv1x1(c_s, c_t))
            else:
                raise ValueError(
                    f"fsp: student stage {s} has {c_s} channels and teacher stage {t} has {c_t}; FSP compares "
                    "matrices of equal shape: use adapt_channels: true, or a pair of equal widths"
                )
        self.fsp_weight = fsp_weight
        self.init_epochs = init_epochs

    def forward_init(self, student: Features, teacher: Features | None, labels: Tensor) -> dict[str, Tensor]:
        with full_precision(labels):
            student_maps = [
                adapter(student.stages[s].float())
                for adapter, s in zip(self.adapters, self.student_indices, strict=True)
            ]
            teacher_maps = [teacher.stages[t].detach() for t in self.teacher_indices]
            total = sum(
                (g_s - g_t).pow(2).mean()
                for g_s, g_t in zip(fsp_matrices(student_maps), fsp_matrices(teacher_maps), strict=True)
            )
        return {"fsp": self.fsp_weight * total}

    def forward(self, student: Features, teacher: Features | None, labels: Tensor) -> dict[str, Tensor]:
        return self.classification_terms(student.logits, teacher.logits, labels)
