"""The power of the CI regression check: a change planted in a loss makes ``cskd check`` fail, naming the run and
the term; the untouched code passes.

Each test retrains one method of ``benchmarks/ci.yaml`` exactly as ``./run_tests.sh`` does (``--deterministic``, the
shipped teacher), with or without a planted change, and checks it against the matching rows of the committed
reference (``reference/results/ci``) with the tolerances ``./run_tests.sh`` uses. A planted change leaves the run's id
unchanged (the id is the run's configuration, not its code), so it is compared with the reference run it imitates.
"""

from __future__ import annotations

import functools
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

import cskd.methods.cskd as cskd_module
import cskd.methods.kd as kd_module
from cskd.cli import main

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "reference" / "results" / "ci"


def tolerance(name: str) -> str:
    """A tolerance as ``./run_tests.sh`` sets it (one source for the script and these tests)."""
    match = re.search(rf"^{name}=(\S+)", (REPO / "run_tests.sh").read_text(), re.MULTILINE)
    assert match, f"run_tests.sh sets no {name}"
    return match.group(1)


def reference_for(method: str, folder: Path) -> Path:
    """The reference's rows (and epoch CSVs) of one method, as a runs.csv of their own."""
    runs = pd.read_csv(REFERENCE / "runs.csv", dtype=str, keep_default_na=False)
    rows = runs[runs["method"] == method]
    assert len(rows) >= 1, f"the reference has no run of {method}"
    (folder / "epochs").mkdir(parents=True)
    rows.to_csv(folder / "runs.csv", index=False)
    for run_id in rows["run_id"]:
        shutil.copy(REFERENCE / "epochs" / f"{run_id}.csv", folder / "epochs")
    return folder / "runs.csv"


def retrain_and_check(tmp_path: Path, subset_data_dir: Path, method: str, capsys) -> tuple[int, str]:
    results = tmp_path / "results"
    run = ["run", "ci", "--only", f"method={method}", "--results-dir", str(results), "--data-dir", str(subset_data_dir)]
    assert main([*run, "--deterministic", "--device", "cpu", "--no-progress"]) == 0
    capsys.readouterr()
    reference = reference_for(method, tmp_path / "reference")
    check = ["check", str(results / "ci"), "--against", str(reference)]
    tolerances = ["--tolerance", tolerance("CI_ACCURACY_TOLERANCE"), "--loss-tolerance", tolerance("CI_LOSS_TOLERANCE")]
    code = main([*check, *tolerances])
    return code, capsys.readouterr().out


def test_the_untouched_code_passes(tmp_path, subset_data_dir, capsys):
    code, out = retrain_and_check(tmp_path, subset_data_dir, "CSKD", capsys)
    assert code == 0, out
    assert "PASS: every loss term within" in out


def test_cskd_beta_set_to_zero_fails_naming_the_run_and_the_intra_term(tmp_path, subset_data_dir, capsys, monkeypatch):
    real_init = cskd_module.CategoryStructure.__init__

    @functools.wraps(real_init)  # keeps the signature the option checks read
    def beta_zero(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        self.beta = 0.0

    monkeypatch.setattr(cskd_module.CategoryStructure, "__init__", beta_zero)
    code, out = retrain_and_check(tmp_path, subset_data_dir, "CSKD", capsys)
    assert code == 1, out
    assert re.search(r"FAIL +CSKD R18_0\.125 seed 0 \(\w+\) · main epoch 1 · loss_intra", out), out
    assert "loss_inter" not in out  # the inter term is untouched, and the check says which term moved


def test_kd_temperature_changed_fails_naming_the_run(tmp_path, subset_data_dir, capsys, monkeypatch):
    real_kl = kd_module.soft_target_kl
    monkeypatch.setattr(kd_module, "soft_target_kl", lambda s, t, temperature: real_kl(s, t, temperature / 2))
    code, out = retrain_and_check(tmp_path, subset_data_dir, "KD (KL)", capsys)
    assert code == 1, out
    assert re.search(r"FAIL +KD \(KL\) R18_0\.125 seed 0 \(\w+\) · main epoch 1 · loss_kd", out), out


def test_intra_offset_sign_flipped_on_the_teacher_side_fails(tmp_path, subset_data_dir, capsys, monkeypatch):
    """The teacher's offsets become F + C instead of F - C (its class centres negated; the student side untouched)."""
    real_centers = cskd_module.class_centers

    def flipped(features, groups):
        centers = real_centers(features, groups)
        return centers if features.requires_grad else -centers

    monkeypatch.setattr(cskd_module, "class_centers", flipped)
    code, out = retrain_and_check(tmp_path, subset_data_dir, "intra only", capsys)
    assert code == 1, out
    assert re.search(r"FAIL +intra only R18_0\.125 seed 0 \(\w+\) · main epoch 1 · loss_intra", out), out


@pytest.mark.parametrize("broken", ["missing epochs", "extra term"])
def test_a_run_that_lost_its_epochs_or_gained_a_term_fails(tmp_path, broken):
    """Without training: the reference checked against a copy of itself, damaged."""
    copy = tmp_path / "results" / "ci"
    shutil.copytree(REFERENCE, copy)
    first = pd.read_csv(REFERENCE / "runs.csv", dtype=str, keep_default_na=False)["run_id"].iloc[0]
    epochs = copy / "epochs" / f"{first}.csv"
    if broken == "missing epochs":
        epochs.unlink()
    else:
        frame = pd.read_csv(epochs)
        frame["loss_planted"] = 1.0
        frame.to_csv(epochs, index=False)
    args = ["check", str(copy), "--against", str(REFERENCE / "runs.csv"), "--loss-tolerance", "1e-3"]
    assert main([*args, "--tolerance", "100"]) == 1
