"""Compute-hours of runs, lockstep groups and whole suites, from multiply-accumulates (MACs) and a stated rate.

Work is counted in MACs per training image, the way the engine spends it: a lockstep group does one teacher forward
per batch and, per student, a forward and a backward (about 3 forwards). A group of students S_i sharing teacher T,
trained for E main epochs after an initialisation phase in which only the students with an init stage (init_i epochs,
e.g. FitNet's and AB's) train, costs

    N * [ E * (T + 3 sum_i S_i) + sum_{e=1..max init_i} (T + 3 sum_{i: init_i >= e} S_i) ]

MACs for N training images; teachers and CE baselines are groups without a teacher (T = 0). A run's share is its own
3 S_i per image and epoch plus, each epoch, the teacher's forward divided among the students training that epoch.
Hours are MACs over a :class:`Rate`: on the CPU the engine's rate measured by ``benchmarks/throughput.py`` on the
development machine, on a GPU an assumed rate (or the one ``benchmarks/gpu_check.sh`` measured), each stated with the
estimate. The per-epoch evaluation (one forward per test image, about 7% more on CIFAR) is not counted.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from cskd import method_builds
from cskd import model_facts as facts
from cskd.data import dataset_input_size
from cskd.engine.progress import SweepClock
from cskd.features import FeatureSpec
from cskd.plan import RunSpec, expand
from cskd.suite import ModelRef, load_suite

#: The engine's rate on the development machine's 2-core CPU: ``benchmarks/throughput.py`` (b), six Table 1 students
#: (KD, FitNet, KDGAN, AB, CCKD, CSKD) in lockstep on R101_0.5 -> R18_0.25, batch 128 (docs/performance.md).
CPU_MEASUREMENT = {
    "student_images_per_second": 290.4,
    "teacher": "cifar_resnet101_w0_5",
    "student": "cifar_resnet18_w0_25",
    "students": 6,
}
#: Assumed, not measured: no GPU has run this code. 10 TMAC/s = 20 TFLOP/s sustained, about 13% of an A100's dense
#: TF32 peak (156 TFLOP/s) and less of an H100's: the small convolutions of thin CIFAR ResNets use a GPU poorly, so
#: the sustained rate is a small fraction of the peak.
GPU_ASSUMED_MACS_PER_SECOND = 10e12
#: the file ``benchmarks/gpu_check.sh`` writes; its measured rate replaces the assumption when it passed
GPU_CHECK_FILE = "gpu_check.json"


@dataclass(frozen=True)
class Rate:
    """A training rate in MACs per second and the basis of the number (measured where, or assumed)."""

    device: str  # "CPU" or "GPU"
    macs_per_second: float
    basis: str

    def hours(self, macs: float) -> float:
        return macs / self.macs_per_second / 3600


@dataclass(frozen=True)
class GroupCost:
    """One lockstep group's work: each run's MACs (its share of the teacher included) and epochs (init included)."""

    run_macs: dict[str, float]
    run_epochs: dict[str, int]
    init_epochs: dict[str, int]
    images: int

    @property
    def macs(self) -> float:
        return sum(self.run_macs.values())


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


def model_facts(ref: ModelRef, num_classes: int, input_size: tuple[int, int, int]) -> tuple[int, FeatureSpec]:
    """Forward MACs per image and the feature spec of a model, from shapes alone: the shipped table, or a count on
    the meta device (:func:`cskd.model_facts.model_facts`)."""
    found = facts.model_facts(ref.name, ref.kwargs, num_classes, input_size)
    return found.macs, found.spec


def group_macs_per_image(teacher: int, students: list[int], init_epochs: list[int], epochs: int) -> float:
    """MACs per training image of one lockstep group over its whole schedule (the formula above, without N)."""
    main = epochs * (teacher + 3 * sum(students))
    init = sum(
        teacher + 3 * sum(s for s, n in zip(students, init_epochs, strict=True) if n >= e)
        for e in range(1, max(init_epochs, default=0) + 1)
    )
    return main + init


def run_macs_per_image(teacher: int, students: list[int], init_epochs: list[int], epochs: int) -> list[float]:
    """Each student's share of :func:`group_macs_per_image`: its own work and, each epoch, the teacher's forward
    divided among the students training that epoch. The shares sum to the group's total."""
    shares = [3.0 * s * (epochs + n) for s, n in zip(students, init_epochs, strict=True)]
    if students:
        shares = [share + epochs * teacher / len(students) for share in shares]
    for e in range(1, max(init_epochs, default=0) + 1):
        active = [i for i, n in enumerate(init_epochs) if n >= e]
        for i in active:
            shares[i] += teacher / len(active)
    return shares


def group_cost(group: list[RunSpec]) -> GroupCost:
    """The work of one lockstep group (runs sharing teacher, data, recipe and seed); ``ValueError`` when the
    dataset's size is unknown before loading it (``imagefolder:PATH``) or a method cannot be built."""
    first = group[0]
    known = dataset_input_size(first.dataset)
    if known is None:
        raise ValueError(f"the size of dataset {first.dataset!r} is unknown before loading it")
    input_size, num_classes, train_images = known
    images = min(first.train_subset or train_images, train_images)
    teacher_macs, teacher_spec = (
        model_facts(first.teacher_model, num_classes, input_size) if first.teacher_model else (0, None)
    )
    students, init_epochs = [], []
    for run in group:
        macs, spec = model_facts(run.student_model, num_classes, input_size)
        students.append(macs)
        init_epochs.append(_init_epochs(run, spec, teacher_spec))
    shares = run_macs_per_image(teacher_macs, students, init_epochs, first.recipe.epochs)
    return GroupCost(
        run_macs={run.run_id: images * share for run, share in zip(group, shares, strict=True)},
        run_epochs={run.run_id: run.recipe.epochs + n for run, n in zip(group, init_epochs, strict=True)},
        init_epochs={run.run_id: n for run, n in zip(group, init_epochs, strict=True)},
        images=images,
    )


def estimate_suite(name: str, macs_per_second: float, student_images_per_second: float) -> SuiteEstimate:
    """Hours to train suite ``name`` in full (its paper setting) at the measured rates."""
    plan = expand(load_suite(name))
    costs = [group_cost(group) for group in plan.groups()]
    macs = sum(cost.macs for cost in costs)
    run_epochs = sum(sum(cost.run_epochs.values()) for cost in costs)
    images = costs[0].images
    return SuiteEstimate(
        suite=name,
        dataset=plan.runs[0].dataset,
        runs=len(plan.runs),
        teacher_runs=sum(r.kind == "teacher" for r in plan.runs),
        run_epochs=run_epochs,
        macs=macs,
        hours=macs / macs_per_second / 3600,
        plain_hours=run_epochs * images / student_images_per_second / 3600,
    )


def cpu_rate() -> Rate:
    """The engine's rate on the CPU, from the measurement in :data:`CPU_MEASUREMENT`, in MACs per second."""
    m = CPU_MEASUREMENT
    teacher, _ = model_facts(ModelRef(m["teacher"]), 10, (3, 32, 32))
    student, _ = model_facts(ModelRef(m["student"]), 10, (3, 32, 32))
    per_group_image = group_macs_per_image(teacher, [student] * m["students"], [0] * m["students"], epochs=1)
    rate = m["student_images_per_second"] / m["students"] * per_group_image
    return Rate(
        "CPU",
        rate,
        f"measured: {rate / 1e9:.1f} GMAC/s, the engine's rate in benchmarks/throughput.py on the development "
        "machine's 2-core CPU (docs/performance.md); other CPUs differ",
    )


def gpu_rate(results_dir: Path) -> Rate:
    """The rate ``benchmarks/gpu_check.sh`` measured (``RESULTS_DIR/gpu_check.json``, when it passed on CUDA), else
    the assumed :data:`GPU_ASSUMED_MACS_PER_SECOND`."""
    path = results_dir / GPU_CHECK_FILE
    if path.exists():
        try:
            check = json.loads(path.read_text())
            measured = float(check["throughput"]["engine_macs_per_second"])
            if check.get("device_type") == "cuda" and check.get("passed") and math.isfinite(measured) and measured > 0:
                return Rate(
                    "GPU",
                    measured,
                    f"measured: {measured / 1e12:.1f} TMAC/s, the engine's rate on {check.get('gpu', 'a GPU')} in "
                    f"benchmarks/gpu_check.sh ({path}, {check.get('finished_at', 'undated')})",
                )
        except (ValueError, KeyError, TypeError):
            pass  # an unreadable or failed check: fall back to the stated assumption
    return Rate(
        "GPU",
        GPU_ASSUMED_MACS_PER_SECOND,
        f"assumed, not measured (no GPU has run this code): {GPU_ASSUMED_MACS_PER_SECOND / 1e12:.0f} TMAC/s sustained "
        "on an A100/H100-class GPU (20 TFLOP/s, about 13% of an A100's TF32 peak); benchmarks/gpu_check.sh measures it",
    )


def _init_epochs(run: RunSpec, student: FeatureSpec, teacher: FeatureSpec | None) -> int:
    return method_builds.init_epochs(run.method.name, run.method.args, student, teacher)


def run_work(group: list) -> dict[str, float]:
    """The work of each run of a lockstep group (a list of :class:`cskd.plan.RunSpec`): its MACs from the cost model
    (:func:`group_cost`), or its main epochs when the cost is unknown (a dataset whose size is
    only known once loaded)."""
    try:
        return group_cost(group).run_macs
    except (ValueError, TypeError):
        return {run.run_id: float(run.recipe.epochs) for run in group}


def sweep_clock(suite: str, groups: list[list], pending: set[str]) -> SweepClock:
    """The clock of a sweep that trains the ``pending`` runs of ``groups``: one group per lockstep group holding
    one, its work that of its pending runs."""
    todo = [group for group in groups if any(run.run_id in pending for run in group)]
    total = sum(work for group in todo for run_id, work in run_work(group).items() if run_id in pending)
    return SweepClock(suite=suite, groups=len(todo), total=total)
