"""The CRD CIFAR-100 suites run as their sources ran them (issue 19): FitNet's hint weight, FT's init-stage learning
rate per student family, and ReviewKD and CRD+KD settings, all read from the plan's resolved per-pair settings."""

from __future__ import annotations

import re

import pytest
import torch
from random_features import random_features
from torch import nn

from cskd.features import FeatureSpec
from cskd.methods import build_method
from cskd.plan import expand
from cskd.suite import load_suite

SUITES = ("kd_cifar100_same", "kd_cifar100_cross")
#: RepDistiller's helper/pretrain.py: the students whose FT init stage runs at lr 0.01 (every other: the student's lr)
RESNET_OR_WRN_STUDENT = re.compile(r"^(resnet(8|14|20|32|44|56|110)(x4)?|wrn_(16|40)_[12])$")


def _runs(name: str, label: str):
    return [run for run in expand(load_suite(name)).runs if run.method.label == label]


@pytest.mark.parametrize("name", SUITES)
def test_fitnet_hint_term_is_repdistillers_100_times_mse(name):
    """RepDistiller's FitNet (-a 0 -b 100, HintLoss = nn.MSELoss): CE + 100 * MSE(regressed student map, hint)."""
    runs = _runs(name, "FitNet")
    assert runs
    student = FeatureSpec((4, 6, 8), ((8, 8), (4, 4), (2, 2)), 8, 5)
    teacher = FeatureSpec((5, 7, 9), ((8, 8), (4, 4), (2, 2)), 9, 5)
    for args in {tuple(sorted(run.method.args.items())) for run in runs}:
        method = build_method("fitnet", dict(args), student, teacher)
        s, t = random_features(student, 0, batch=2), random_features(teacher, 1, batch=2)
        terms = method(s, t, torch.tensor([0, 3]))
        regressed = method.regressor(s.stages[1])
        expected = 100 * nn.MSELoss()(regressed, t.stages[1])
        torch.testing.assert_close(terms["hint"], expected)
        assert "kd" not in terms or float(terms["kd"]) == 0.0  # no KL term: RepDistiller's -a 0
        (got,) = torch.autograd.grad(terms["hint"], s.stages[1])
        (want,) = torch.autograd.grad(100 * nn.MSELoss()(method.regressor(s.stages[1]), t.stages[1]), s.stages[1])
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("name", SUITES)
def test_ft_init_lr_follows_repdistillers_rule_per_student_family(name):
    """RepDistiller's FT init stage: lr 0.01 for ResNet/WRN students, the student's learning rate otherwise."""
    runs = _runs(name, "FT")
    assert runs
    for run in runs:
        expected = 0.01 if RESNET_OR_WRN_STUDENT.match(run.student) else run.recipe.lr
        assert run.method.args["init_lr"] == pytest.approx(expected), run.describe()
    assert any(run.student == "vgg8" and run.method.args["init_lr"] == pytest.approx(0.05) for run in runs)


def test_reviewkd_and_crd_kd_settings_follow_their_sources():
    """ReviewKD's weight per pair (the authors' script/reviewKD.sh, 5 where it has none); CRD+KD = -r 1 -a 1 -b 0.8."""
    weights = {
        (run.teacher, run.student): run.method.args["review_weight"]
        for name in SUITES
        for run in _runs(name, "ReviewKD")
    }
    assert weights[("resnet56", "resnet20")] == 0.6 and weights[("resnet110", "resnet32")] == 1.0
    assert weights[("resnet32x4", "ShuffleV2")] == 8.0 and weights[("wrn_40_2", "wrn_16_2")] == 5.0
    for name in SUITES:
        for run in _runs(name, "CRD+KD"):
            args = run.method.args
            assert (run.method.name, args["ce_weight"], args["kd_weight"], args["crd_weight"]) == ("crd", 1, 1, 0.8)
