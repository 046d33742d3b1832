"""Compute-hours of a whole paper table, extrapolated from a measured engine throughput.

Work is counted in multiply-accumulates (MACs) per training image, the way the engine spends it: a lockstep group
does one teacher forward per batch and, per student, a forward and a backward (about 3 forwards). A group of
students S_i sharing teacher T, trained for E main epochs after an initialisation phase in which only the students
with an init stage (init_i epochs) train, costs

    N * [ E * (T + 3 sum_i S_i) + sum_{e=1..max init_i} (T + 3 sum_{i: init_i >= e} S_i) ]

MACs for N training images; teachers and CE baselines are groups without a teacher (T = 0). Hours are that total
over the measured rate, the MACs per second the engine reached on the benchmark's own group. The per-epoch evaluation
(a forward over the test set, a few per cent) is not counted. The plain count ``run-epochs * N / measured
student-images per second`` is given next to it: it ignores that the pairs differ in size.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import torch

from cskd.data import dataset_input_size
from cskd.engine.cost import forward_macs
from cskd.features import FeatureSpec
from cskd.methods import build_method
from cskd.models import create_model, feature_spec
from cskd.plan import RunSpec, expand
from cskd.suite import ModelRef, load_suite


@dataclass(frozen=True)
class SuiteEstimate:
    """A suite in full: its runs (teachers included), run-epochs (init epochs included), MACs and hours."""

    suite: str
    dataset: str
    runs: int
    teacher_runs: int
    run_epochs: int
    macs: float
    hours: float
    plain_hours: float


@cache
def _model_facts(
    name: str, kwargs: tuple, num_classes: int, input_size: tuple[int, int, int]
) -> tuple[int, FeatureSpec]:
    with torch.device("meta"):
        model = create_model(name, num_classes=num_classes, **dict(kwargs))
        return forward_macs(model, input_size), feature_spec(model, input_size)


def model_facts(ref: ModelRef, num_classes: int, input_size: tuple[int, int, int]) -> tuple[int, FeatureSpec]:
    """Forward MACs per image and the feature spec of a model, from shapes alone (on the meta device: no compute)."""
    return _model_facts(ref.name, tuple(sorted(ref.kwargs.items())), num_classes, input_size)


def group_macs_per_image(teacher: int, students: list[int], init_epochs: list[int], epochs: int) -> float:
    """MACs per training image of one lockstep group over its whole schedule (the formula above, without N)."""
    main = epochs * (teacher + 3 * sum(students))
    init = sum(
        teacher + 3 * sum(s for s, n in zip(students, init_epochs, strict=True) if n >= e)
        for e in range(1, max(init_epochs, default=0) + 1)
    )
    return main + init


def estimate_suite(name: str, macs_per_second: float, student_images_per_second: float) -> SuiteEstimate:
    """Hours to train suite ``name`` in full (its paper setting) at the measured rates."""
    plan = expand(load_suite(name))
    dataset = plan.runs[0].dataset
    known = dataset_input_size(dataset)
    if known is None:
        raise ValueError(f"suite {name}: the size of dataset {dataset!r} is not known without its files")
    input_size, num_classes, images = known
    total_macs, run_epochs = 0.0, 0
    for group in plan.groups():
        teacher_ref = group[0].teacher_model
        teacher_macs, teacher_spec = model_facts(teacher_ref, num_classes, input_size) if teacher_ref else (0, None)
        students, init_epochs = [], []
        for run in group:
            macs, spec = model_facts(run.student_model, num_classes, input_size)
            students.append(macs)
            init_epochs.append(_init_epochs(run, spec, teacher_spec))
        epochs = group[0].recipe.epochs
        total_macs += images * group_macs_per_image(teacher_macs, students, init_epochs, epochs)
        run_epochs += len(group) * epochs + sum(init_epochs)
    return SuiteEstimate(
        suite=name,
        dataset=dataset,
        runs=len(plan.runs),
        teacher_runs=sum(r.kind == "teacher" for r in plan.runs),
        run_epochs=run_epochs,
        macs=total_macs,
        hours=total_macs / macs_per_second / 3600,
        plain_hours=run_epochs * images / student_images_per_second / 3600,
    )


def _init_epochs(run: RunSpec, student: FeatureSpec, teacher: FeatureSpec | None) -> int:
    return build_method(run.method.name, run.method.args, student, teacher).init_epochs
