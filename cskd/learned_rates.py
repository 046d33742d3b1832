"""Training rates learned from the runs already recorded, for the dry run's hours.

A recorded row (``runs.csv``, status ``ok``) names its models, dataset, epochs (init included), training images,
lockstep size and wall-clock seconds, so its work is known without its suite: by the cost model of
:mod:`cskd.cost`, a run's share of its group is

    MACs = N * [ 3 S (E + I) + T (E + I) / L ]

for N training images, student and teacher forward MACs S and T per image, E main and I init epochs and L students
in lockstep (the teacher's forward shared among them). The learned rate is sum(MACs) / sum(wall seconds) over the rows
of one device kind, so it carries what the MAC count leaves out on that machine (evaluation, augmentation, batch
size, Python overhead). Those parts differ between suites (a batch of 32 runs at under half the MACs per second of a
batch of 128 here, and a 10,000-image test set adds more to a short run than a 1,000-image one), so the rows of the
planned suite itself are used where there are any, else the rows of every suite. Sources, in order: the rows recorded
in the results folder (this machine); else the reference rows in the checkout's ``reference/results/`` (the
development machine's 2-core CPU); else the caller's stated model (:func:`cskd.cost.cpu_rate`,
:func:`~cskd.cost.gpu_rate`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cskd.cost import Rate, model_facts
from cskd.data import dataset_input_size
from cskd.locations import SuitePaths
from cskd.results import read_runs
from cskd.suite import ModelRef

#: the reference rows of a checkout (absent from an installed package)
REFERENCE_RESULTS = Path(__file__).resolve().parents[1] / "reference" / "results"


def row_macs(row: dict[str, Any]) -> float | None:
    """The MACs of a recorded run (formula above), None when its dataset's size or a model is unknown."""
    known = dataset_input_size(str(row["dataset"]))
    if known is None:
        return None
    input_size, num_classes, _ = known
    try:
        student = json.loads(row["student_model"])
        s, _ = model_facts(ModelRef(student["name"], student["kwargs"]), num_classes, input_size)
        t = 0
        if row["teacher_model"]:
            teacher = json.loads(row["teacher_model"])
            t, _ = model_facts(ModelRef(teacher["name"], teacher["kwargs"]), num_classes, input_size)
        epochs = float(row["epochs"]) + float(row["init_epochs"] or 0)
        return float(row["train_size"]) * epochs * (3 * s + t / max(float(row["lockstep"] or 1), 1.0))
    except (ValueError, KeyError, TypeError):
        return None


def learned_rate(device: str, folders: list[Path], suite: str = "*") -> tuple[float, int, Path] | None:
    """MACs per second of the ``ok`` rows of ``device`` ("cpu" or "cuda") in the first of ``folders`` (each holding
    SUITE/runs.csv; ``suite`` a name or ``*`` for all) that has any: (rate, rows used, folder); None when none has."""
    for folder in folders:
        macs = seconds = 0.0
        used = 0
        for paths in SuitePaths.every(folder, suite):
            for row in read_runs(paths.runs_csv).to_dict("records"):
                if row["status"] != "ok" or not str(row["device"]).startswith(device):
                    continue
                work = row_macs(row)
                wall = row["wall_seconds"]
                if work and wall == wall and wall > 0:  # wall == wall: not NaN
                    macs, seconds, used = macs + work, seconds + float(wall), used + 1
        if used:
            return macs / seconds, used, folder
    return None


def calibrated(stated: Rate, device: str, results_dir: Path, suite: str = "*") -> Rate:
    """``stated`` replaced by the rate learned from recorded runs of ``device`` where there are any: those of
    ``suite`` first, else those of every suite."""
    folders = [results_dir, REFERENCE_RESULTS]
    learned = learned_rate(device, folders, suite) if suite != "*" else None
    of_suite = learned is not None
    learned = learned or learned_rate(device, folders)
    if learned is None:
        return stated
    rate, used, folder = learned
    where = "this machine" if folder == results_dir else "the development machine's 2-core CPU"
    return Rate(
        stated.device,
        rate,
        f"learned: {rate / 1e9:.1f} GMAC/s, sum of MACs over sum of wall-clock seconds of {used} finished "
        f"{device} run(s) {f'of suite {suite} ' if of_suite else 'of all suites '}recorded in {folder} ({where}); "
        "evaluation and data handling included",
    )
