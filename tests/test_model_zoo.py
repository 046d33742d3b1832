"""The model families beyond the paper's ResNets: the CIFAR-10 models of the authors' extra results (issue 13) and
RepDistiller's CIFAR models (issue 14). Their feature contract, shapes, parameter counts, width rules and their
equivalence to the reference definitions (pinned in tests/data/reference_models.json, see reference_models.py)."""

from __future__ import annotations

import math

import pytest
import timm
import torch
import torch.nn.functional as F
from reference_models import load_pinned, synthetic_input, synthetic_state
from torch import nn

from cskd.features import Features
from cskd.methods import build_method, get_method, method_names
from cskd.models import count_parameters, create_model, extract_features, feature_spec, model_names, paper_model_names
from cskd.models.convert import CONVERSIONS, convert_repdistiller
from cskd.models.extraction import LINEAR_STAGE, PRE_RELU_KEY
from cskd.models.shufflenet_cifar import ShuffleV2Unit, channel_shuffle

PINNED = load_pinned()
#: every registered name outside the paper's ResNet family (tests/test_models.py covers that one)
ZOO = sorted(set(model_names()) - set(paper_model_names()))
ISSUE_13 = ["cifar_inception_v3", "cifar_mobilenetv2", "cifar_vgg11_bn"]
#: a thinning every family accepts (Inception needs a multiple of 1/16)
THIN = 0.25


def test_the_registry_holds_the_agreed_names():
    crd = [f"crd_resnet{d}" for d in (8, 14, 20, 32, 44, 56, 110)] + ["crd_resnet8x4", "crd_resnet32x4"]
    crd += ["crd_wrn_16_2", "crd_wrn_40_1", "crd_wrn_40_2"] + [f"crd_vgg{d}" for d in (8, 11, 13, 16, 19)]
    crd += ["crd_mobilenetv2", "crd_shufflev1", "crd_shufflev2", "crd_resnet50"]
    assert sorted(ISSUE_13 + crd) == ZOO
    assert sorted(CONVERSIONS) == sorted(crd)
    assert all(timm.is_model(name) for name in ZOO)


def pre_relu_rule(model: nn.Module, index: int):
    return model.feature_info[index].get(PRE_RELU_KEY)


@pytest.mark.parametrize("name", ZOO)
def test_feature_contract_of_every_model(name: str):
    """Stages shallow to deep as feature_info says, embedding, logits equal to model(x), pre-ReLU maps by the rule
    each stage declares, gradients through all of them (thinned models, a batch of 2)."""
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, width_multiplier=THIN)
    x = torch.randn(2, 3, 32, 32)
    features = extract_features(model.train(), x, pre_relu=True)

    assert [s.shape[1] for s in features.stages] == [info["num_chs"] for info in model.feature_info]
    assert [32 // s.shape[-1] for s in features.stages] == [info["reduction"] for info in model.feature_info]
    sizes = [s.shape[-1] for s in features.stages]
    assert sizes == sorted(sizes, reverse=True) and len(sizes) >= 4
    assert features.embedding.shape == (2, model.num_features) and features.logits.shape == (2, 10)
    for index, (pre, stage) in enumerate(zip(features.pre_relu, features.stages, strict=True)):
        rule = pre_relu_rule(model, index)
        if rule == LINEAR_STAGE:
            assert pre is stage
        elif name.startswith("crd_wrn"):  # the BatchNorm that follows the stage: see test_wrn_pre_relu_...
            assert pre.shape == stage.shape
        else:  # the default rule, and Inception's concatenated branches
            assert torch.equal(torch.relu(pre), stage), (name, index)

    loss = F.cross_entropy(features.logits, torch.tensor([1, 2])) + sum(p.mean() for p in features.pre_relu)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    model.eval()
    with torch.no_grad():
        logits = model(x)
        torch.testing.assert_close(extract_features(model, x).logits, logits)
        channels_last = model.to(memory_format=torch.channels_last)  # the engine's default layout
        # another memory layout sums in another order: equal up to float32 rounding at the logits' scale
        scale = float(logits.abs().max())
        torch.testing.assert_close(
            channels_last(x.to(memory_format=torch.channels_last)), logits, rtol=1e-5, atol=1e-5 * scale
        )
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


@pytest.mark.parametrize("name", ZOO)
def test_full_width_shapes_for_32px_input(name: str):
    """The published widths, by a forward pass on the meta device (shapes only, no compute)."""
    with torch.device("meta"):
        model = create_model(name, num_classes=100)
        spec = feature_spec(model, (3, 32, 32))
    reference = PINNED.get(name, {}).get("features")
    if reference is not None:  # RepDistiller's is_feat maps
        assert [list(s) for s in zip(spec.stage_channels, spec.stage_sizes, strict=True)] == [
            [f["shape"][1], tuple(f["shape"][2:])] for f in reference
        ]
        assert spec.embedding_dim == PINNED[name]["embedding"]["shape"][1]
    expected = {
        "cifar_inception_v3": ((192, 288, 768, 2048), (32, 32, 15, 7), 2048),
        "cifar_mobilenetv2": ((32, 24, 32, 96, 320), (32, 32, 16, 8, 4), 1280),
        "cifar_vgg11_bn": ((64, 128, 256, 512, 512), (32, 16, 8, 4, 2), 512),
    }.get(name)
    if expected is not None:
        channels, sizes, embedding = expected
        assert spec.stage_channels == channels and [s[0] for s in spec.stage_sizes] == list(sizes)
        assert spec.embedding_dim == embedding
    assert reference is not None or expected is not None
    assert spec.num_classes == 100


def resnet_count(stem: int, planes: tuple[int, ...], blocks: int, classes: int) -> int:
    """Closed form: CIFAR ResNet of basic blocks (He et al. 2016, Sec. 4.2): 3x3 stem, ``blocks`` per stage,
    conv weights + BatchNorm gain and bias, a 1x1 projection + BatchNorm where a block changes shape, linear head."""
    total, cin = 27 * stem + 2 * stem, stem
    for p in planes:
        for _ in range(blocks):
            total += 9 * cin * p + 2 * p + 9 * p * p + 2 * p + (cin * p + 2 * p if cin != p else 0)
            cin = p
    return total + cin * classes + classes


def wrn_count(depth: int, widen: int, classes: int) -> int:
    """Closed form: WRN-depth-widen (Zagoruyko & Komodakis 2016): 3x3 stem of 16 without BatchNorm, pre-activation
    blocks (two BatchNorms, two 3x3 convs, a 1x1 shortcut conv where the width changes), final BatchNorm, linear."""
    total, cin = 27 * 16, 16
    for c in (16 * widen, 32 * widen, 64 * widen):
        for _ in range((depth - 4) // 6):
            total += 2 * cin + 9 * cin * c + 2 * c + 9 * c * c + (cin * c if cin != c else 0)
            cin = c
    return total + 2 * cin + cin * classes + classes


def vgg_count(widths: list[int], classes: int) -> int:
    """Closed form: 3x3 convolutions with bias, each followed by BatchNorm, then a linear layer."""
    total, cin = 0, 3
    for c in widths:
        total += 9 * cin * c + c + 2 * c
        cin = c
    return total + cin * classes + classes


#: published or closed-form counts (100 classes unless the name says otherwise), each with its source
INDEPENDENT_COUNTS = {
    **{f"crd_resnet{d}": resnet_count(16, (16, 32, 64), (d - 2) // 6, 100) for d in (8, 14, 20, 32, 44, 56, 110)},
    "crd_resnet8x4": resnet_count(32, (64, 128, 256), 1, 100),
    "crd_resnet32x4": resnet_count(32, (64, 128, 256), 5, 100),
    "crd_wrn_16_2": wrn_count(16, 2, 100),
    "crd_wrn_40_1": wrn_count(40, 1, 100),
    "crd_wrn_40_2": wrn_count(40, 2, 100),
    "crd_vgg8": vgg_count([64, 128, 256, 512, 512], 100),
    "crd_vgg11": vgg_count([64, 128, 256, 256, 512, 512, 512, 512], 100),
    "crd_vgg13": vgg_count([64, 64, 128, 128, 256, 256, 512, 512, 512, 512], 100),
    "crd_vgg16": vgg_count([64, 64, 128, 128] + [256] * 3 + [512] * 6, 100),
    "crd_vgg19": vgg_count([64, 64, 128, 128] + [256] * 4 + [512] * 8, 100),
    "cifar_vgg11_bn": vgg_count([64, 128, 256, 256, 512, 512, 512, 512], 10),  # kuangliu's VGG11: 9.23M
}


@pytest.mark.parametrize("name", ZOO)
def test_parameter_counts(name: str):
    """Each count equals the reference definition's, instantiated (pinned with its commit), and where one exists an
    independent closed form or published figure."""
    classes = 10 if name.startswith("cifar_") else 100
    with torch.device("meta"):
        count = count_parameters(create_model(name, num_classes=classes))
    if name in PINNED:
        assert count == PINNED[name]["parameters"]
    if name in INDEPENDENT_COUNTS:
        assert count == INDEPENDENT_COUNTS[name]
    if name == "cifar_mobilenetv2":
        # torchvision's documented num_params of mobilenet_v2 (1000 classes); huyvnphan's README: 2.237 M (10 classes)
        with torch.device("meta"):
            assert count_parameters(create_model(name, num_classes=1000)) == 3_504_872
        assert round(count / 1e6, 3) == 2.237
    assert name in PINNED or name in INDEPENDENT_COUNTS or name == "cifar_mobilenetv2"


def close(actual: float, expected: float, scale: float) -> bool:
    return math.isclose(actual, expected, rel_tol=1e-4, abs_tol=1e-4 * scale)


@pytest.mark.parametrize("name", sorted(CONVERSIONS))
def test_converted_reference_weights_reproduce_the_reference_network(name: str):
    """RepDistiller's definition, filled with synthetic weights, gave the pinned logits and feature statistics; the
    same weights converted to our layout give the same numbers: the networks are the same functions, the features
    are taken where RepDistiller takes them and the pre-ReLU maps are its preact maps (up to ShuffleV2's channel
    order, which sums do not see; the stem has no preact in RepDistiller)."""
    pinned = PINNED[name]
    reference = synthetic_state(pinned["state"])
    converted = convert_repdistiller(name, reference)
    conversion = CONVERSIONS[name]
    assert len(converted.state_dict) == len(reference) and converted.filled_counters == 0
    assert all(converted.state_dict[conversion.target(key)] is tensor for key, tensor in reference.items())

    model = converted.model.eval()
    with torch.no_grad():
        features = extract_features(model, synthetic_input(), pre_relu=True)
    expected = torch.tensor(pinned["logits"])
    torch.testing.assert_close(features.logits, expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())
    for ours, theirs in [(features.stages, pinned["features"]), (features.pre_relu[1:], pinned["preact"][1:])]:
        assert len(ours) == len(theirs)
        for tensor, stats in zip(ours, theirs, strict=True):
            assert list(tensor.shape) == stats["shape"]
            sum_sq = tensor.double().pow(2).sum().item()
            assert close(tensor.double().sum().item(), stats["sum"], math.sqrt(stats["sum_sq"] * tensor.numel()))
            assert close(sum_sq, stats["sum_sq"], stats["sum_sq"])
    embedding = pinned["embedding"]
    scale = math.sqrt(embedding["sum_sq"] * features.embedding.numel())
    assert close(features.embedding.double().sum().item(), embedding["sum"], scale)


def test_cifar_inception_v3_is_huyvnphans_network():
    """huyvnphan/PyTorch_CIFAR10's inception_v3 state dict loads into ours unchanged (same names and shapes) and
    gives the pinned logits."""
    pinned = PINNED["cifar_inception_v3"]
    model = create_model("cifar_inception_v3", num_classes=10)
    assert [[k, list(v.shape)] for k, v in model.state_dict().items()] == pinned["state"]
    model.load_state_dict(synthetic_state(pinned["state"]))
    with torch.no_grad():
        logits = model.eval()(synthetic_input())
    expected = torch.tensor(pinned["logits"])
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())


def test_wrn_pre_relu_is_the_batchnorm_that_follows_each_stage():
    """Pre-activation networks: the pre-ReLU map of a stage is the next block's first BatchNorm applied to it
    (the final BatchNorm after the last stage), RepDistiller's preact."""
    model = create_model("crd_wrn_16_2", num_classes=10, width_multiplier=THIN).eval()
    for norm in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
        norm.running_mean.uniform_(-0.5, 0.5)
        norm.running_var.uniform_(0.5, 2.0)
    with torch.no_grad():
        features = extract_features(model, torch.randn(2, 3, 32, 32), pre_relu=True)
    norms = [model.stages[1].blocks[0].norm1, model.stages[2].blocks[0].norm1, model.norm]
    for stage, pre, norm in zip(features.stages[1:], features.pre_relu[1:], norms, strict=True):
        expected = F.batch_norm(stage, norm.running_mean, norm.running_var, norm.weight, norm.bias, eps=norm.eps)
        torch.testing.assert_close(pre, expected)
        assert not torch.equal(torch.relu(pre), stage)


def test_shufflev2_unit_relu_after_shuffle_equals_the_reference_order():
    """relu(shuffle(cat(x1, branch))) == shuffle(cat(x1, relu(branch))) for the non-negative inputs every unit gets."""
    torch.manual_seed(0)
    unit = ShuffleV2Unit(8).eval()
    x = torch.relu(torch.randn(2, 8, 5, 5))
    with torch.no_grad():
        passed, branch = x.chunk(2, dim=1)
        branch = unit.bn3(unit.conv3(unit.bn2(unit.conv2(unit.act1(unit.bn1(unit.conv1(branch)))))))
        reference_order = channel_shuffle(torch.cat([passed, torch.relu(branch)], 1), 2)
        assert (branch < 0).any()
        torch.testing.assert_close(unit(x), reference_order, rtol=0, atol=0)


def test_width_multiplier_rules_and_errors():
    spec = feature_spec(create_model("crd_shufflev1", num_classes=10, width_multiplier=0.125), (3, 32, 32))
    assert spec.stage_channels == (12, 36, 60, 120)  # multiples of 12 (3 groups, quarter-width bottleneck)
    spec = feature_spec(create_model("crd_shufflev2", num_classes=10, width_multiplier=0.25), (3, 32, 32))
    assert spec.stage_channels == (6, 30, 58, 116)  # even stage widths
    spec = feature_spec(create_model("crd_resnet8x4", num_classes=10, width_multiplier=0.3), (3, 32, 32))
    assert spec.stage_channels == (10, 19, 38, 77)  # round half up; the stem 2 x round(16 x 0.3)
    with pytest.raises(ValueError, match=r"multiple of 1/16"):
        create_model("cifar_inception_v3", num_classes=10, width_multiplier=0.3)
    with pytest.raises(ValueError, match="not above its stem"):
        create_model("crd_shufflev1", num_classes=10, width_multiplier=0.01)
    with pytest.raises(ValueError, match="positive"):
        create_model("crd_vgg8", num_classes=10, width_multiplier=-1.0)
    for name in ("crd_resnet56", "crd_wrn_40_2", "crd_vgg13", "crd_mobilenetv2", "crd_shufflev2", "cifar_inception_v3"):
        with pytest.raises(ValueError, match="cannot set width"):
            create_model(name, num_classes=10, width=0.5)
        with pytest.raises(ValueError, match="no pretrained weights"):
            create_model(name, num_classes=10, pretrained=True)
    with pytest.raises(ValueError, match="cannot set layers"):
        create_model("crd_resnet20", num_classes=10, layers=(1, 1, 1))


def test_default_configs():
    for name in ZOO:
        cfg = timm.models.get_pretrained_cfg(name)
        assert cfg.input_size == (3, 32, 32) and cfg.num_classes == (10 if name in ISSUE_13 else 100)
        assert not cfg.has_weights
    assert timm.create_model("cifar_inception_v3").fc.out_features == 10
    assert timm.create_model("crd_resnet20").fc.out_features == 100


#: heterogeneous pairs of the new families (teacher, student), thinned: channel counts, stage counts and map sizes
#: all differ between teacher and student
HETEROGENEOUS = [
    ("cifar_inception_v3", "cifar_mobilenetv2"),
    ("cifar_inception_v3", "cifar_vgg11_bn"),
    ("crd_resnet32x4", "crd_shufflev2"),
    ("crd_wrn_40_2", "crd_shufflev1"),
    ("crd_resnet50", "crd_mobilenetv2"),
]


@pytest.fixture(scope="module")
def thin_models() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    names = sorted({name for pair in HETEROGENEOUS for name in pair})
    return {name: create_model(name, num_classes=10, width_multiplier=THIN) for name in names}


def one_step(name: str, args: dict, teacher: nn.Module, student: nn.Module) -> None:
    """Build method ``name`` with ``args`` for the pair, run each of its stages once on a small batch and backpropagate:
    the loss is finite and reaches what the stage trains (the student; in an init stage, the student or the method)."""
    teacher.eval()
    student.train()
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 0, 1])
    method_cls = get_method(name)
    teacher_spec = feature_spec(teacher, (3, 32, 32)) if method_cls.uses_teacher else None
    method = build_method(name, args, feature_spec(student, (3, 32, 32)), teacher_spec)
    method.seed(0)
    method.bind_training_set(torch.tensor([0, 1] * 8))  # a 16-sample training set (CRD's memory bank)
    extra = {"indices": torch.arange(4)} if method.needs_sample_indices else {}
    stages = [("init", method.forward_init)] if method.init_epochs else []
    for stage, phase in [*stages, ("main", method.forward)]:
        method.begin_epoch(stage, 1)
        s = extract_features(student, x, pre_relu=method.student_pre_relu)
        t: Features | None = None
        if method_cls.uses_teacher:
            with torch.no_grad():
                t = extract_features(teacher, x, pre_relu=method.teacher_pre_relu)
        loss = sum(phase(s, t, y, **extra).values())
        assert torch.isfinite(loss), (name, stage)
        student.zero_grad(set_to_none=True)
        method.zero_grad(set_to_none=True)
        loss.backward()
        # an init stage trains the student (FSP) or the method's own modules only (FT's paraphraser)
        trained = [*student.parameters(), *method.parameters()] if stage == "init" else list(student.parameters())
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in trained), (name, stage)


@pytest.mark.parametrize("pair", HETEROGENEOUS, ids=["->".join(p) for p in HETEROGENEOUS])
def test_every_method_takes_a_step_on_heterogeneous_pairs(thin_models, pair: tuple[str, str]):
    teacher, student = (thin_models[name] for name in pair)
    for name in method_names():
        one_step(name, {}, teacher, student)


def benchmark_runs() -> dict[tuple[str, str], list]:
    """Every (teacher, student) pair of the CIFAR-100 benchmark suites with its distilling runs of seed 0, each
    method with the options the suite gives it on that pair (per-pair arguments, skipped methods)."""
    from cskd.plan import expand
    from cskd.suite import load_suite

    pairs: dict[tuple[str, str], list] = {}
    for suite in ("kd_cifar100_same", "kd_cifar100_cross"):
        for run in expand(load_suite(suite), seeds=[0]).runs:
            if run.teacher_model is not None and run.kind == "student":
                pairs.setdefault((run.teacher, run.student), []).append(run)
    return pairs


BENCHMARK_RUNS = benchmark_runs()


@pytest.mark.parametrize("pair", list(BENCHMARK_RUNS), ids=["->".join(p) for p in BENCHMARK_RUNS])
def test_every_method_takes_a_step_on_every_pair_of_the_benchmark(pair: tuple[str, str]):
    """Issue 14: each of the 13 published pairs, thinned, with every method the suites run on it."""
    runs = BENCHMARK_RUNS[pair]
    torch.manual_seed(0)
    teacher = create_model(runs[0].teacher_model.name, num_classes=10, width_multiplier=THIN)
    student = create_model(runs[0].student_model.name, num_classes=10, width_multiplier=THIN)
    for run in runs:
        one_step(run.method.name, dict(run.method.args), teacher, student)


def test_cskd_list_models_prints_every_family_with_its_source_and_counts(capsys):
    from cskd.cli import main
    from cskd.models import FAMILIES

    assert main(["list", "models"]) == 0
    out = capsys.readouterr().out
    assert all(family.title in out and family.source in out for family in FAMILIES)
    rows = {row[0]: row[1:] for row in (line.split() for line in out.splitlines()) if row and row[0] in model_names()}
    assert sorted(rows) == model_names()
    assert rows["crd_resnet56"] == ["100", "0.86M", "861620"]
    assert rows["cifar_inception_v3"] == ["10", "21.64M", "21638954"]
    assert rows["cifar_resnet18_w0_25"] == ["10", "0.70M", "701466"]
    assert rows["in_resnet18_w0_5"][0] == "200" and rows["tin_resnet152_w1"][2] == "58545928"
    assert out.index("== the paper's models") < out.index("== the authors' extra") < out.index("== the CRD benchmark")
    assert out.index("crd_resnet8 ") < out.index("crd_resnet14 ") < out.index("crd_resnet110 ")
