"""The suites beyond the paper's four tables: the authors' README results (readme_cifar10, readme_cub) and the CRD
CIFAR-100 benchmark (kd_cifar100_same, kd_cifar100_cross). Each validates, plans with costs, and its CPU profile
trains end to end on real images and renders its report against the published numbers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from cub_layout import write_cub_tree

from cskd.cli import main
from cskd.data import cub
from cskd.plan import expand
from cskd.results import read_runs
from cskd.suite import load_suite

SUITES = ("readme_cifar10", "readme_cub", "kd_cifar100_same", "kd_cifar100_cross")
SAME_PAIRS = [
    ("wrn_40_2", "wrn_16_2"),
    ("wrn_40_2", "wrn_40_1"),
    ("resnet56", "resnet20"),
    ("resnet110", "resnet20"),
    ("resnet110", "resnet32"),
    ("resnet32x4", "resnet8x4"),
    ("vgg13", "vgg8"),
]
CROSS_PAIRS = [
    ("vgg13", "MobileNetV2"),
    ("ResNet50", "MobileNetV2"),
    ("ResNet50", "vgg8"),
    ("resnet32x4", "ShuffleV1"),
    ("resnet32x4", "ShuffleV2"),
    ("wrn_40_2", "ShuffleV1"),
]
PUBLISHED = [
    "KD",
    "FitNet",
    "AT",
    "SP",
    "CC",
    "VID",
    "RKD",
    "PKT",
    "AB",
    "FT",
    "FSP",
    "NST",
    "CRD",
    "CRD+KD",
    "DKD",
    "ReviewKD",
]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("readme_cifar10", 1 + 2 + 2 * 5),  # a teacher, two CE students, 2 pairs x 5 distillation methods
        ("readme_cub", 1 + 2 + 2 * 5),
        ("kd_cifar100_same", 5 + 3 * (6 + 7 * 18 - 1)),  # 5 teachers; per seed 6 CE students, 7 pairs x 18, no FSP once
        ("kd_cifar100_cross", 4 + 3 * (4 + 6 * 17)),
    ],
)
def test_suites_validate_and_expand(name, expected):
    suite = load_suite(name)
    assert len(expand(suite).runs) == expected
    assert 0 < len(expand(suite, "cpu").runs) <= expected


def test_readme_suites_follow_the_readme_tables():
    cifar, cub_suite = load_suite("readme_cifar10"), load_suite("readme_cub")
    assert (cifar.paper_table, cifar.dataset, cub_suite.paper_table, cub_suite.dataset) == (
        "readme-cifar10",
        ("cifar10",),
        "readme-cub",
        ("cub200",),
    )
    for suite in (cifar, cub_suite):
        assert [m.label for m in suite.methods] == ["CE", "KD", "FitNet", "AB", "CCKD", "CSKD"]
        assert next(m for m in suite.methods if m.label == "KD").args == {"form": "mse"}
    assert [(p.teacher, p.student) for p in cifar.pairs] == [("InceptionV3", "MobileNetV2"), ("InceptionV3", "VGG11")]
    assert {label: m.name for label, m in cub_suite.models.items()} == {
        "ResNet50": "in_resnet50_w1",
        "ResNet18_0.5": "in_resnet18_w0_5",
        "ResNet18_0.25": "in_resnet18_w0_25",
    }
    assert cifar.recipe == load_suite("table1").recipe and cub_suite.recipe == load_suite("table3").recipe


def test_crd_suites_use_the_benchmark_recipe_labels_and_per_pair_settings():
    same, cross = load_suite("kd_cifar100_same"), load_suite("kd_cifar100_cross")
    assert [(p.teacher, p.student) for p in same.pairs] == SAME_PAIRS
    assert [(p.teacher, p.student) for p in cross.pairs] == CROSS_PAIRS
    assert [m.label for m in same.methods] == ["CE", *PUBLISHED, "CSKD-paper", "CSKD-code"]
    assert [m.label for m in cross.methods] == ["CE", *[m for m in PUBLISHED if m != "FSP"], "CSKD-paper", "CSKD-code"]
    for suite in (same, cross):
        assert suite.seeds == [0, 1, 2] and suite.dataset == ("cifar100",)
        r = suite.recipe
        assert (r.epochs, r.batch_size, r.lr, r.momentum, r.weight_decay) == (240, 64, 0.05, 0.9, 5e-4)
        assert (r.milestones, r.lr_factor) == ((150, 180, 210), 0.1)
    plan = expand(cross)
    for run in plan.runs:
        expected = 0.01 if run.student in ("MobileNetV2", "ShuffleV1", "ShuffleV2") else 0.05
        assert run.recipe.lr == expected, run.describe()
    dkd = {(r.teacher, r.student): r.method.args["beta"] for r in expand(same).runs if r.method.label == "DKD"}
    assert (
        dkd[("resnet56", "resnet20")] == 2.0 and dkd[("vgg13", "vgg8")] == 6.0 and dkd[("resnet32x4", "resnet8x4")] == 8
    )
    fsp = {(r.teacher, r.student) for r in expand(same).runs if r.method.label == "FSP"}
    assert fsp == set(SAME_PAIRS) - {("wrn_40_2", "wrn_40_1")}
    teachers = {r.student: r.run_id for r in expand(same).runs if r.kind == "teacher"}
    shared = {r.student: r.run_id for r in plan.runs if r.kind == "teacher"}
    assert {label: teachers[label] for label in ("vgg13", "resnet32x4", "wrn_40_2")} == {
        label: shared[label] for label in ("vgg13", "resnet32x4", "wrn_40_2")
    }  # identical teachers: one run id, trained once and reused by the other suite


@pytest.mark.parametrize("name", SUITES)
def test_dry_run_plans_the_full_suite_with_costs(name, capsys, tmp_path):
    assert main(["run", name, "--dry-run", "--results-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    runs = len(expand(load_suite(name)).runs)
    assert f"{runs} runs (0 done, {runs} to do)" in lines
    planned = [line for line in lines if "[ to do]" in line]
    assert len(planned) == runs and all("CPU-h" in line and "GPU-h" in line for line in planned)


# ---------------------------------------------------------------- CPU profiles, end to end, and their reports


def run_cpu_profile(
    name: str, results: Path, data_dir: Path, may_diverge: frozenset[str] = frozenset()
) -> pd.DataFrame:
    code = main(
        [
            "run",
            name,
            "--profile",
            "cpu",
            "--results-dir",
            str(results),
            "--data-dir",
            str(data_dir),
            "--device",
            "cpu",
            "--no-progress",
        ]
    )
    runs = read_runs(results / name / "runs.csv")  # text columns as text, even when every value is empty
    failed = runs[runs["status"] != "ok"]
    diverged = failed["method"].isin(may_diverge) & failed["error"].str.contains("not finite")
    assert diverged.all(), failed[["method", "student", "error"]].to_string()
    assert code == (1 if len(failed) else 0)  # a failed run is recorded failed and makes the sweep exit 1
    assert len(runs) == len(expand(load_suite(name), "cpu").runs)
    assert (runs["profile"] == "cpu").all() and (runs[runs["status"] == "ok"]["epochs"] == 1).all()
    return runs


def render(name: str, results: Path) -> str:
    reports = results / "reports"
    assert main(["report", name, "--results-dir", str(results), "--reports-dir", str(reports), "--profile", "cpu"]) == 0
    return (reports / f"{name}-cpu.md").read_text()


@pytest.mark.slow
def test_readme_cifar10_cpu_profile_trains_and_reports(tmp_path, subset_data_dir):
    runs = run_cpu_profile("readme_cifar10", tmp_path, subset_data_dir)
    assert (runs["dataset"] == "cifar10-jpeg").all() and (runs["train_size"] == 300).all()
    text = render("readme_cifar10", tmp_path)
    for value in ("94.21", "91.44", "93.06", "89.66", "93.80"):  # teacher, CE and CSKD of both pairs, as printed
        assert value in text


@pytest.mark.slow
def test_readme_cub_cpu_profile_trains_on_a_cub_tree_and_reports(tmp_path, jpeg_images, monkeypatch):
    tree = write_cub_tree(tmp_path / "data", jpeg_images, num_classes=10, train=20, test=10)
    monkeypatch.setattr(cub, "RELEASE", tree.release())
    runs = run_cpu_profile("readme_cub", tmp_path / "results", tmp_path / "data")
    assert (runs["dataset"] == "cub200").all()
    assert (runs["train_size"] == 200).all() and (runs["test_size"] == 100).all()
    assert runs["dataset_source"].str.contains("CUB-200-2011").all()
    text = render("readme_cub", tmp_path / "results")
    for value in ("53.09", "45.91", "51.60", "53.13"):  # teacher; CE, KD and CSKD of the profile's pair
        assert value in text


@pytest.mark.slow
@pytest.mark.parametrize(("name", "published"), [("kd_cifar100_same", "69.06"), ("kd_cifar100_cross", "64.60")])
def test_crd_cpu_profiles_train_every_method_and_report_the_published_values(
    name, published, tmp_path, subset_data_dir
):
    # FT diverges (nan) at this scale: its paraphraser is fitted for one epoch to a one-epoch thinned teacher's
    # maps; FSP may too (its Gram matrices of a teacher at chance after one epoch; seen on an AMX Xeon in NCHW); such
    # a run must then be recorded failed, never ok (a known problem of the CPU profile, not of the method)
    runs = run_cpu_profile(name, tmp_path, subset_data_dir, may_diverge=frozenset({"FT", "FSP"}))
    suite = load_suite(name)
    assert set(runs["method"]) == {"Teacher", *(m.label for m in suite.methods)}
    for run in runs.itertuples():  # the recipe each run trained with: lr 0.01 for MobileNetV2, 0.05 for the others
        epochs = pd.read_csv(tmp_path / name / "epochs" / f"{run.run_id}.csv")
        main_lr = epochs[epochs["phase"] == "main"]["lr"]
        assert (main_lr == (0.01 if run.student == "MobileNetV2" else 0.05)).all(), (run.method, run.student)
    text = render(name, tmp_path)
    assert published in text  # the published CE ("Student") value of the profile's pair
