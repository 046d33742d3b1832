"""Category-structure metrics (cskd/structure.py) against values computed by hand on tiny tensors."""

import math

import pytest
import torch

from cskd import structure
from cskd.runs_schema import STRUCTURE_COLUMNS
from cskd.structure import structure_metrics

# class 0: (1, 0), (3, 0) -> mean (2, 0); class 1: (0, 2), its only sample -> mean (0, 2)
EMBEDDING = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]])
LABELS = torch.tensor([0, 0, 1])


def test_nc1_by_hand_with_a_one_sample_class():
    # mu_G = (1, 1); Sigma_B = [[1, -1], [-1, 1]] = 2 v v^T with v = (1, -1)/sqrt(2), so Sigma_B^+ = v v^T / 2;
    # Sigma_W = diag(2/3, 0) (offsets (-1, 0), (1, 0), (0, 0) over N = 3); tr(Sigma_W Sigma_B^+) = (1/3) / 2 = 1/6
    assert structure.nc1(EMBEDDING, LABELS) == pytest.approx(1 / 12)


def test_nc1_matches_the_dense_pseudo_inverse_formula():
    generator = torch.Generator().manual_seed(0)
    h = torch.randn(40, 6, generator=generator, dtype=torch.float64)
    y = torch.arange(40) % 4
    means = torch.stack([h[y == c].mean(0) for c in range(4)])
    within = h - means[y]
    sigma_w = within.T @ within / 40
    centred = means - means.mean(0)
    sigma_b = centred.T @ centred / 4
    dense = torch.trace(sigma_w @ torch.linalg.pinv(sigma_b)) / 4
    assert structure.nc1(h, y) == pytest.approx(float(dense))


def test_distance_ratio_by_hand():
    # within distances 1, 1, 0 -> 2/3; the one pair of means is 2 sqrt(2) apart
    assert structure.distance_ratio(EMBEDDING, LABELS) == pytest.approx((2 / 3) / (2 * math.sqrt(2)))


def test_a_missing_class_is_left_out():
    gap = torch.tensor([0, 0, 5])  # classes 1..4 have no test sample
    assert structure.nc1(EMBEDDING, gap) == pytest.approx(structure.nc1(EMBEDDING, LABELS))
    assert structure.distance_ratio(EMBEDDING, gap) == pytest.approx(structure.distance_ratio(EMBEDDING, LABELS))
    assert structure.center_cosines(EMBEDDING, gap).shape == (2, 2)


def test_identical_embeddings_have_no_structure_to_measure():
    same = torch.full((6, 3), 0.1)
    labels = torch.tensor([0, 0, 0, 1, 2, 2])
    assert math.isnan(structure.nc1(same, labels))
    assert math.isnan(structure.distance_ratio(same, labels))
    assert math.isnan(structure.linear_cka(same, torch.randn(6, 2)))
    correlation, mse = structure.center_cosine_agreement(same, same, labels)
    assert math.isnan(correlation) and mse == pytest.approx(0.0)


def test_one_class_leaves_the_between_class_metrics_undefined():
    assert math.isnan(structure.nc1(EMBEDDING, torch.zeros(3, dtype=torch.long)))
    assert math.isnan(structure.distance_ratio(EMBEDDING, torch.zeros(3, dtype=torch.long)))


def test_center_cosine_agreement_by_hand():
    labels = torch.tensor([0, 1, 2])
    student = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # off-diagonal cosines 0, 1/sqrt2, 1/sqrt2
    teacher = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # off-diagonal cosines 1, 0, 0
    correlation, mse = structure.center_cosine_agreement(student, teacher, labels)
    assert correlation == pytest.approx(-1.0)  # student = (1 - teacher) / sqrt2 entry by entry
    assert mse == pytest.approx(4 / 9)  # squared differences 1, 1/2, 1/2, each twice, over 3 x 3 entries


def test_center_cosine_correlation_needs_two_pairs_of_classes():
    correlation, mse = structure.center_cosine_agreement(EMBEDDING, EMBEDDING, LABELS)
    assert math.isnan(correlation) and mse == pytest.approx(0.0)


def test_linear_cka_by_hand_and_invariances():
    x = torch.tensor([[1.0], [2.0], [3.0]])  # centred (-1, 0, 1)
    y = torch.tensor([[1.0], [0.0], [0.0]])  # centred (2, -1, -1) / 3
    assert structure.linear_cka(x, y) == pytest.approx(3 / 4)  # (x.y)^2 / (|x|^2 |y|^2) = 1 / (2 * 2/3)
    h = torch.randn(20, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    rotation, _ = torch.linalg.qr(torch.randn(5, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64))
    assert structure.linear_cka(h, 3 * h @ rotation + 7) == pytest.approx(1.0)


def test_agreement_and_softened_kl_by_hand():
    teacher = torch.tensor([[0.0, 0.0], [2.0, 1.0]])
    student = torch.tensor([[4 * math.log(3), 0.0], [0.0, 1.0]])
    assert structure.top1_agreement(student, teacher) == pytest.approx(50.0)  # 0 = 0 (tie: first), 1 != 0
    first = structure.softened_kl(student[:1], teacher[:1])  # p_t = (1/2, 1/2), p_s = (3/4, 1/4) at T = 4
    assert first == pytest.approx(0.5 * math.log(4 / 3))
    assert structure.softened_kl(teacher, teacher) == pytest.approx(0.0)


def test_expected_calibration_error_by_hand():
    logits = torch.tensor([[math.log(9), 0.0], [math.log(9), 0.0], [math.log(3), 0.0]])  # confidences .9, .9, .75
    labels = torch.tensor([0, 1, 0])
    # bin (13/15, 14/15]: accuracy 1/2 at confidence .9; bin (11/15, 12/15]: accuracy 1 at .75
    expected = 2 / 3 * abs(0.5 - 0.9) + 1 / 3 * abs(1.0 - 0.75)
    assert structure.expected_calibration_error(logits, labels) == pytest.approx(100 * expected)
    certain = torch.tensor([[50.0, 0.0], [0.0, 50.0]])  # confidence 1, both right: perfectly calibrated
    assert structure.expected_calibration_error(certain, torch.tensor([0, 1])) == pytest.approx(0.0, abs=1e-9)


def test_structure_metrics_without_a_teacher_leaves_the_comparison_empty():
    logits = torch.tensor([[2.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    values = structure.structure_metrics(EMBEDDING, logits, LABELS)
    assert set(values) == set(structure.STRUCTURE_COLUMNS)
    assert values["struct_nc1"] == pytest.approx(1 / 12)
    assert all(math.isnan(values[c]) for c in structure.TEACHER_COMPARISON)
    with_teacher = structure.structure_metrics(EMBEDDING, logits, LABELS, 2 * EMBEDDING, logits)
    assert with_teacher["struct_cka"] == pytest.approx(1.0)
    assert with_teacher["struct_agreement"] == pytest.approx(100.0)
    assert with_teacher["struct_kl_t4"] == pytest.approx(0.0)
    assert with_teacher["struct_center_mse"] == pytest.approx(0.0)


def test_a_diverged_network_has_no_structure_rather_than_an_error():
    """Non-finite embeddings (a diverged run, e.g. FT at CPU scale) give NaN for every metric, never a raise."""
    labels = torch.tensor([0, 0, 1, 1])
    embedding = torch.tensor([[1.0, 0.0], [float("nan"), 1.0], [0.0, 1.0], [1.0, 1.0]])
    logits = torch.zeros(4, 2)
    values = structure_metrics(embedding, logits, labels, embedding.nan_to_num(), logits)
    assert set(values) == set(STRUCTURE_COLUMNS) and all(math.isnan(v) for v in values.values())
    finite = embedding.nan_to_num()
    teacher = structure_metrics(finite, logits, labels, embedding, logits)
    assert math.isfinite(teacher["struct_distance_ratio"]) and math.isnan(teacher["struct_cka"])
