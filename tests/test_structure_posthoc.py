"""benchmarks/structure_posthoc.py: the structure metrics recomputed from a run's last-epoch weights equal the ones
its training recorded; runs without them get them, resumably; a checkpoint that is not the last epoch's is refused;
benchmarks/findings.py --metric reads them where runs.csv has none."""

from __future__ import annotations

import importlib.util
import io
import shutil
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
import yaml

from cskd.results import read_runs
from cskd.runs_schema import STRUCTURE_COLUMNS

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SMALL = {"model": "cifar_resnet18_w0_25", "kwargs": {"width_multiplier": 0.5}}
SUITE = {
    "name": "mini",
    "dataset": "cifar10-jpeg",
    "train_subset": 200,
    "test_subset": 100,
    "recipe": {"epochs": 2, "batch_size": 50, "lr": 0.05, "milestones": [1]},
    "models": {"T": SMALL, "S": SMALL},
    "pairs": [["T", "S"]],
    "methods": {"CE": {"method": "ce"}, "KD": {"method": "kd"}},
    "seeds": [0],
}


def script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def quiet(function, *args) -> tuple[int, str]:
    with redirect_stdout(io.StringIO()) as out, redirect_stderr(io.StringIO()) as err:
        code = function(*args)
    return code, out.getvalue() + err.getvalue()


@pytest.fixture(scope="module")
def trained(tmp_path_factory, subset_data_dir) -> tuple[Path, Path, pd.DataFrame]:
    """A teacher run and its CE and KD students (2 epochs, 200 images): (suite file, results folder, student rows)."""
    from cskd.cli import main

    root = tmp_path_factory.mktemp("posthoc")
    suite = root / "mini.yaml"
    suite.write_text(yaml.safe_dump(SUITE))
    argv = ["run", str(suite), "--results-dir", str(root), "--data-dir", str(subset_data_dir), "--device", "cpu"]
    code, out = quiet(main, [*argv, "--no-progress"])
    assert code == 0, out
    rows = read_runs(root / "mini" / "runs.csv")
    students = rows[rows["kind"] == "student"].set_index("method")
    assert set(students.index) == {"CE", "KD"} and students["struct_nc1"].notna().all()
    return suite, root, students


def old_copy(root: Path, target: Path, top1_shift: float = 0.0) -> Path:
    """``root``'s results as runs trained before the structure metrics left them: struct_* empty (and the recorded
    last_top1 of the students moved by ``top1_shift``)."""
    shutil.copytree(root / "mini", target / "mini")
    runs = pd.read_csv(target / "mini" / "runs.csv", dtype=str, keep_default_na=False)
    runs[list(STRUCTURE_COLUMNS)] = ""
    students = runs["kind"] == "student"
    runs.loc[students, "last_top1"] = [repr(float(v) + top1_shift) for v in runs.loc[students, "last_top1"]]
    runs.to_csv(target / "mini" / "runs.csv", index=False)
    return target


def args(suite: Path, results: Path, data_dir: Path, *more: str) -> list[str]:
    return [str(results), "--suite", "mini", "--suite-file", str(suite), "--data-dir", str(data_dir), *more]


def test_recomputed_metrics_equal_the_recorded_ones(trained, subset_data_dir, tmp_path):
    suite, root, students = trained
    posthoc = script("structure_posthoc")
    code, out = quiet(posthoc.main, args(suite, root, subset_data_dir, "--verify"))
    assert code == 0, out
    assert "verifying 2 run(s)" in out and "max |recomputed - recorded| per metric" in out

    old = old_copy(root, tmp_path / "old")
    out_csv = tmp_path / "posthoc.csv"
    code, out = quiet(posthoc.main, args(suite, old, subset_data_dir, "--out", str(out_csv)))
    assert code == 0, out
    assert "2 run(s) to recompute" in out and "[2/2]" in out
    recomputed = pd.read_csv(out_csv).set_index("method")
    assert list(recomputed.columns) == list(posthoc.OUTPUT_COLUMNS[:2] + posthoc.OUTPUT_COLUMNS[3:])
    for method in ("CE", "KD"):
        row = students.loc[method]
        assert recomputed.loc[method, "run_id"] == row["run_id"]
        assert recomputed.loc[method, "test_top1"] == pytest.approx(row["last_top1"], abs=1e-9)
        for column in STRUCTURE_COLUMNS:
            if pd.isna(row[column]):  # CE trained without a teacher: no teacher comparisons, then or now
                assert pd.isna(recomputed.loc[method, column]), column
            else:
                assert recomputed.loc[method, column] == pytest.approx(row[column], rel=1e-6, abs=1e-9), column
    assert not (old / "mini" / "structure_posthoc.csv").exists()  # --out was given
    code, out = quiet(posthoc.main, args(suite, old, subset_data_dir, "--out", str(out_csv)))
    assert code == 0 and "0 run(s) to recompute" in out and len(pd.read_csv(out_csv)) == 2  # resumed: nothing redone

    # findings --metric takes the missing runs.csv values from RESULTS/SUITE/structure_posthoc.csv
    shutil.copy(out_csv, old / "mini" / "structure_posthoc.csv")
    findings = script("findings")
    sources: dict[str, int] = {}
    values = findings.arm_values(old, "mini", "last", None, "struct_nc1", sources)
    assert sources == {"structure_posthoc.csv": 2}
    assert values["KD"][0] == pytest.approx(students.loc["KD", "struct_nc1"], rel=1e-6)
    sources = {}
    assert findings.arm_values(root, "mini", "last", None, "struct_nc1", sources)["KD"][0] == pytest.approx(
        students.loc["KD", "struct_nc1"]
    )
    assert sources == {"runs.csv": 2}


def test_a_checkpoint_that_is_not_the_last_epochs_is_refused(trained, subset_data_dir, tmp_path):
    suite, root, students = trained
    old = old_copy(root, tmp_path / "old", top1_shift=1.0)  # as if the checkpoints held another epoch's weights
    code, out = quiet(script("structure_posthoc").main, args(suite, old, subset_data_dir))
    assert code == 1
    assert out.count("] REFUSED ") == 2 and students.loc["KD", "run_id"] in out
    assert "does not hold the last epoch's weights" in out and "2 run(s) refused" in out
    assert not (old / "mini" / "structure_posthoc.csv").exists()


def test_teachers_writes_the_teachers_own_metrics(trained, subset_data_dir, tmp_path):
    suite, root, _ = trained
    posthoc = script("structure_posthoc")
    out_csv = tmp_path / "teachers.csv"
    code, out = quiet(posthoc.main, args(suite, root, subset_data_dir, "--teachers", "--out", str(out_csv)))
    assert code == 0, out
    teachers = pd.read_csv(out_csv)
    assert list(teachers.columns) == list(posthoc.TEACHER_COLUMNS) and len(teachers) == 1  # CE has no teacher
    row = teachers.iloc[0]
    runs = read_runs(root / "mini" / "runs.csv")
    teacher_run = runs[runs["kind"] == "teacher"].iloc[-1]
    assert row["source"] == f"run:{teacher_run['run_id']}" and row["teacher_model"] == "cifar_resnet18_w0_25"
    # the same weights and test images as training's evaluation: the teacher's recorded last-epoch top-1
    assert row["test_top1"] == pytest.approx(teacher_run["last_top1"], abs=1e-9)
    assert row["struct_nc1"] > 0 and row["struct_distance_ratio"] > 0 and 0 <= row["struct_ece"] <= 100


def paired_copy(root: Path, target: Path, differences: list[float]) -> Path:
    """``root``'s results with CE and KD students on seeds 0..n-1 whose struct_nc1 and struct_ece differ, KD - CE,
    by ``differences`` (CE: 10 + seed)."""
    shutil.copytree(root / "mini", target / "mini")
    runs = pd.read_csv(target / "mini" / "runs.csv", dtype=str, keep_default_na=False)
    ce, kd = (runs[(runs["kind"] == "student") & (runs["method"] == m)].iloc[-1] for m in ("CE", "KD"))
    rows = [runs[runs["kind"] == "teacher"]]
    for seed, difference in enumerate(differences):
        for template, value in ((ce, 10.0 + seed), (kd, 10.0 + seed + difference)):
            row = template.copy()
            row["run_id"], row["seed"] = f"{template['run_id'][:12]}{seed:04d}", str(seed)
            row["struct_nc1"] = row["struct_ece"] = repr(value)
            rows.append(row.to_frame().T)
    pd.concat(rows).to_csv(target / "mini" / "runs.csv", index=False)
    return target


def test_findings_corrects_a_family_of_metrics_together(trained, tmp_path, monkeypatch):
    """d = (1, 2, 3): mean 2, sd 1, n 3. One comparison: t_{0.975,2}/sqrt(3) = 2.484; two metrics of one comparison
    each are a family of M = 2: t_{1-0.025/2,2}/sqrt(3) = 3.583 (tabulated t quantiles 4.303 and 6.205)."""
    _, root, _ = trained
    results = paired_copy(root, tmp_path / "paired", [1.0, 2.0, 3.0])
    findings = script("findings")

    def run(*metrics: str) -> str:
        argv = ["findings.py", str(results), "--suite", "mini", "--against", "CE", "--out", str(tmp_path / "out")]
        monkeypatch.setattr(sys, "argv", [*argv, "--metric", *metrics])
        with redirect_stdout(io.StringIO()) as out:
            findings.main()
        return out.getvalue()

    alone = run("struct_nc1")
    assert "| KD | 3 | 13 ± 2 | +2 ±2.5; ±2.5 |" in alone and "over all 1 comparisons of the table" in alone
    family = run("struct_nc1", "struct_ece")
    assert family.count("+2 ±2.5; ±3.6 |") == 2 and "over all 2 comparisons of every table" in family
    assert (tmp_path / "out" / "mini-struct_nc1-struct_ece-findings.md").is_file()
    assert (tmp_path / "out" / "mini-struct_ece-forest.png").is_file()
    # the teacher's own value is shown where teacher_structure.csv has the metric
    (results / "mini" / "teacher_structure.csv").write_text(
        "teacher,teacher_model,source,test_subset,test_top1,struct_nc1,struct_distance_ratio,struct_ece\n"
        "T,cifar_resnet18_w0_25,run:x,100,50.0,0.75,0.5,3.0\n"
    )
    assert "The teacher's own value on the same test pass: T (cifar_resnet18_w0_25): 0.75." in run("struct_nc1")


def test_findings_compares_one_profile_and_refuses_two_runs_of_one_arm_and_seed(trained, tmp_path):
    _, root, _ = trained
    results = paired_copy(root, tmp_path / "paired", [1.0, 2.0, 3.0])
    runs = pd.read_csv(results / "mini" / "runs.csv", dtype=str, keep_default_na=False)
    kd0 = runs[(runs["method"] == "KD") & (runs["seed"] == "0")].iloc[0].copy()
    other = kd0.copy()
    other["run_id"], other["profile"], other["struct_nc1"] = "otherprofile0001", "code_schedule", "99.0"
    pd.concat([runs, other.to_frame().T]).to_csv(results / "mini" / "runs.csv", index=False)
    findings = script("findings")
    # the default profile (full) leaves another profile's KD out; --profile takes only it
    assert findings.arm_values(results, "mini", "last", None, "struct_nc1")["KD"][0] == pytest.approx(11.0)
    assert findings.arm_values(results, "mini", "last", "code_schedule", "struct_nc1") == {"KD": {0: 99.0}}
    with pytest.raises(SystemExit, match="no ok student run of profile n5000; its profiles: code_schedule, full"):
        findings.arm_values(results, "mini", "last", "n5000", "struct_nc1")
    twin = kd0.copy()
    twin["run_id"], twin["struct_nc1"] = "samearmseed00001", "50.0"
    pd.concat([runs, twin.to_frame().T]).to_csv(results / "mini" / "runs.csv", index=False)
    with pytest.raises(SystemExit, match=r"several full runs of KD seed 0 \(.*samearmseed00001\)"):
        findings.arm_values(results, "mini", "last", None, "struct_nc1")
