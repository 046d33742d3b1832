"""The benchmark's methods (issue 14: AT, SP, RKD, PKT, VID, NST, FT, FSP, CRD, DKD, ReviewKD) against references
written with explicit Python loops or closed forms on tiny tensors, plus their own behaviour (stages, adapters,
memory bank, warm-ups, init stages). Generic checks (gradients, bf16, one SGD step on real pairs) are in
test_methods.py and cover these methods too."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from random_features import random_features as features

from cskd.features import Features, FeatureSpec
from cskd.methods import build_method

CLASSES = 4
LABELS = [0, 2, 0, 1, 3]
#: the bound training set; the batch is its first len(LABELS) samples
TRAIN_LABELS = [*LABELS, 1, 2, 3, 0, 1, 2, 3, 0, 2]


def spec(channels, sizes, embedding: int = 3) -> FeatureSpec:
    return FeatureSpec(tuple(channels), tuple(sizes), embedding, CLASSES)


def ready(method, epoch: int = 1):
    method.seed(0)
    method.bind_training_set(torch.tensor(TRAIN_LABELS))
    method.begin_epoch("main", epoch)
    return method


def labels() -> torch.Tensor:
    return torch.tensor(LABELS)


# ---- loop helpers: tensors become nested lists of floats -----------------------------------------------------------


def nested(t: torch.Tensor):
    return t.detach().double().tolist()


def pool(sample: list, size: tuple[int, int]) -> list:
    """Average pooling of one sample [C][H][W] to ``size`` (sizes divide evenly here)."""
    height, width = len(sample[0]), len(sample[0][0])
    fh, fw = height // size[0], width // size[1]
    return [
        [
            [
                sum(channel[i * fh + a][j * fw + b] for a in range(fh) for b in range(fw)) / (fh * fw)
                for j in range(size[1])
            ]
            for i in range(size[0])
        ]
        for channel in sample
    ]


def matched(student: torch.Tensor, teacher: torch.Tensor) -> tuple[list, list]:
    """Both batches as lists, the larger maps pooled to the smaller size."""
    size = (min(student.shape[2], teacher.shape[2]), min(student.shape[3], teacher.shape[3]))
    return [pool(s, size) for s in nested(student)], [pool(t, size) for t in nested(teacher)]


def positions(sample: list) -> list[tuple[int, int]]:
    return [(h, w) for h in range(len(sample[0])) for w in range(len(sample[0][0]))]


def norm(v: list[float]) -> float:
    return math.sqrt(sum(x * x for x in v))


def unit(v: list[float]) -> list[float]:
    n = norm(v)
    return [x / n for x in v] if n > 1e-12 else [0.0] * len(v)


def dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def softmax(row: list[float], temperature: float = 1.0) -> list[float]:
    top = max(row)
    exps = [math.exp((v - top) / temperature) for v in row]
    return [e / sum(exps) for e in exps]


def reference_ce(logits: torch.Tensor, targets: list[int]) -> float:
    return sum(-math.log(softmax(r)[y]) for r, y in zip(nested(logits), targets, strict=True)) / len(targets)


def reference_kl(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> float:
    total = 0.0
    for s_row, t_row in zip(nested(student), nested(teacher), strict=True):
        p_s, p_t = softmax(s_row, temperature), softmax(t_row, temperature)
        total += sum(t * math.log(t / s) for s, t in zip(p_s, p_t, strict=True))
    return temperature**2 * total / len(student)


def conv1x1(sample: list, weight: torch.Tensor) -> list:
    """out[o][h][w] = sum_k W[o][k] in[k][h][w] for one sample."""
    w = weight.detach().double().flatten(1).tolist()
    return [
        [
            [sum(w[o][k] * sample[k][h][x] for k in range(len(sample))) for x in range(len(sample[0][0]))]
            for h in range(len(sample[0]))
        ]
        for o in range(len(w))
    ]


def huber(x: float) -> float:
    return 0.5 * x * x if abs(x) < 1 else abs(x) - 0.5


# ---- AT ------------------------------------------------------------------------------------------------------------

AT_STUDENT = spec((2, 3, 2), ((4, 4), (4, 4), (2, 2)))
AT_TEACHER = spec((2, 4, 5), ((4, 4), (2, 2), (2, 2)))


def reference_attention(student: torch.Tensor, teacher: torch.Tensor, p: float) -> float:
    s_maps, t_maps = matched(student, teacher)
    total, count = 0.0, 0
    for s, t in zip(s_maps, t_maps, strict=True):
        q_s = unit([sum(abs(c[h][w]) ** p for c in s) / len(s) for h, w in positions(s)])
        q_t = unit([sum(abs(c[h][w]) ** p for c in t) / len(t) for h, w in positions(t)])
        total += sum((a - b) ** 2 for a, b in zip(q_s, q_t, strict=True))
        count += len(q_s)
    return total / count


@pytest.mark.parametrize("p", [2.0, 3.0])
def test_at_matches_loop_reference(p: float) -> None:
    method = ready(build_method("at", {"p": p, "at_weight": 7.0, "kd_weight": 0.5}, AT_STUDENT, AT_TEACHER))
    assert (method.student_indices, method.teacher_indices) == ([1, 2], [1, 2])  # every stage but the stem
    student, teacher = features(AT_STUDENT, 0), features(AT_TEACHER, 1)
    terms = method(student, teacher, labels())
    expected = sum(reference_attention(student.stages[k], teacher.stages[k], p) for k in (1, 2))
    assert terms["at"].item() == pytest.approx(7.0 * expected, rel=1e-5)
    assert terms["ce"].item() == pytest.approx(reference_ce(student.logits, LABELS), rel=1e-5)
    assert terms["kd"].item() == pytest.approx(0.5 * reference_kl(student.logits, teacher.logits, 4.0), rel=1e-5)


def test_at_alone_has_no_kd_term_and_is_zero_for_equal_maps() -> None:
    same = spec((2, 3), ((2, 2), (2, 2)))
    teacher = features(same, 1)
    terms = ready(build_method("at", {}, same, same))(teacher, teacher, labels())
    assert set(terms) == {"ce", "at"} and terms["at"].item() == pytest.approx(0.0, abs=1e-9)


# ---- SP ------------------------------------------------------------------------------------------------------------


def test_sp_matches_loop_reference() -> None:
    student_spec, teacher_spec = spec((2, 3), ((4, 4), (2, 2))), spec((2, 5), ((4, 4), (1, 1)))
    student, teacher = features(student_spec, 0), features(teacher_spec, 1)
    method = ready(build_method("sp", {"sp_weight": 2.0}, student_spec, teacher_spec))
    b = len(LABELS)

    def gram(maps: torch.Tensor) -> list[list[float]]:
        rows = [[v for c in s for r in c for v in r] for s in nested(maps)]
        raw = [[dot(rows[i], rows[j]) for j in range(b)] for i in range(b)]
        return [unit(r) for r in raw]

    g_s, g_t = gram(student.stages[-1]), gram(teacher.stages[-1])
    expected = sum((g_t[i][j] - g_s[i][j]) ** 2 for i in range(b) for j in range(b)) / b**2
    assert method(student, teacher, labels())["sp"].item() == pytest.approx(2.0 * expected, rel=1e-5)


# ---- RKD -----------------------------------------------------------------------------------------------------------


def reference_rkd(student: torch.Tensor, teacher: torch.Tensor) -> tuple[float, float]:
    s, t = nested(student), nested(teacher)
    b = len(s)

    def distances(e):
        d = [[norm([x - y for x, y in zip(e[i], e[j], strict=True)]) for j in range(b)] for i in range(b)]
        mu = sum(d[i][j] for i in range(b) for j in range(b) if i != j) / (b * (b - 1))
        return [[v / mu for v in row] for row in d]

    def angles(e):
        def direction(i, j):  # unit vector from e_j to e_i
            return unit([x - y for x, y in zip(e[i], e[j], strict=True)])

        return [[[dot(direction(i, j), direction(k, j)) for k in range(b)] for i in range(b)] for j in range(b)]

    d_s, d_t = distances(s), distances(t)
    a_s, a_t = angles(s), angles(t)
    distance = sum(huber(d_s[i][j] - d_t[i][j]) for i in range(b) for j in range(b)) / b**2
    angle = sum(huber(a_s[j][i][k] - a_t[j][i][k]) for i in range(b) for j in range(b) for k in range(b)) / b**3
    return distance, angle


def test_rkd_matches_loop_reference() -> None:
    student_spec, teacher_spec = spec((2,), ((2, 2),), embedding=3), spec((2,), ((2, 2),), embedding=6)
    student, teacher = features(student_spec, 0), features(teacher_spec, 1)
    with torch.no_grad():
        student.embedding.mul_(3)  # differences beyond the Huber loss's quadratic zone
    args = {"distance_weight": 2.0, "angle_weight": 3.0, "rkd_weight": 0.5}
    terms = ready(build_method("rkd", args, student_spec, teacher_spec))(student, teacher, labels())
    distance, angle = reference_rkd(student.embedding, teacher.embedding)
    assert terms["rkd"].item() == pytest.approx(0.5 * (2.0 * distance + 3.0 * angle), rel=1e-5)


def test_rkd_is_scale_invariant_in_the_distances_and_zero_for_a_scaled_copy() -> None:
    one = spec((2,), ((2, 2),), embedding=4)
    teacher = features(one, 1)
    scaled = Features(teacher.stages, (5 * teacher.embedding.detach()).requires_grad_(), teacher.logits)
    terms = ready(build_method("rkd", {}, one, one))(scaled, teacher, labels())
    assert terms["rkd"].item() == pytest.approx(0.0, abs=1e-5)


# ---- PKT -----------------------------------------------------------------------------------------------------------


def test_pkt_matches_loop_reference() -> None:
    student_spec, teacher_spec = spec((2,), ((2, 2),), embedding=3), spec((2,), ((2, 2),), embedding=5)
    student, teacher = features(student_spec, 0), features(teacher_spec, 1)
    eps = 1e-7

    def probabilities(e):
        units = [[x / (norm(r) + eps) for x in r] for r in nested(e)]
        kernel = [[(dot(u, v) + 1) / 2 for v in units] for u in units]
        return [[k / sum(row) for k in row] for row in kernel]

    p, q = probabilities(teacher.embedding), probabilities(student.embedding)
    b = len(LABELS)
    expected = sum(p[i][j] * math.log((p[i][j] + eps) / (q[i][j] + eps)) for i in range(b) for j in range(b)) / b**2
    terms = ready(build_method("pkt", {"pkt_weight": 10.0}, student_spec, teacher_spec))(student, teacher, labels())
    assert terms["pkt"].item() == pytest.approx(10.0 * expected, rel=1e-5)


# ---- VID -----------------------------------------------------------------------------------------------------------


def test_vid_matches_loop_reference() -> None:
    student_spec, teacher_spec = spec((2, 2, 3), ((4, 4), (4, 4), (2, 2))), spec((2, 3, 2), ((4, 4), (2, 2), (2, 2)))
    method = ready(build_method("vid", {"vid_weight": 0.5, "initial_variance": 2.0}, student_spec, teacher_spec))
    student, teacher = features(student_spec, 0), features(teacher_spec, 1)
    with torch.no_grad():
        method.regressors[1].variance_parameter.copy_(torch.tensor([0.3, -0.7]))
    expected = 0.0
    for k, stage in enumerate((1, 2)):
        regressor = method.regressors[k]
        first, _, second, _, third = regressor.mean
        s_maps, t_maps = matched(student.stages[stage], teacher.stages[stage])
        variances = [math.log1p(math.exp(a)) + 1e-5 for a in regressor.variance_parameter.tolist()]
        total, count = 0.0, 0
        for s, t in zip(s_maps, t_maps, strict=True):
            hidden = [[[max(v, 0.0) for v in r] for r in c] for c in conv1x1(s, first.weight)]
            hidden = [[[max(v, 0.0) for v in r] for r in c] for c in conv1x1(hidden, second.weight)]
            mean = conv1x1(hidden, third.weight)
            for c, variance in enumerate(variances):
                for h, w in positions(t):
                    total += 0.5 * ((mean[c][h][w] - t[c][h][w]) ** 2 / variance + math.log(variance))
                    count += 1
        expected += total / count
    assert method(student, teacher, labels())["vid"].item() == pytest.approx(0.5 * expected, rel=1e-5)
    assert method.regressors[0].variance().tolist() == pytest.approx([2.0] * 3, rel=1e-6)


# ---- NST -----------------------------------------------------------------------------------------------------------


def test_nst_matches_loop_reference() -> None:
    student_spec, teacher_spec = spec((2, 3, 2), ((4, 4), (4, 4), (2, 2))), spec((2, 4, 5), ((4, 4), (2, 2), (2, 2)))
    method = ready(build_method("nst", {"nst_weight": 3.0}, student_spec, teacher_spec))
    student, teacher = features(student_spec, 0), features(teacher_spec, 1)
    expected = 0.0
    for stage in (1, 2):
        s_maps, t_maps = matched(student.stages[stage], teacher.stages[stage])
        total = 0.0
        for s, t in zip(s_maps, t_maps, strict=True):
            f_s = [unit([c[h][w] for h, w in positions(s)]) for c in s]
            f_t = [unit([c[h][w] for h, w in positions(t)]) for c in t]

            def kernel_mean(a, b):
                return sum(dot(x, y) ** 2 for x in a for y in b) / (len(a) * len(b))

            total += kernel_mean(f_t, f_t) + kernel_mean(f_s, f_s) - 2 * kernel_mean(f_s, f_t)
        expected += total / len(s_maps)
    assert method(student, teacher, labels())["nst"].item() == pytest.approx(3.0 * expected, rel=1e-5)


# ---- FT ------------------------------------------------------------------------------------------------------------

FT_STUDENT = spec((2, 3), ((4, 4), (4, 4)))
FT_TEACHER = spec((2, 4), ((4, 4), (2, 2)))


def test_ft_modules_follow_the_benchmark_definitions() -> None:
    method = build_method("ft", {}, FT_STUDENT, FT_TEACHER)
    convs = [m for m in method.paraphraser.encoder if isinstance(m, torch.nn.Conv2d)]
    deconvs = [m for m in method.paraphraser.decoder if isinstance(m, torch.nn.ConvTranspose2d)]
    translator = [m for m in method.translator if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (4, 4, (3, 3)),
        (4, 2, (3, 3)),
        (2, 2, (3, 3)),
    ]
    assert [(c.in_channels, c.out_channels) for c in deconvs] == [(2, 2), (2, 4), (4, 4)]
    assert [(c.in_channels, c.out_channels) for c in translator] == [(3, 3), (3, 2), (2, 2)]
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in method.translator) == 3
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in method.paraphraser.modules())
    assert all(m.negative_slope == 0.1 for m in method.modules() if isinstance(m, torch.nn.LeakyReLU))
    assert (method.init_epochs, method.init_lr) == (30, 0.01)


@pytest.mark.parametrize("form", ["repdistiller", "paper"])
def test_ft_factor_loss_matches_loop_reference(form: str) -> None:
    method = ready(build_method("ft", {"factor_form": form, "ft_weight": 3.0}, FT_STUDENT, FT_TEACHER))
    # known factor maps: a 1x1 convolution each (the loss, not the networks, is under test here)
    w_teacher, w_student = torch.randn(2, 4, 1, 1), torch.randn(2, 3, 1, 1)
    method.paraphraser.encoder = torch.nn.Conv2d(4, 2, 1, bias=False)
    method.translator = torch.nn.Conv2d(3, 2, 1, bias=False)
    with torch.no_grad():
        method.paraphraser.encoder.weight.copy_(w_teacher)
        method.translator.weight.copy_(w_student)
    student, teacher = features(FT_STUDENT, 0), features(FT_TEACHER, 1)
    total, count = 0.0, 0
    for s, t in zip(nested(student.stages[-1]), nested(teacher.stages[-1]), strict=True):
        f_s, f_t = pool(conv1x1(s, w_student), (2, 2)), conv1x1(t, w_teacher)  # the student factor pooled 4x4 -> 2x2

        def vector(f):
            if form == "paper":
                return unit([v for c in f for r in c for v in r])
            return unit([sum(c[h][w] ** 2 for c in f) / len(f) for h, w in positions(f)])

        v_s, v_t = vector(f_s), vector(f_t)
        total += sum(abs(a - b) for a, b in zip(v_t, v_s, strict=True))
        count += len(v_s)
    terms = method(student, teacher, labels())
    assert terms["ft"].item() == pytest.approx(3.0 * total / count, rel=1e-5)
    terms["ft"].backward()
    assert method.paraphraser.encoder.weight.grad is None  # the paraphraser is fixed in main training
    assert method.translator.weight.grad is not None


def test_ft_init_stage_trains_the_paraphraser_to_reconstruct_the_teacher_map() -> None:
    method = ready(build_method("ft", {}, FT_STUDENT, FT_TEACHER))
    scale = 0.5
    method.paraphraser.encoder = torch.nn.Identity()
    method.paraphraser.decoder = torch.nn.Sequential(torch.nn.Identity())
    method.paraphraser.decoder.append(torch.nn.Conv2d(4, 4, 1, bias=False))
    with torch.no_grad():
        method.paraphraser.decoder[1].weight.copy_(scale * torch.eye(4).view(4, 4, 1, 1))
    student, teacher = features(FT_STUDENT, 0), features(FT_TEACHER, 1)
    values = [v for s in nested(teacher.stages[-1]) for c in s for r in c for v in r]
    expected = sum((scale * v - v) ** 2 for v in values) / len(values)
    terms = method.forward_init(student, teacher, labels())
    assert set(terms) == {"rec"} and terms["rec"].item() == pytest.approx(expected, rel=1e-5)


# ---- FSP -----------------------------------------------------------------------------------------------------------


def reference_fsp(student_maps: list[list], teacher_maps: list[list]) -> float:
    """Sum over consecutive pairs of mean((G_T - G_S)^2), maps as per-network lists of batches."""

    def matrices(maps):
        out = []
        for bottom, top in itertools.pairwise(maps):
            size = (min(len(bottom[0][0]), len(top[0][0])), min(len(bottom[0][0][0]), len(top[0][0][0])))
            per_sample = []
            for b, t in zip(bottom, top, strict=True):
                b, t = pool(b, size), pool(t, size)
                places = positions(b)
                per_sample.append([[sum(bi[h][w] * tj[h][w] for h, w in places) / len(places) for tj in t] for bi in b])
            out.append(per_sample)
        return out

    total = 0.0
    for g_s, g_t in zip(matrices(student_maps), matrices(teacher_maps), strict=True):
        diffs = [
            (a - b) ** 2
            for s, t in zip(g_s, g_t, strict=True)
            for rs, rt in zip(s, t, strict=True)
            for a, b in zip(rs, rt, strict=True)
        ]
        total += sum(diffs) / len(diffs)
    return total


def test_fsp_matches_loop_reference_with_equal_channels() -> None:
    student_spec, teacher_spec = spec((2, 3, 2), ((4, 4), (2, 2), (2, 2))), spec((2, 3, 2), ((4, 4), (4, 4), (2, 2)))
    method = ready(build_method("fsp", {"fsp_weight": 2.0}, student_spec, teacher_spec))
    assert all(isinstance(a, torch.nn.Identity) for a in method.adapters) and method.init_epochs == 30
    student, teacher = features(student_spec, 0), features(teacher_spec, 1)
    expected = reference_fsp([nested(s) for s in student.stages], [nested(t) for t in teacher.stages])
    terms = method.forward_init(student, teacher, labels())
    assert terms["fsp"].item() == pytest.approx(2.0 * expected, rel=1e-5)
    assert set(method(student, teacher, labels())) == {"ce"}  # main training: CE only, as RepDistiller


def test_fsp_adapts_unequal_channels_or_refuses_them() -> None:
    student_spec, teacher_spec = spec((2, 3, 2), ((4, 4), (2, 2), (2, 2))), spec((3, 3, 4), ((4, 4), (2, 2), (2, 2)))
    with pytest.raises(ValueError, match="adapt_channels"):
        build_method("fsp", {"adapt_channels": False}, student_spec, teacher_spec)
    method = ready(build_method("fsp", {}, student_spec, teacher_spec))
    assert [isinstance(a, torch.nn.Identity) for a in method.adapters] == [False, True, False]
    student, teacher = features(student_spec, 0), features(teacher_spec, 1)
    adapted = []
    for adapter, stage in zip(method.adapters, student.stages, strict=True):
        maps = nested(stage)
        adapted.append(maps if isinstance(adapter, torch.nn.Identity) else [conv1x1(s, adapter.weight) for s in maps])
    expected = reference_fsp(adapted, [nested(t) for t in teacher.stages])
    assert method.forward_init(student, teacher, labels())["fsp"].item() == pytest.approx(expected, rel=1e-5)


# ---- CRD -----------------------------------------------------------------------------------------------------------

CRD_ARGS = {"feat_dim": 3, "negatives": 6, "nce_temperature": 0.5, "momentum": 0.25, "crd_weight": 2.0}


def test_crd_matches_loop_reference_and_updates_its_memory() -> None:
    student_spec, teacher_spec = spec((2,), ((2, 2),), embedding=2), spec((2,), ((2, 2),), embedding=4)
    method = ready(build_method("crd", CRD_ARGS, student_spec, teacher_spec))
    student, teacher = features(student_spec, 0), features(teacher_spec, 1)
    indices = torch.tensor([0, 1, 2, 3, 4])
    memory_s, memory_t = nested(method.memory_student), nested(method.memory_teacher)
    size, k, tau, m = len(TRAIN_LABELS), 6, 0.5, 0.25
    # the contrast indices the method will draw: replay its generator
    replay = torch.Generator()
    replay.set_state(method.rng.get_state())
    saved = method.rng.get_state()
    method.rng = replay
    contrast = method.draw_contrast_indices(indices).tolist()
    method.rng.set_state(saved)
    for i, row in zip(indices.tolist(), contrast, strict=True):
        assert row[0] == i and all(TRAIN_LABELS[j] != TRAIN_LABELS[i] for j in row[1:])

    def embed(vectors, linear):
        w, b = linear.weight.detach().double().tolist(), linear.bias.detach().double().tolist()
        return [unit([dot(row, v) + bias for row, bias in zip(w, b, strict=True)]) for v in vectors]

    v_s = embed(nested(student.embedding), method.embed_student.linear)
    v_t = embed(nested(teacher.embedding), method.embed_teacher.linear)

    def side(anchors, bank):
        raw = [[math.exp(dot(bank[j], a) / tau) for j in row] for a, row in zip(anchors, contrast, strict=True)]
        z = sum(v for r in raw for v in r) / (len(raw) * (k + 1)) * size
        noise = k / size
        loss = 0.0
        for r in raw:
            p = [v / z for v in r]
            loss -= math.log(p[0] / (p[0] + noise + 1e-7))
            loss -= sum(math.log(noise / (q + noise + 1e-7)) for q in p[1:])
        return loss / len(raw), z

    student_loss, z_s = side(v_s, memory_t)
    teacher_loss, z_t = side(v_t, memory_s)
    terms = method(student, teacher, labels(), indices=indices)
    assert terms["crd"].item() == pytest.approx(2.0 * (student_loss + teacher_loss), rel=1e-5)
    assert (method.z_student.item(), method.z_teacher.item()) == pytest.approx((z_s, z_t), rel=1e-5)
    for i in indices.tolist():
        expected_s = unit([m * a + (1 - m) * b for a, b in zip(memory_s[i], v_s[i], strict=True)])
        assert method.memory_student[i].tolist() == pytest.approx(expected_s, rel=1e-5)
        expected_t = unit([m * a + (1 - m) * b for a, b in zip(memory_t[i], v_t[i], strict=True)])
        assert method.memory_teacher[i].tolist() == pytest.approx(expected_t, rel=1e-5)
    untouched = torch.arange(len(LABELS), size)
    torch.testing.assert_close(
        method.memory_student[untouched].double(), torch.tensor(memory_s, dtype=torch.float64)[untouched]
    )
    # Z is fixed on the first batch only
    method(student, teacher, labels(), indices=indices)
    assert method.z_student.item() == pytest.approx(z_s, rel=1e-6)


def test_crd_negatives_cover_the_other_classes_from_its_own_generator() -> None:
    one = spec((2,), ((2, 2),), embedding=2)
    draws = []
    for _ in range(2):
        method = build_method("crd", {**CRD_ARGS, "negatives": 4000}, one, one)
        method.seed(5)
        method.bind_training_set(torch.tensor(TRAIN_LABELS))
        torch.manual_seed(123)  # the global stream must not matter
        draws.append(method.draw_contrast_indices(torch.tensor([0, 3])))
    torch.testing.assert_close(draws[0], draws[1])
    for row, own in zip(draws[0].tolist(), (0, 3), strict=True):
        others = {j for j, y in enumerate(TRAIN_LABELS) if y != TRAIN_LABELS[own]}
        counts = torch.bincount(torch.tensor(row[1:]), minlength=len(TRAIN_LABELS)).tolist()
        assert {j for j, c in enumerate(counts) if c} == others  # every other-class sample, nothing else
        expected = 4000 / len(others)
        assert all(abs(counts[j] - expected) < 5 * math.sqrt(expected) for j in others)  # uniform


def test_crd_refuses_to_run_without_its_training_set_or_indices() -> None:
    one = spec((2,), ((2, 2),), embedding=2)
    student, teacher = features(one, 0), features(one, 1)
    method = build_method("crd", CRD_ARGS, one, one)
    with pytest.raises(RuntimeError, match="bind_training_set"):
        method(student, teacher, labels(), indices=torch.arange(5))
    method.bind_training_set(torch.tensor(TRAIN_LABELS))
    with pytest.raises(ValueError, match="indices"):
        method(student, teacher, labels())
    with pytest.raises(ValueError, match="two classes"):
        method.bind_training_set(torch.zeros(10, dtype=torch.long))


def test_crd_memory_is_method_state_that_round_trips_through_the_state_dict() -> None:
    one = spec((2,), ((2, 2),), embedding=2)
    method = ready(build_method("crd", CRD_ARGS, one, one))
    method(features(one, 0), features(one, 1), labels(), indices=torch.arange(5))
    state = method.state_dict()
    assert {"memory_student", "memory_teacher", "z_student", "z_teacher"} <= set(state)
    restored = build_method("crd", CRD_ARGS, one, one)
    restored.seed(0)
    restored.bind_training_set(torch.tensor(TRAIN_LABELS))
    restored.load_state_dict(state)
    restored.rng.set_state(method.rng.get_state())
    for name in ("memory_student", "memory_teacher", "z_student", "z_teacher"):
        torch.testing.assert_close(getattr(restored, name), getattr(method, name))
    restored.begin_epoch("main", 1)
    a = method(features(one, 2), features(one, 3), labels(), indices=torch.arange(5))["crd"]
    b = restored(features(one, 2), features(one, 3), labels(), indices=torch.arange(5))["crd"]
    assert a.item() == b.item()


# ---- DKD -----------------------------------------------------------------------------------------------------------


def reference_dkd(student: torch.Tensor, teacher: torch.Tensor, targets: list[int], temperature: float):
    tckd = nckd = 0.0
    for s_row, t_row, y in zip(nested(student), nested(teacher), targets, strict=True):
        p_s, p_t = softmax(s_row, temperature), softmax(t_row, temperature)
        b_s, b_t = [p_s[y], 1 - p_s[y]], [p_t[y], 1 - p_t[y]]
        tckd += sum(t * math.log(t / s) for s, t in zip(b_s, b_t, strict=True))
        rest_s = softmax([v for c, v in enumerate(s_row) if c != y], temperature)
        rest_t = softmax([v for c, v in enumerate(t_row) if c != y], temperature)
        nckd += sum(t * math.log(t / s) for s, t in zip(rest_s, rest_t, strict=True))
    n = len(targets)
    return temperature**2 * tckd / n, temperature**2 * nckd / n


@pytest.mark.parametrize("epoch", [1, 5, 20, 33])
def test_dkd_matches_loop_reference_with_its_warmup(epoch: int) -> None:
    one = spec((2,), ((2, 2),))
    student, teacher = features(one, 0), features(one, 1)
    args = {"alpha": 0.5, "beta": 3.0, "temperature": 2.0, "warmup": 20, "ce_weight": 0.7}
    terms = ready(build_method("dkd", args, one, one), epoch=epoch)(student, teacher, labels())
    tckd, nckd = reference_dkd(student.logits, teacher.logits, LABELS, 2.0)
    ramp = min(epoch / 20, 1.0)
    assert terms["tckd"].item() == pytest.approx(ramp * 0.5 * tckd, rel=1e-5)
    assert terms["nckd"].item() == pytest.approx(ramp * 3.0 * nckd, rel=1e-5)
    assert terms["ce"].item() == pytest.approx(0.7 * reference_ce(student.logits, LABELS), rel=1e-5)


def test_dkd_decomposes_kd_as_zhao_et_al_eq_1() -> None:
    """KD = TCKD + (1 - p_t^T) NCKD for one sample (Zhao et al. Eq. 1), T^2 on both sides."""
    from cskd.methods.dkd import decoupled_terms
    from cskd.methods.losses import soft_target_kl

    g = torch.Generator().manual_seed(3)
    student, teacher, target = torch.randn(1, 6, generator=g), torch.randn(1, 6, generator=g), torch.tensor([2])
    tckd, nckd = decoupled_terms(student, teacher, target, 3.0)
    teacher_target_probability = torch.softmax(teacher / 3.0, dim=1)[0, 2]
    expected = soft_target_kl(student, teacher, 3.0)
    torch.testing.assert_close(tckd + (1 - teacher_target_probability) * nckd, expected)


def test_dkd_and_reviewkd_need_the_epoch() -> None:
    one = spec((2, 3), ((2, 2), (2, 2)))
    student, teacher = features(one, 0), features(one, 1)
    for name in ("dkd", "reviewkd"):
        with pytest.raises(RuntimeError, match="begin_epoch"):
            build_method(name, {}, one, one)(student, teacher, labels())


# ---- ReviewKD ------------------------------------------------------------------------------------------------------


def reference_hcl(student: list, teacher: list) -> float:
    """Per level: MSE + 1/2, 1/4, 1/8 x the MSEs at 4x4, 2x2, 1x1 (sizes below the map's), over the weights' sum."""

    def mse(a, b):
        diffs = [
            (x - y) ** 2
            for sa, sb in zip(a, b, strict=True)
            for ca, cb in zip(sa, sb, strict=True)
            for ra, rb in zip(ca, cb, strict=True)
            for x, y in zip(ra, rb, strict=True)
        ]
        return sum(diffs) / len(diffs)

    side = min(len(student[0][0]), len(student[0][0][0]))
    loss, weight, total = mse(student, teacher), 1.0, 1.0
    for size in (4, 2, 1):
        if size < side:
            weight /= 2
            loss += weight * mse([pool(s, (size, size)) for s in student], [pool(t, (size, size)) for t in teacher])
            total += weight
    return loss / total


def test_reviewkd_hcl_matches_loop_reference() -> None:
    from cskd.methods.reviewkd import hcl_loss

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 3, 8, 8, generator=g), torch.randn(2, 3, 8, 8, generator=g)
    assert hcl_loss(a, b).item() == pytest.approx(reference_hcl(nested(a), nested(b)), rel=1e-6)
    a, b = torch.randn(2, 3, 1, 1, generator=g), torch.randn(2, 3, 1, 1, generator=g)
    assert hcl_loss(a, b).item() == pytest.approx(reference_hcl(nested(a), nested(b)), rel=1e-6)


def test_reviewkd_matches_loop_reference_of_the_fusion_chain() -> None:
    student_spec = spec((2, 3), ((4, 4), (2, 2)), embedding=3)
    teacher_spec = spec((2, 4), ((4, 4), (2, 2)), embedding=5)
    method = ready(build_method("reviewkd", {"review_weight": 2.0}, student_spec, teacher_spec), epoch=4).eval()
    assert method.teacher_pre_relu and not method.student_pre_relu
    student, teacher = features(student_spec, 0), features(teacher_spec, 1)
    bn = 1 / math.sqrt(1 + 1e-5)  # BatchNorm in eval mode with its initial statistics

    def conv3x3(sample, weight):
        w = weight.detach().double().tolist()
        height, width = len(sample[0]), len(sample[0][0])
        return [
            [
                [
                    sum(
                        w[o][k][a + 1][c + 1] * sample[k][h + a][x + c]
                        for k in range(len(sample))
                        for a in (-1, 0, 1)
                        for c in (-1, 0, 1)
                        if 0 <= h + a < height and 0 <= x + c < width
                    )
                    * bn
                    for x in range(width)
                ]
                for h in range(height)
            ]
            for o in range(len(w))
        ]

    def reduce(sample, fusion):
        return [[[v * bn for v in r] for r in c] for c in conv1x1(sample, fusion.reduce[0].weight)]

    deep, shallow = method.fusions[1], method.fusions[0]
    outputs_deep, outputs_shallow = [], []
    for stage, embedding in zip(nested(student.stages[1]), nested(student.embedding), strict=True):
        residual = reduce([[[v]] for v in embedding], deep)  # the embedding as a 1x1 map
        outputs_deep.append(conv3x3(residual, deep.output[0].weight))
        x = reduce(stage, shallow)
        up = [[[c[0][0]] * 2 for _ in range(2)] for c in residual]  # nearest 1x1 -> 2x2
        att_w = shallow.attention[0].weight.detach().double().flatten(1).tolist()
        att_b = shallow.attention[0].bias.detach().double().tolist()
        fused = [[[0.0] * 2 for _ in range(2)] for _ in x]
        for h in range(2):
            for w in range(2):
                stacked = [c[h][w] for c in x] + [c[h][w] for c in up]
                a, b = (1 / (1 + math.exp(-(dot(row, stacked) + bias))) for row, bias in zip(att_w, att_b, strict=True))
                for c in range(len(x)):
                    fused[c][h][w] = x[c][h][w] * a + up[c][h][w] * b
        outputs_shallow.append(conv3x3(fused, shallow.output[0].weight))
    teacher_deep = [[[[v]] for v in row] for row in nested(teacher.embedding)]
    expected = reference_hcl(outputs_shallow, nested(teacher.pre_relu[1])) + reference_hcl(outputs_deep, teacher_deep)
    terms = method(student, teacher, labels())
    assert terms["review"].item() == pytest.approx(2.0 * 4 / 20 * expected, rel=1e-5)


# ---- one SGD step on pairs of other architectures -------------------------------------------------------------------

BENCHMARK_METHODS = ["at", "sp", "rkd", "pkt", "vid", "nst", "ft", "fsp", "crd", "dkd", "reviewkd"]
#: (teacher, student) with heterogeneous channels, stage counts and map sizes at 32x32; models as (name, kwargs)
HETEROGENEOUS = {
    "resnet18-thin->resnet18-thinner": (
        ("cifar_resnet18_w0_25", {"width_multiplier": 0.5}),
        ("cifar_resnet18", {"width_multiplier": 0.125}),
    ),
    "resnet18-thin->mobilenetv2_050": (("cifar_resnet18_w0_25", {"width_multiplier": 0.5}), ("mobilenetv2_050", {})),
    "resnet18-thin->vgg11_bn": (
        ("cifar_resnet18_w0_25", {"width_multiplier": 0.5}),
        ("vgg11_bn", {"mlp_ratio": 1 / 64}),
    ),
}
#: the last maps of vgg11_bn (its final max-pool) and mobilenetv2_050 are 1x1 at 32x32, where FT's RepDistiller factor
#: form is constant (and refused)
HETEROGENEOUS_ARGS = {
    ("ft", "resnet18-thin->vgg11_bn"): {"factor_form": "paper"},
    ("ft", "resnet18-thin->mobilenetv2_050"): {"factor_form": "paper"},
}


@pytest.fixture(scope="module")
def heterogeneous_models():
    from cskd.models import create_model

    torch.manual_seed(0)
    return {
        label: tuple(create_model(name, num_classes=CLASSES, **kwargs) for name, kwargs in pair)
        for label, pair in HETEROGENEOUS.items()
    }


@pytest.mark.parametrize("pair", list(HETEROGENEOUS))
@pytest.mark.parametrize("name", BENCHMARK_METHODS)
def test_one_sgd_step_on_heterogeneous_pairs(heterogeneous_models, pair: str, name: str) -> None:
    """Every phase of the method on real models: finite loss, every adapter learns in some phase, the student
    moves, the teacher gets no gradient and does not change."""
    import copy

    from cskd.models import extract_features, feature_spec

    teacher_model, student_model = heterogeneous_models[pair]
    student_model = copy.deepcopy(student_model).train()
    teacher_model.eval()
    args = {"negatives": 256} if name == "crd" else {}
    args |= HETEROGENEOUS_ARGS.get((name, pair), {})
    method = ready(
        build_method(name, args, feature_spec(student_model, (3, 32, 32)), feature_spec(teacher_model, (3, 32, 32)))
    )
    adapters = list(method.trainable_parameters())
    optimizer = torch.optim.SGD([*student_model.parameters(), *adapters], lr=0.05, momentum=0.9)
    teacher_before = [p.detach().clone() for p in teacher_model.parameters()]
    student_before = [p.detach().clone() for p in student_model.parameters()]
    x = torch.randn(len(TRAIN_LABELS[:8]), 3, 32, 32, generator=torch.Generator().manual_seed(1))
    y = torch.tensor(TRAIN_LABELS[:8])
    extra = {"indices": torch.arange(8)} if method.needs_sample_indices else {}
    learnt = [torch.zeros_like(p) for p in adapters]
    for phase in ([method.forward_init] if method.init_epochs else []) + [method.forward]:
        student = extract_features(student_model, x, pre_relu=method.student_pre_relu)
        with torch.no_grad():
            teacher = extract_features(teacher_model, x, pre_relu=method.teacher_pre_relu)
        loss = sum(phase(student, teacher, y, **extra).values())
        assert torch.isfinite(loss), (name, pair)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        learnt = [a + (p.grad.abs() if p.grad is not None else 0) for a, p in zip(learnt, adapters, strict=True)]
        optimizer.step()
    assert all(g.sum() > 0 for g in learnt), (name, pair)
    assert all(p.grad is None for p in teacher_model.parameters())
    assert all(torch.equal(b, p) for b, p in zip(teacher_before, teacher_model.parameters(), strict=True))
    assert any(not torch.equal(b, p) for b, p in zip(student_before, student_model.parameters(), strict=True))
