"""Which stage of the student is compared with which stage of the teacher, for methods that transfer at several
points.

Stages are the entries of a model's feature list, shallow to deep (for the suite's ResNets: the stem, then each
residual stage). Two networks may have different numbers of stages, so stage indices are paired *from the deepest*:
index -1 is each network's last stage before pooling, -2 the one before, and so on. The default transfer points are
every stage but the first, which in timm's feature lists is the stem (RepDistiller's ``feat[1:-1]``: the output of each
group of blocks), as many as the shallower network has.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from cskd.features import Features, FeatureSpec
from cskd.methods.validation import resolve_stage, stage_list


def default_transfer_points(student: FeatureSpec, teacher: FeatureSpec) -> tuple[int, ...]:
    """Every stage but the first (the stem in timm's feature lists), counted from the deepest so both networks align."""
    shared = min(student.num_stages, teacher.num_stages)
    return tuple(range(-max(shared - 1, 1), 0))


def all_shared_stages(student: FeatureSpec, teacher: FeatureSpec) -> tuple[int, ...]:
    """Every stage of the shallower network (the stem included), counted from the deepest."""
    return tuple(range(-min(student.num_stages, teacher.num_stages), 0))


def pair_stages(
    name: str, stages: int | Sequence[int] | None, student: FeatureSpec, teacher: FeatureSpec, default: tuple[int, ...]
) -> tuple[list[int], list[int]]:
    """``(student indices, teacher indices)``, shallow to deep, for option ``name`` (None: ``default``).

    The same index (negative counts from the deepest) names a stage of each network; a stage listed twice raises.
    """
    chosen = default if stages is None else stage_list(name, stages)
    pairs = sorted(
        {(resolve_stage(name, i, student.num_stages), resolve_stage(name, i, teacher.num_stages)) for i in chosen}
    )
    if len(pairs) != len(chosen):
        raise ValueError(f"option {name!r} lists a stage twice: {list(chosen)}")
    return [s for s, _ in pairs], [t for _, t in pairs]


def pre_relu_maps(features: Features, who: str, method: str) -> list[Tensor]:
    """``features.pre_relu``, or a clear error naming the method and the network when it was not extracted."""
    if features.pre_relu is None:
        raise ValueError(
            f"method {method!r} needs the {who}'s pre-ReLU stage outputs: extract features with pre_relu=True"
        )
    return features.pre_relu
