"""The structure metrics in the engine's test pass: every registered model family and the benchmark's pairs, a
trained group on real data (epoch CSV, outcome, teacher-free runs), and runs.csv files of the older layout."""

from __future__ import annotations

import math
from contextlib import nullcontext
from pathlib import Path

import pandas as pd
import pytest
import torch

from cskd.data import DeviceLoader, load_subset
from cskd.engine.recipe import Recipe
from cskd.engine.structure_eval import evaluate_with_structure, forward_test_set
from cskd.engine.trainer import EngineOptions, StudentJob, train_group
from cskd.models import create_model, model_names, paper_model_names
from cskd.results import FIRST_RUN_COLUMNS, RUN_COLUMNS, append_run_row, read_runs
from cskd.structure import STRUCTURE_COLUMNS, STUDENT_ONLY, TEACHER_COMPARISON

#: one name per architecture: every model outside the paper's ResNets, and the paper's families at two depths
ARCHITECTURES = sorted(set(model_names()) - set(paper_model_names())) + [
    f"{prefix}_resnet{depth}" for prefix in ("cifar", "tin", "in") for depth in (18, 50)
]


def tiny_loader(size: int = 32, count: int = 12, classes: int = 4) -> DeviceLoader:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (count, 3, size, size), dtype=torch.uint8, generator=generator)
    return DeviceLoader(images, torch.arange(count) % classes, batch_size=5, augment=None, train=False)


def finite(values: dict[str, float], columns) -> bool:
    return all(math.isfinite(values[c]) for c in columns)


@pytest.fixture(scope="module")
def reference_teacher():
    torch.manual_seed(0)
    return create_model("crd_resnet8x4", num_classes=4, width_multiplier=0.25).eval()


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_every_architecture_gets_every_metric(name, reference_teacher):
    torch.manual_seed(0)
    student = create_model(name, num_classes=4, width_multiplier=0.25)
    loader = tiny_loader()
    teacher = forward_test_set(reference_teacher, loader, nullcontext)
    values = evaluate_with_structure(student, loader, nullcontext, teacher)
    assert finite(values, STRUCTURE_COLUMNS), values
    assert student.training  # built in training mode: the test pass leaves the mode as it found it
    alone = evaluate_with_structure(student, loader, nullcontext, None)
    assert finite(alone, STUDENT_ONLY) and all(math.isnan(alone[c]) for c in TEACHER_COMPARISON)


def benchmark_pairs() -> list[tuple[str, str]]:
    from cskd.plan import expand
    from cskd.suite import load_suite

    pairs = set()
    for suite in ("kd_cifar100_same", "kd_cifar100_cross", "table1", "table2"):
        for run in expand(load_suite(suite), seeds=[0]).runs:
            if run.teacher_model is not None and run.kind == "student":
                pairs.add((run.teacher_model.name, run.student_model.name))
    return sorted(pairs)


@pytest.mark.parametrize("pair", benchmark_pairs(), ids="->".join)
def test_every_teacher_student_pair_of_the_suites_compares(pair):
    torch.manual_seed(0)
    teacher, student = (create_model(name, num_classes=4, width_multiplier=0.25) for name in pair)
    loader = tiny_loader()
    values = evaluate_with_structure(student, loader, nullcontext, forward_test_set(teacher, loader, nullcontext))
    assert finite(values, STRUCTURE_COLUMNS), values


def test_a_trained_group_records_the_metrics_per_epoch_and_at_the_end(tmp_path: Path, subset_data_dir: Path):
    data = load_subset("cifar10-jpeg", subset_data_dir, 200, 100, seed=0)
    recipe = Recipe(epochs=2, batch_size=50, lr=0.05, milestones=(1,))
    options = EngineOptions(progress=False)
    small = {"width_multiplier": 0.5}

    def job(name: str, method: str) -> StudentJob:
        return StudentJob(
            run_id=name,
            model="cifar_resnet18_w0_25",
            model_kwargs=small,
            method=method,
            checkpoint=tmp_path / f"{name}.pt",
            epochs_csv=tmp_path / f"{name}.csv",
        )

    (alone,) = train_group([job("teacher", "ce")], data, recipe, options)
    assert alone.status == "ok"
    assert all(alone.structure[c] is not None for c in STUDENT_ONLY)
    assert all(alone.structure[c] is None for c in TEACHER_COMPARISON)  # no teacher at hand: empty, not made up
    teacher = create_model("cifar_resnet18_w0_25", num_classes=10, **small)
    teacher.load_state_dict(torch.load(tmp_path / "teacher.pt", weights_only=False)["model"])
    outcomes = train_group([job("ce", "ce"), job("kd", "kd"), job("cskd", "cskd")], data, recipe, options, teacher)
    for outcome in outcomes:
        assert outcome.status == "ok", outcome.error
        assert all(outcome.structure[c] is not None for c in STRUCTURE_COLUMNS), outcome  # CE too: a teacher is here
        history = pd.read_csv(tmp_path / f"{outcome.run_id}.csv")
        assert set(STRUCTURE_COLUMNS) <= set(history.columns) and len(history) == 2
        assert history[list(STRUCTURE_COLUMNS)].notna().all().all()
        assert outcome.structure["struct_nc1"] == pytest.approx(history["struct_nc1"].iloc[-1])
        assert 0 <= outcome.structure["struct_agreement"] <= 100 and 0 <= outcome.structure["struct_cka"] <= 1 + 1e-9


def old_row(run_id: str, **values) -> dict:
    return {c: values.get(c, "") for c in FIRST_RUN_COLUMNS} | {"run_id": run_id, "status": "ok", "seed": 0}


def test_an_older_runs_csv_reads_and_takes_new_rows(tmp_path: Path):
    path = tmp_path / "runs.csv"
    frame = pd.DataFrame([old_row("a", error="two\nlines"), old_row("b", best_top1=50.0)], columns=FIRST_RUN_COLUMNS)
    frame.to_csv(path, index=False, lineterminator="\r\n")
    with path.open("a", newline="") as stream:
        stream.write("c,torn")  # a damaged record (a write torn by a crash): kept as it was
    before = read_runs(path)
    assert list(before.columns) == list(RUN_COLUMNS) and before[list(STRUCTURE_COLUMNS)].isna().all().all()
    assert list(before["run_id"]) == ["a", "b"] and before["error"].iloc[0] == "two\nlines"
    append_run_row(path, {"run_id": "d", "status": "ok", "seed": 1, "struct_nc1": 0.25, "struct_cka": 0.5})
    after = read_runs(path)
    assert list(after["run_id"]) == ["a", "b", "d"] and after["error"].iloc[0] == "two\nlines"
    assert after["best_top1"].iloc[1] == 50.0 and after["struct_nc1"].iloc[2] == 0.25
    assert after["struct_nc1"].iloc[:2].isna().all()
    assert "c,torn" in path.read_text() and path.read_text().splitlines()[0] == ",".join(RUN_COLUMNS)
