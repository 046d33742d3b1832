"""Variational information distillation: Ahn, Hu, Damianou, Lawrence, Dai, "Variational Information Distillation for
Knowledge Transfer", CVPR 2019 (arXiv:1904.05835).

VID maximises a variational lower bound of the mutual information between a teacher map t and a student map s by
minimising the negative log-likelihood of t under a Gaussian whose mean mu(s) is regressed from the student and whose
variance sigma_c^2 is learned per channel (their Eq. 4-5):
    -log q(t | s) = sum_c sum_hw [ log sigma_c + (t_{c,h,w} - mu_{c,h,w}(s))^2 / (2 sigma_c^2) ] + const,
    sigma_c^2 = log(1 + exp(a_c)) + eps,
and the total loss (their Eq. 6) sums it over the chosen pairs k of layers with weights lambda_k. As the benchmark's
code (RepDistiller distiller_zoo/VID.py, from the authors' code), each pair's term is a *mean* over samples, channels
and positions, and every pair weighs the same:
    L = gamma * CE + alpha * T^2 * KL(p_t^T || p_s^T)
        + beta * sum_k mean_{b,c,h,w} 1/2 [ (t - mu(s))^2 / sigma_c^2 + log sigma_c^2 ].
mu is three 1x1 convolutions (student channels -> teacher channels -> teacher channels -> teacher channels) with a
ReLU between them; a_c starts so that sigma_c^2 = 5. Defaults: initial variance 5, eps = 1e-5, beta = 1
(RepDistiller -b 1 and VIDLoss; mdistiller INIT_PRED_VAR 5.0, EPS 1e-5, FEAT_WEIGHT 1.0); gamma = 1, alpha = 0;
transfer points every stage but the stem, paired from the deepest (RepDistiller ``feat[1:-1]``). Maps of different
sizes: the larger is average-pooled to the smaller before the regressor (as RepDistiller).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cskd.features import Features, FeatureSpec
from cskd.methods.adapters import match_spatial
from cskd.methods.base import Method, register_method
from cskd.methods.combine import KD_OPTION_HELP, CombinesWithKD
from cskd.methods.losses import full_precision
from cskd.methods.stage_pairs import default_transfer_points, pair_stages
from cskd.methods.validation import require_non_negative, require_positive


class VariationalRegressor(nn.Module):
    """mu(s) (three 1x1 convolutions with ReLUs between) and the per-channel variance sigma_c^2 of one pair."""

    def __init__(self, student_channels: int, teacher_channels: int, initial_variance: float, eps: float) -> None:
        super().__init__()
        self.mean = nn.Sequential(
            nn.Conv2d(student_channels, teacher_channels, kernel_size=1, bias=False),
            nn.ReLU(),
            nn.Conv2d(teacher_channels, teacher_channels, kernel_size=1, bias=False),
            nn.ReLU(),
            nn.Conv2d(teacher_channels, teacher_channels, kernel_size=1, bias=False),
        )
        # softplus(a) + eps == initial_variance
        start = math.log(math.expm1(initial_variance - eps))
        self.variance_parameter = nn.Parameter(torch.full((teacher_channels,), start))
        self.eps = eps

    def variance(self) -> Tensor:
        """sigma_c^2 = log(1 + exp(a_c)) + eps."""
        return F.softplus(self.variance_parameter.float()) + self.eps

    def negative_log_likelihood(self, student_map: Tensor, teacher_map: Tensor) -> Tensor:
        """``mean 1/2 [(t - mu(s))^2 / sigma^2 + log sigma^2]`` after pooling the larger map to the smaller."""
        student_map, teacher_map = match_spatial(student_map, teacher_map)
        mean = self.mean(student_map.float())
        variance = self.variance().view(1, -1, 1, 1)
        return (0.5 * ((mean - teacher_map.float()).pow(2) / variance + variance.log())).mean()


@register_method("vid")
class VariationalInformation(CombinesWithKD, Method):
    """Variational information distillation (Ahn et al., CVPR 2019): Gaussian likelihood of the teacher's maps."""

    option_help: ClassVar[dict[str, str]] = {
        "vid_weight": "beta: weight of the summed negative log-likelihoods; default 1 (RepDistiller -b 1, "
        "mdistiller FEAT_WEIGHT 1.0)",
        "initial_variance": "sigma^2 every channel starts from; default 5 (RepDistiller VIDLoss init_pred_var, "
        "mdistiller INIT_PRED_VAR 5.0)",
        "eps": "floor added to the softplus variance; default 1e-5 (RepDistiller, mdistiller EPS)",
        "stages": "stages transferred (one index or a list, the same index for both networks, negative counts from "
        "the deepest); default None = every stage but the stem (RepDistiller feat[1:-1])",
        **KD_OPTION_HELP,
    }

    def __init__(
        self,
        student: FeatureSpec,
        teacher: FeatureSpec | None,
        *,
        vid_weight: float = 1.0,
        initial_variance: float = 5.0,
        eps: float = 1e-5,
        stages: int | Sequence[int] | None = None,
        ce_weight: float = 1.0,
        kd_weight: float = 0.0,
        temperature: float = 4.0,
    ) -> None:
        super().__init__(student, teacher)
        require_non_negative("vid_weight", vid_weight)
        require_positive("eps", eps)
        if not math.isfinite(initial_variance) or initial_variance <= eps:
            raise ValueError(f"option 'initial_variance' must be a finite number > eps ({eps}), got {initial_variance}")
        self.set_kd_options(ce_weight, kd_weight, temperature)
        self.student_indices, self.teacher_indices = pair_stages(
            "stages", stages, student, teacher, default_transfer_points(student, teacher)
        )
        self.regressors = nn.ModuleList(
            VariationalRegressor(student.stage_channels[s], teacher.stage_channels[t], initial_variance, eps)
            for s, t in zip(self.student_indices, self.teacher_indices, strict=True)
        )
        self.vid_weight = vid_weight

    def forward(self, student: Features, teacher: Features | None, labels: Tensor) -> dict[str, Tensor]:
        with full_precision(labels):
            total = sum(
                regressor.negative_log_likelihood(student.stages[s], teacher.stages[t].detach())
                for regressor, s, t in zip(self.regressors, self.student_indices, self.teacher_indices, strict=True)
            )
        return self.classification_terms(student.logits, teacher.logits, labels) | {"vid": self.vid_weight * total}
