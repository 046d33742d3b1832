"""Category-structure tensors of a mini-batch (Chen et al., ECCV 2020, Sec. 3.2): class groups, centers, offsets and
the cosine matrix of centers, computed for all classes at once with index_add (no Python loop over classes).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

#: floor of a center's norm in the cosine matrix, so a zero center gives cosines 0 instead of NaN
COSINE_EPS = 1e-8


@dataclass(frozen=True)
class ClassGroups:
    """The batch grouped by ground-truth label (classes absent from the batch have no group).

    index: ``[B]`` group of each sample, 0..num-1 in increasing label order; sizes: ``[num]`` samples per group.
    """

    index: Tensor
    sizes: Tensor

    @property
    def num(self) -> int:
        return self.sizes.shape[0]


def group_by_label(labels: Tensor) -> ClassGroups:
    _, index, sizes = torch.unique(labels, return_inverse=True, return_counts=True)
    return ClassGroups(index=index, sizes=sizes)


def group_sums(values: Tensor, groups: ClassGroups) -> Tensor:
    """``[num, ...]`` sums of ``values`` (``[B, ...]``) over the samples of each group."""
    return values.new_zeros((groups.num, *values.shape[1:])).index_add(0, groups.index, values)


def class_centers(features: Tensor, groups: ClassGroups) -> Tensor:
    """Eq. 6: ``[num, D]`` plain means of the (unnormalised, flattened) features of each class present."""
    return group_sums(features, groups) / groups.sizes.unsqueeze(1).to(features.dtype)


def centers_of_correct(features: Tensor, groups: ClassGroups, correct: Tensor) -> Tensor:
    """``[B, D]``: each sample's class mean over the correctly classified samples of its class, or the sample itself
    when its class has none (the official CSKD code's ``cluster_filter``)."""
    weights = correct.to(features.dtype)
    sums = group_sums(features * weights.unsqueeze(1), groups)
    counts = group_sums(weights, groups)
    means = sums / counts.clamp_min(1).unsqueeze(1)
    has_correct = (counts > 0)[groups.index].unsqueeze(1)
    return torch.where(has_correct, means[groups.index], features)


def cosine_matrix(centers: Tensor) -> Tensor:
    """Eq. 8: ``[num, num]`` cosine similarities of the centers (a norm below COSINE_EPS counts as COSINE_EPS)."""
    unit = F.normalize(centers, dim=1, eps=COSINE_EPS)
    return unit @ unit.T
