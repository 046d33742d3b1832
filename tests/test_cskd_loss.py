"""The CSKD loss (both variants, every ablation switch) against references written with explicit Python loops over
samples, classes and feature entries, plus its edge cases (one-sample classes, absent classes, one-class batches,
zero centers, zero differences, bf16)."""

from __future__ import annotations

import math

import pytest
import torch

from cskd.features import Features, FeatureSpec
from cskd.methods import build_method
from cskd.methods.category_structure import COSINE_EPS

TEACHER_CHANNELS, STUDENT_CHANNELS, SIDE, CLASSES = 3, 2, 2, 4
#: class 1 absent, class 3 has a single sample
LABELS = [0, 2, 0, 2, 2, 3]


def spec(channels: int) -> FeatureSpec:
    return FeatureSpec((channels,), ((SIDE, SIDE),), embedding_dim=channels, num_classes=CLASSES)


def features(maps: torch.Tensor, logits: torch.Tensor) -> Features:
    return Features(stages=[maps], embedding=maps.mean(dim=(2, 3)), logits=logits)


def make_batch(seed: int = 0, *, grad: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Teacher and student maps and logits. Teacher: right on samples 0-2, wrong on 3-5 (class 3 has no right
    sample); student: right on sample 0 only (class 2 has none)."""
    g = torch.Generator().manual_seed(seed)
    batch = len(LABELS)
    teacher_maps = torch.randn(batch, TEACHER_CHANNELS, SIDE, SIDE, generator=g)
    student_maps = torch.randn(batch, STUDENT_CHANNELS, SIDE, SIDE, generator=g)
    teacher_logits = 0.1 * torch.randn(batch, CLASSES, generator=g)
    student_logits = 0.1 * torch.randn(batch, CLASSES, generator=g)
    for j, y in enumerate(LABELS):
        teacher_logits[j, y if j <= 2 else (y + 1) % CLASSES] += 5
        student_logits[j, y if j == 0 else (y + 1) % CLASSES] += 5
    for tensor in (teacher_maps, student_maps, teacher_logits, student_logits):
        tensor.requires_grad_(grad)
    return teacher_maps, student_maps, teacher_logits, student_logits


def set_sigma(method, seed: int = 1) -> list[list[float]]:
    """Give sigma a known weight matrix ``[teacher channels][student channels]`` and return it."""
    weight = torch.randn(TEACHER_CHANNELS, STUDENT_CHANNELS, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        method.sigma[0].weight.copy_(weight.view(TEACHER_CHANNELS, STUDENT_CHANNELS, 1, 1))
    return weight.tolist()


# ---- references: plain Python on nested lists --------------------------------------------------------------------


def rows(tensor: torch.Tensor) -> list[list[float]]:
    return tensor.detach().double().flatten(1).tolist()


def project(maps: torch.Tensor, weight: list[list[float]]) -> list[list[float]]:
    """sigma by loops: out[b][o, h, w] = sum_k W[o][k] * in[b][k, h, w], flattened in (channel, h, w) order."""
    values = maps.detach().double().tolist()
    out = []
    for sample in values:
        flat = []
        for o in range(len(weight)):
            for h in range(SIDE):
                for w in range(SIDE):
                    flat.append(sum(weight[o][k] * sample[k][h][w] for k in range(len(sample))))
        out.append(flat)
    return out


def mean(vectors: list[list[float]]) -> list[float]:
    return [sum(v[d] for v in vectors) / len(vectors) for d in range(len(vectors[0]))]


def cosine(a: list[float], b: list[float]) -> float:
    norm_a = max(math.sqrt(sum(x * x for x in a)), COSINE_EPS)
    norm_b = max(math.sqrt(sum(x * x for x in b)), COSINE_EPS)
    return sum(x * y for x, y in zip(a, b, strict=True)) / (norm_a * norm_b)


def members(labels: list[int]) -> dict[int, list[int]]:
    return {c: [j for j, y in enumerate(labels) if y == c] for c in sorted(set(labels))}


def cosine_matrix_loop(vectors: list[list[float]], labels: list[int]) -> list[list[float]]:
    centers = [mean([vectors[j] for j in group]) for group in members(labels).values()]
    return [[cosine(a, b) for b in centers] for a in centers]


def squared_difference(a: list[list[float]], b: list[list[float]]) -> float:
    return sum((x - y) ** 2 for row_a, row_b in zip(a, b, strict=True) for x, y in zip(row_a, row_b, strict=True))


def reference_ce(logits: torch.Tensor, labels: list[int]) -> float:
    total = 0.0
    for row, y in zip(logits.detach().double().tolist(), labels, strict=True):
        total += math.log(sum(math.exp(v) for v in row)) - row[y]
    return total / len(labels)


def reference_mse(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> float:
    s, t = rows(student_logits), rows(teacher_logits)
    return squared_difference(s, t) / (len(s) * len(s[0]))


def reference_paper(teacher, student_own, student_projected, labels, *, beta, gamma, norm="l2", count=None):
    """(intra, inter) of Eq. 9 as printed, by loops (intra 0 when there is no projected student)."""
    groups = members(labels)
    count = len(groups) if count is None else count
    apply_norm = math.sqrt if norm == "l2" else (lambda x: x)
    intra = 0.0
    for group in groups.values() if student_projected is not None else ():
        teacher_center = mean([teacher[j] for j in group])
        student_center = mean([student_projected[j] for j in group])
        squares = 0.0
        for j in group:
            for d in range(len(teacher_center)):
                offset_t = teacher[j][d] - teacher_center[d]
                offset_s = student_projected[j][d] - student_center[d]
                squares += (offset_t - offset_s) ** 2
        intra += apply_norm(squares)
    inter_squares = squared_difference(cosine_matrix_loop(teacher, labels), cosine_matrix_loop(student_own, labels))
    return beta / count * intra, gamma * apply_norm(inter_squares)


def reference_code(teacher, student_projected, teacher_logits, student_logits, labels, *, beta, gamma, center_weight):
    """(intra, center, inter) of the authors' train_cifar.py, by loops."""
    t_logits, s_logits = rows(teacher_logits), rows(student_logits)
    batch, dim, classes = len(labels), len(teacher[0]), len(t_logits[0])
    t_pred = [row.index(max(row)) for row in t_logits]
    s_pred = [row.index(max(row)) for row in s_logits]

    def correct_center(vectors, predictions, j):
        right = [i for i in range(batch) if labels[i] == labels[j] and predictions[i] == labels[i]]
        return mean([vectors[i] for i in right]) if right else vectors[j]

    def plain_center(vectors, j):
        return mean([vectors[i] for i in range(batch) if labels[i] == labels[j]])

    feature_intra = 0.0
    for j in range(batch):
        tc, sc = correct_center(teacher, t_pred, j), correct_center(student_projected, s_pred, j)
        for d in range(dim):
            feature_intra += ((teacher[j][d] - tc[d]) - (student_projected[j][d] - sc[d])) ** 2
    feature_intra /= batch * dim * dim
    logit_intra = center = 0.0
    for j in range(batch):
        tz, sz = plain_center(t_logits, j), plain_center(s_logits, j)
        for k in range(classes):
            logit_intra += ((t_logits[j][k] - tz[k]) - (s_logits[j][k] - sz[k])) ** 2
            center += (s_logits[j][k] - sz[k]) ** 2
    logit_intra /= batch * classes * classes
    center /= batch * classes
    c = len(set(labels))
    feature_inter = (
        squared_difference(cosine_matrix_loop(teacher, labels), cosine_matrix_loop(student_projected, labels)) / c**3
    )
    logit_inter = squared_difference(cosine_matrix_loop(t_logits, labels), cosine_matrix_loop(s_logits, labels)) / c**3
    return beta * (feature_intra + logit_intra), center_weight * center, gamma * (feature_inter + logit_inter)


# ---- the paper variant ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("intra", [True, False])
@pytest.mark.parametrize("inter", [True, False])
def test_paper_variant_matches_loop_reference_for_every_ablation(intra: bool, inter: bool) -> None:
    method = build_method("cskd", {"intra": intra, "inter": inter}, spec(STUDENT_CHANNELS), spec(TEACHER_CHANNELS))
    weight = set_sigma(method) if intra else None
    teacher_maps, student_maps, teacher_logits, student_logits = make_batch()
    labels = torch.tensor(LABELS)
    terms = method(features(student_maps, student_logits), features(teacher_maps, teacher_logits), labels)

    projected = project(student_maps, weight) if intra else None
    expected_intra, expected_inter = reference_paper(
        rows(teacher_maps), rows(student_maps), projected, LABELS, beta=0.01, gamma=0.2
    )
    expected = {
        "ce": 0.1 * reference_ce(student_logits, LABELS),
        "kd": 0.9 * reference_mse(student_logits, teacher_logits),
    }
    if intra:
        expected["intra"] = expected_intra
    if inter:
        expected["inter"] = expected_inter
    assert set(terms) == set(expected)
    for name, value in expected.items():
        assert terms[name].item() == pytest.approx(value, rel=1e-5, abs=1e-7), name


@pytest.mark.parametrize(("norm", "class_count"), [("squared_l2", "present"), ("l2", "all"), ("squared_l2", "all")])
def test_paper_variant_options_norm_and_class_count(norm: str, class_count: str) -> None:
    args = {"norm": norm, "class_count": class_count, "beta": 0.5, "gamma": 0.3}
    method = build_method("cskd", args, spec(STUDENT_CHANNELS), spec(TEACHER_CHANNELS))
    weight = set_sigma(method)
    teacher_maps, student_maps, teacher_logits, student_logits = make_batch(seed=3)
    terms = method(features(student_maps, student_logits), features(teacher_maps, teacher_logits), torch.tensor(LABELS))
    count = CLASSES if class_count == "all" else len(set(LABELS))
    intra, inter = reference_paper(
        rows(teacher_maps),
        rows(student_maps),
        project(student_maps, weight),
        LABELS,
        beta=0.5,
        gamma=0.3,
        norm=norm,
        count=count,
    )
    assert terms["intra"].item() == pytest.approx(intra, rel=1e-5)
    assert terms["inter"].item() == pytest.approx(inter, rel=1e-5)


def test_alpha_on_kd_swaps_the_ce_and_kd_weights() -> None:
    method = build_method("cskd", {"alpha_on": "kd", "intra": False, "inter": False}, spec(2), spec(3))
    teacher_maps, student_maps, teacher_logits, student_logits = make_batch()
    terms = method(features(student_maps, student_logits), features(teacher_maps, teacher_logits), torch.tensor(LABELS))
    assert terms["ce"].item() == pytest.approx(0.9 * reference_ce(student_logits, LABELS), rel=1e-6)
    assert terms["kd"].item() == pytest.approx(0.1 * reference_mse(student_logits, teacher_logits), rel=1e-6)


def test_neither_term_equals_kd_with_the_mse_form() -> None:
    cskd = build_method("cskd", {"intra": False, "inter": False}, spec(2), spec(3))
    kd = build_method("kd", {"form": "mse"}, spec(2), spec(3))
    teacher_maps, student_maps, teacher_logits, student_logits = make_batch()
    student, teacher, labels = (
        features(student_maps, student_logits),
        features(teacher_maps, teacher_logits),
        torch.tensor(LABELS),
    )
    cskd_terms, kd_terms = cskd(student, teacher, labels), kd(student, teacher, labels)
    assert set(cskd_terms) == set(kd_terms) == {"ce", "kd"}
    for name in kd_terms:
        torch.testing.assert_close(cskd_terms[name], kd_terms[name])


def test_several_layers_are_summed() -> None:
    two_stage = FeatureSpec((2, 3), ((2, 2), (2, 2)), 3, CLASSES)
    method = build_method("cskd", {"layers": [0, 1], "intra": False}, two_stage, two_stage)
    single = [build_method("cskd", {"layers": i, "intra": False}, two_stage, two_stage) for i in (0, 1)]
    g = torch.Generator().manual_seed(5)

    def two_maps() -> list[torch.Tensor]:
        return [torch.randn(6, 2, 2, 2, generator=g), torch.randn(6, 3, 2, 2, generator=g)]

    logits = torch.randn(6, CLASSES, generator=g)
    student = Features(two_maps(), torch.zeros(6, 3), logits)
    teacher = Features(two_maps(), torch.zeros(6, 3), logits)
    labels = torch.tensor(LABELS)
    total = method(student, teacher, labels)["inter"]
    assert total.item() == pytest.approx(sum(m(student, teacher, labels)["inter"].item() for m in single), rel=1e-6)


# ---- the code variant ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("intra", [True, False])
@pytest.mark.parametrize("inter", [True, False])
def test_code_variant_matches_loop_reference_for_every_ablation(intra: bool, inter: bool) -> None:
    args = {"variant": "code", "intra": intra, "inter": inter}
    method = build_method("cskd", args, spec(STUDENT_CHANNELS), spec(TEACHER_CHANNELS))
    teacher_maps, student_maps, teacher_logits, student_logits = make_batch(seed=7)
    labels = torch.tensor(LABELS)
    expected = {
        "ce": 0.9 * reference_ce(student_logits, LABELS),
        "kd": 0.1 * 1e-5 * reference_mse(student_logits, teacher_logits),
    }
    if intra or inter:
        weight = set_sigma(method)
        expected_intra, expected_center, expected_inter = reference_code(
            rows(teacher_maps),
            project(student_maps, weight),
            teacher_logits,
            student_logits,
            LABELS,
            beta=0.002,
            gamma=0.04,
            center_weight=0.1,
        )
        if intra:
            expected |= {"intra": expected_intra, "center": expected_center}
        if inter:
            expected["inter"] = expected_inter
    terms = method(features(student_maps, student_logits), features(teacher_maps, teacher_logits), labels)
    assert set(terms) == set(expected)
    for name, value in expected.items():
        assert terms[name].item() == pytest.approx(value, rel=1e-5, abs=1e-12), name


def test_code_variant_detaches_the_student_intra_centers() -> None:
    """Only the sample's own offset carries gradient: moving a class-mate must not change a sample's gradient."""
    method = build_method("cskd", {"variant": "code", "inter": False}, spec(2), spec(3))
    teacher_maps, student_maps, teacher_logits, student_logits = make_batch(seed=2)
    terms = method(features(student_maps, student_logits), features(teacher_maps, teacher_logits), torch.tensor(LABELS))
    terms["center"].backward()
    # center = w * mean((z_s - sg[Z_s])^2): gradient 2 w (z_s - Z_s) / (B K) per entry, with Z_s the class mean
    logits = student_logits.detach()
    expected = torch.stack(
        [logits[j] - logits[[i for i, y in enumerate(LABELS) if y == LABELS[j]]].mean(0) for j in range(6)]
    )
    torch.testing.assert_close(student_logits.grad, 2 * 0.1 * expected / logits.numel())


# ---- properties and edge cases -------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["paper", "code"])
def test_zero_structure_loss_when_the_student_equals_the_teacher(variant: str) -> None:
    method = build_method("cskd", {"variant": variant}, spec(3), spec(3))
    with torch.no_grad():
        method.sigma[0].weight.copy_(torch.eye(3).view(3, 3, 1, 1))
    teacher_maps, _, teacher_logits, _ = make_batch()
    same = features(teacher_maps.detach().clone().requires_grad_(), teacher_logits.detach().clone())
    terms = method(same, features(teacher_maps, teacher_logits), torch.tensor(LABELS))
    for name in ("intra", "inter", "kd"):
        assert terms[name].item() == pytest.approx(0.0, abs=1e-7), name


@pytest.mark.parametrize("variant", ["paper", "code"])
def test_gradients_reach_student_and_sigma_but_never_the_teacher(variant: str) -> None:
    method = build_method("cskd", {"variant": variant}, spec(STUDENT_CHANNELS), spec(TEACHER_CHANNELS))
    teacher_maps, student_maps, teacher_logits, student_logits = make_batch()
    terms = method(features(student_maps, student_logits), features(teacher_maps, teacher_logits), torch.tensor(LABELS))
    sum(terms.values()).backward()
    for tensor in (student_maps, student_logits, method.sigma[0].weight):
        assert tensor.grad is not None and torch.isfinite(tensor.grad).all() and tensor.grad.abs().sum() > 0
    assert teacher_maps.grad is None and teacher_logits.grad is None


@pytest.mark.parametrize("variant", ["paper", "code"])
@pytest.mark.parametrize(
    "labels",
    [[0, 0, 0, 0], [3], [0, 1, 2, 3], [0, 0, 1, 2]],
    ids=["one-class batch", "one-sample batch", "all classes single", "single-sample classes"],
)
def test_degenerate_batches_give_finite_values_and_gradients(variant: str, labels: list[int]) -> None:
    method = build_method("cskd", {"variant": variant}, spec(2), spec(3))
    g = torch.Generator().manual_seed(0)
    n = len(labels)
    student_maps = torch.randn(n, 2, SIDE, SIDE, generator=g, requires_grad=True)
    teacher_maps = torch.randn(n, 3, SIDE, SIDE, generator=g)
    terms = method(
        features(student_maps, torch.randn(n, CLASSES, generator=g, requires_grad=True)),
        features(teacher_maps, torch.randn(n, CLASSES, generator=g)),
        torch.tensor(labels),
    )
    sum(terms.values()).backward()
    assert all(torch.isfinite(v) for v in terms.values())
    assert torch.isfinite(student_maps.grad).all() and torch.isfinite(method.sigma[0].weight.grad).all()
    if len(set(labels)) == 1:
        assert terms["inter"].item() == pytest.approx(0.0, abs=1e-6)  # a 1 x 1 matrix of ones on both sides
    if len(set(labels)) == n and variant == "paper":
        assert terms["intra"].item() == 0.0  # every offset is zero


def test_zero_norm_centers_and_zero_differences_do_not_give_nan() -> None:
    method = build_method("cskd", {}, spec(3), spec(3))
    with torch.no_grad():
        method.sigma[0].weight.copy_(torch.eye(3).view(3, 3, 1, 1))
    teacher_maps = torch.rand(4, 3, SIDE, SIDE)
    teacher_maps[:2] = 0  # class 0's teacher center is the zero vector
    student_maps = teacher_maps.clone().requires_grad_()  # every difference is exactly zero
    logits = torch.randn(4, CLASSES, requires_grad=True)
    terms = method(features(student_maps, logits), features(teacher_maps, logits.detach()), torch.tensor([0, 0, 1, 2]))
    sum(terms.values()).backward()
    assert terms["intra"].item() == 0.0 and terms["inter"].item() == 0.0
    assert torch.isfinite(student_maps.grad).all() and torch.isfinite(method.sigma[0].weight.grad).all()
    assert student_maps.grad.abs().sum() == 0  # a vanishing unsquared norm contributes a zero gradient


@pytest.mark.parametrize("variant", ["paper", "code"])
def test_bf16_autocast_gives_float32_finite_terms(variant: str) -> None:
    method = build_method("cskd", {"variant": variant}, spec(2), spec(3))
    teacher_maps, student_maps, teacher_logits, student_logits = make_batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        terms = method(
            features(student_maps.bfloat16(), student_logits.bfloat16()),
            features(teacher_maps.detach().bfloat16(), teacher_logits.detach().bfloat16()),
            torch.tensor(LABELS),
        )
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in terms.values())
    sum(terms.values()).backward()
    assert torch.isfinite(student_maps.grad).all()


def test_pooling_matches_different_spatial_sizes() -> None:
    """A student map twice the teacher's size is average-pooled before sigma (documented in adapters.py)."""
    student_spec = FeatureSpec((2,), ((4, 4),), 2, CLASSES)
    method = build_method("cskd", {"inter": False}, student_spec, spec(3))
    weight = set_sigma(method)
    student_maps = torch.randn(6, 2, 4, 4)
    pooled = torch.nn.functional.avg_pool2d(student_maps, 2)
    teacher_maps, _, teacher_logits, student_logits = make_batch()
    terms = method(features(student_maps, student_logits), features(teacher_maps, teacher_logits), torch.tensor(LABELS))
    intra, _ = reference_paper(rows(teacher_maps), rows(pooled), project(pooled, weight), LABELS, beta=0.01, gamma=0.2)
    assert terms["intra"].item() == pytest.approx(intra, rel=1e-5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"variant": "paperr"}, "variant"),
        ({"variant": "code", "norm": "l2"}, "norm"),
        ({"variant": "code", "class_count": "all"}, "class_count"),
        ({"center_weight": 0.1}, "center_weight"),
        ({"alpha": 1.5}, "alpha"),
        ({"beta": -1.0}, "beta"),
        ({"norm": "l1"}, "norm"),
        ({"layers": 5}, "layers"),
        ({"layers": [-1, 0]}, "twice"),
        ({"layers": []}, "layers"),
        ({"alpha_on": "kl"}, "alpha_on"),
    ],
)
def test_bad_options_raise_clear_errors(args: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_method("cskd", args, spec(2), spec(3))
