"""Relational knowledge distillation: Park, Kim, Lu, Cho, "Relational Knowledge Distillation", CVPR 2019
(arXiv:1904.05068), distance and angle potentials together (RKD-DA).

On the embeddings t_i (teacher) and s_i (student) of a batch:
    distance potential   psi_D(t_i, t_j) = ||t_i - t_j||_2 / mu,  mu = mean distance over the pairs of the batch
                                                                                  (their Eq. 4-5)
    angle potential      psi_A(t_i, t_j, t_k) = <e_ij, e_kj>,  e_ij = (t_i - t_j) / ||t_i - t_j||_2   (their Eq. 6-7)
    L_RKD-D = sum_(i,j) l_delta(psi_D(t_i, t_j), psi_D(s_i, s_j)),
    L_RKD-A = sum_(i,j,k) l_delta(psi_A(t_i, t_j, t_k), psi_A(s_i, s_j, s_k)),
l_delta the Huber loss with delta = 1. Total, with the benchmark's CE/KD weights:
    L = gamma * CE + alpha * T^2 * KL(p_t^T || p_s^T) + beta * (w_D * L_RKD-D + w_A * L_RKD-A).
As the benchmark's code (RepDistiller distiller_zoo/RKD.py): the sums are means over all b^2 ordered pairs (the
diagonal, distance 0, included) and all b^3 ordered triples (a triple with a repeated sample has a zero vector e and
angle 0); mu is the mean of the positive distances; the Huber loss is PyTorch's smooth L1 (beta = 1). The teacher's
potentials carry no gradient.
Defaults: the pooled pre-logit embedding (RepDistiller ``feat[-1]``); w_D = 25, w_A = 50, beta = 1 (RepDistiller's
RKDLoss and -b 1, mdistiller DISTANCE_WEIGHT 25, ANGLE_WEIGHT 50); gamma = 1, alpha = 0. No adapter: the potentials do
not depend on the embedding widths.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from cskd.features import Features, FeatureSpec
from cskd.methods.base import Method, register_method
from cskd.methods.combine import KD_OPTION_HELP, CombinesWithKD
from cskd.methods.losses import full_precision
from cskd.methods.validation import require_non_negative

#: floor of a squared distance before its square root (RepDistiller's pdist eps), so the gradient stays finite
SQUARED_DISTANCE_FLOOR = 1e-12


def pairwise_distances(embedding: Tensor) -> Tensor:
    """``[b, b]`` Euclidean distances, 0 on the diagonal."""
    squares = embedding.pow(2).sum(dim=1)
    squared = (squares[:, None] + squares[None, :] - 2 * embedding @ embedding.T).clamp_min(SQUARED_DISTANCE_FLOOR)
    off_diagonal = ~torch.eye(embedding.shape[0], dtype=torch.bool, device=embedding.device)
    return squared.sqrt() * off_diagonal


def distance_potential(embedding: Tensor) -> Tensor:
    """psi_D: distances divided by the mean of the positive distances (all zero when there is none, e.g. b = 1)."""
    distances = pairwise_distances(embedding)
    return distances / distances[distances > 0].mean().nan_to_num(1.0)


def angle_potential(embedding: Tensor) -> Tensor:
    """psi_A: ``[b, b, b]`` with entry (j, i, k) = <e_ij, e_kj>, e_ij the unit vector from t_j to t_i."""
    differences = F.normalize(embedding[None, :, :] - embedding[:, None, :], dim=2)  # [j, i] = unit(t_i - t_j)
    return differences @ differences.transpose(1, 2)


@register_method("rkd")
class RelationalKD(CombinesWithKD, Method):
    """Relational KD (Park et al., CVPR 2019): distance- and angle-wise relations of the batch's embeddings."""

    option_help: ClassVar[dict[str, str]] = {
        "distance_weight": "w_D: weight of the distance loss; default 25 (RepDistiller RKDLoss w_d, mdistiller)",
        "angle_weight": "w_A: weight of the angle loss; default 50 (RepDistiller RKDLoss w_a, mdistiller)",
        "rkd_weight": "beta: weight of w_D * L_D + w_A * L_A; default 1 (RepDistiller -b 1)",
        **KD_OPTION_HELP,
    }

    def __init__(
        self,
        student: FeatureSpec,
        teacher: FeatureSpec | None,
        *,
        distance_weight: float = 25.0,
        angle_weight: float = 50.0,
        rkd_weight: float = 1.0,
        ce_weight: float = 1.0,
        kd_weight: float = 0.0,
        temperature: float = 4.0,
    ) -> None:
        super().__init__(student, teacher)
        require_non_negative("distance_weight", distance_weight)
        require_non_negative("angle_weight", angle_weight)
        require_non_negative("rkd_weight", rkd_weight)
        self.set_kd_options(ce_weight, kd_weight, temperature)
        self.distance_weight = distance_weight
        self.angle_weight = angle_weight
        self.rkd_weight = rkd_weight

    def relational_losses(self, student_embedding: Tensor, teacher_embedding: Tensor) -> tuple[Tensor, Tensor]:
        """``(L_RKD-D, L_RKD-A)`` as means of the Huber loss over pairs and triples."""
        student_embedding = student_embedding.float().flatten(1)
        teacher_embedding = teacher_embedding.detach().float().flatten(1)
        distance = F.smooth_l1_loss(distance_potential(student_embedding), distance_potential(teacher_embedding))
        angle = F.smooth_l1_loss(angle_potential(student_embedding), angle_potential(teacher_embedding))
        return distance, angle

    def forward(self, student: Features, teacher: Features | None, labels: Tensor) -> dict[str, Tensor]:
        with full_precision(labels):
            distance, angle = self.relational_losses(student.embedding, teacher.embedding)
        relational = self.distance_weight * distance + self.angle_weight * angle
        return self.classification_terms(student.logits, teacher.logits, labels) | {"rkd": self.rkd_weight * relational}
