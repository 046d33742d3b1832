"""Plain cross-entropy training of the student, without a teacher: the paper's "CE" column.

Loss: ``L = CE(z_s, y)``. No options.
"""

from __future__ import annotations

from torch import Tensor

from cskd.features import Features, FeatureSpec
from cskd.methods.base import Method, register_method
from cskd.methods.losses import cross_entropy


@register_method("ce")
class CrossEntropy(Method):
    """Cross-entropy only, the student trained alone (baseline "CE" of Chen et al., ECCV 2020, Tables 1-3)."""

    uses_teacher = False

    def __init__(self, student: FeatureSpec, teacher: FeatureSpec | None = None) -> None:
        super().__init__(student, teacher)

    def forward(self, student: Features, teacher: Features | None, labels: Tensor) -> dict[str, Tensor]:
        return {"ce": cross_entropy(student.logits, labels)}
