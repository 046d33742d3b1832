"""The paper's ResNets (timm registry, three stems) and the feature helper that every distillation method relies on."""

from __future__ import annotations

import pytest
import timm
import torch
import torch.nn.functional as F
from torch import nn

from cskd.features import Features
from cskd.models import count_parameters, create_model, extract_features, feature_spec, paper_model_names

DEPTH_BLOCKS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3))}
DEPTH_BLOCKS |= {101: ("bottleneck", (3, 4, 23, 3)), 152: ("bottleneck", (3, 8, 36, 3))}
WIDTH_SUFFIXES = {"": 1.0, "_w0_25": 0.25, "_w0_5": 0.5, "_w1": 1.0}
#: width_multiplier that keeps every test model tiny; with it 64 * width stays an exact even channel count
THIN = 1 / 8


def expected_family() -> list[tuple[str, str, int, float]]:
    return [
        (f"{prefix}_resnet{depth}{suffix}", prefix, depth, width)
        for prefix in ("cifar", "tin", "in")
        for depth in DEPTH_BLOCKS
        for suffix, width in WIDTH_SUFFIXES.items()
    ]


def analytic_parameter_count(depth: int, planes: tuple[int, ...], num_classes: int, stem_kernel: int = 3) -> int:
    """Parameters of a ResNet with a ``stem_kernel`` stem of ``planes[0]`` channels, counted from He et al. 2016 by
    hand: conv weights + BatchNorm gain and bias, a 1x1 projection where a block changes shape, a linear head."""

    def conv_bn(cin: int, cout: int, kernel: int) -> int:
        return cin * cout * kernel * kernel + 2 * cout

    kind, layers = DEPTH_BLOCKS[depth]
    total = conv_bn(3, planes[0], stem_kernel)
    cin = planes[0]
    for stage, (blocks, p) in enumerate(zip(layers, planes, strict=True)):
        for index in range(blocks):
            if kind == "basic":
                cout = p
                total += conv_bn(cin, p, 3) + conv_bn(p, p, 3)
            else:
                cout = 4 * p
                total += conv_bn(cin, p, 1) + conv_bn(p, p, 3) + conv_bn(p, cout, 1)
            if index == 0 and (stage > 0 or cin != cout):
                total += conv_bn(cin, cout, 1)
            cin = cout
    return total + cin * num_classes + num_classes


def relu_of_pre_relu_is_the_stage(features: Features) -> bool:
    pairs = zip(features.pre_relu, features.stages, strict=True)
    return all(torch.equal(torch.relu(pre), stage) for pre, stage in pairs)


def test_registered_names_are_the_paper_family():
    names = paper_model_names()
    assert sorted(names) == sorted(name for name, *_ in expected_family())
    assert all(timm.is_model(name) for name in names)


@pytest.mark.parametrize(("name", "prefix", "depth", "width"), expected_family())
def test_every_model_trains_and_exposes_its_stages(name: str, prefix: str, depth: int, width: float):
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, width_multiplier=THIN)
    _, size, _ = model.pretrained_cfg["input_size"]
    x = torch.randn(1 if prefix == "in" else 2, 3, size, size)
    labels = torch.tensor([3, 7])[: len(x)]

    features = extract_features(model.train(), x, pre_relu=True)

    expansion = 4 if DEPTH_BLOCKS[depth][0] == "bottleneck" else 1
    planes = [int(base * width * THIN) for base in (64, 128, 256, 512)]
    assert [s.shape[1] for s in features.stages] == [planes[0]] + [p * expansion for p in planes]
    first = {"cifar": 32, "tin": 32, "in": 56}[prefix]  # the first stage's map size
    stem_size = {"cifar": 32, "tin": 64, "in": 112}[prefix]
    assert [s.shape[2] for s in features.stages] == [stem_size, first, first // 2, first // 4, first // 8]
    assert [info["reduction"] for info in model.feature_info] == [size // s.shape[2] for s in features.stages]
    assert features.embedding.shape == (len(x), planes[3] * expansion)
    assert features.logits.shape == (len(x), 10)
    assert relu_of_pre_relu_is_the_stage(features)

    loss = F.cross_entropy(features.logits, labels) + sum(pre.mean() for pre in features.pre_relu)
    loss.backward()
    assert torch.isfinite(features.logits).all()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    with torch.no_grad():
        torch.testing.assert_close(features.logits, model(x))


@pytest.mark.parametrize(
    ("name", "num_classes", "planes", "paper_millions"),
    [
        ("cifar_resnet152_w0_5", 10, (32, 64, 128, 256), 14.6),
        ("cifar_resnet101_w0_5", 10, (32, 64, 128, 256), 10.7),
        ("cifar_resnet18_w0_25", 10, (16, 32, 64, 128), 0.7),
        ("cifar_resnet34_w0_25", 10, (16, 32, 64, 128), 1.3),
        ("cifar_resnet50_w0_25", 10, (16, 32, 64, 128), 1.4),
        ("tin_resnet152_w1", 200, (64, 128, 256, 512), 58.5),
    ],
)
def test_parameter_counts_match_the_paper(name: str, num_classes: int, planes: tuple[int, ...], paper_millions: float):
    count = count_parameters(create_model(name, num_classes=num_classes))
    depth = int(name.split("_")[1].removeprefix("resnet"))
    assert count == analytic_parameter_count(depth, planes, num_classes)
    # the paper prints one decimal, truncating for some models (R50_0.25: 1.48M -> 1.4) and rounding for others
    # (R152_0.5: 14.58M -> 14.6), so its figure must be one of the two readings of our exact count
    tenths = round(paper_millions * 10)
    assert tenths in (count // 100_000, round(count / 100_000))


@pytest.mark.parametrize(
    ("depth", "torchvision_params"),
    [(18, 11_689_512), (34, 21_797_672), (50, 25_557_032), (101, 44_549_160), (152, 60_192_808)],
)
def test_imagenet_stem_resnets_at_width_1_are_torchvisions(depth: int, torchvision_params: int):
    """At width 1 with 1000 classes, in_resnet{depth} has torchvision's documented parameter count (its model
    table's num_params) and the closed-form count with a 7x7 stem; thinner widths follow the same closed form."""
    with torch.device("meta"):  # shapes only
        count = count_parameters(create_model(f"in_resnet{depth}_w1", num_classes=1000))
        half = count_parameters(create_model(f"in_resnet{depth}_w0_5", num_classes=200))
    assert count == torchvision_params == analytic_parameter_count(depth, (64, 128, 256, 512), 1000, stem_kernel=7)
    assert half == analytic_parameter_count(depth, (32, 64, 128, 256), 200, stem_kernel=7)


def test_width_rounds_half_up_and_multiplier_multiplies_width():
    spec = feature_spec(create_model("cifar_resnet18", num_classes=10, width=0.3), (3, 32, 32))
    # 64, 128, 256, 512 x 0.3 = 19.2, 38.4, 76.8, 153.6; the stem is 2 x round(32 x 0.3 = 9.6)
    assert spec.stage_channels == (20, 19, 38, 77, 154)
    halved = create_model("cifar_resnet50", num_classes=10, width=0.5, width_multiplier=0.5)
    assert count_parameters(halved) == count_parameters(create_model("cifar_resnet50_w0_25", num_classes=10))


def test_default_config_and_init():
    cifar = timm.create_model("cifar_resnet50_w0_25")
    tiny = timm.create_model("tin_resnet18_w0_25")
    cub = timm.create_model("in_resnet18_w0_25")
    assert (cifar.num_classes, cifar.pretrained_cfg["input_size"]) == (10, (3, 32, 32))
    assert (tiny.num_classes, tiny.pretrained_cfg["input_size"]) == (200, (3, 64, 64))
    assert (cub.num_classes, cub.pretrained_cfg["input_size"]) == (200, (3, 224, 224))
    assert cub.pretrained_cfg["pool_size"] == (7, 7)
    assert (cub.conv1.kernel_size, cub.conv1.stride, cub.maxpool.stride) == ((7, 7), (2, 2), 2)
    assert all(torch.equal(block.bn3.weight, torch.ones_like(block.bn3.weight)) for block in cifar.layer1)
    zeroed = timm.create_model("cifar_resnet50_w0_25", zero_init_last=True)
    assert all(not block.bn3.weight.any() for block in zeroed.layer1)


def test_feature_spec_matches_a_forward_and_keeps_the_mode():
    model = create_model("tin_resnet50_w0_25", num_classes=200, width_multiplier=THIN)
    for training in (True, False):
        model.train(training)
        spec = feature_spec(model, (3, 64, 64))
        assert model.training is training
    features = extract_features(model.eval(), torch.randn(1, 3, 64, 64))
    assert spec.stage_channels == tuple(s.shape[1] for s in features.stages)
    assert spec.stage_sizes == tuple(tuple(s.shape[2:]) for s in features.stages)
    assert (spec.embedding_dim, spec.num_classes, spec.num_stages) == (features.embedding.shape[1], 200, 5)
    with pytest.raises(ValueError, match="input_size"):
        feature_spec(model, (64, 64))


def test_plain_timm_resnet_works_through_extract_features():
    model = create_model("resnet18", num_classes=10).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        features = extract_features(model, x, pre_relu=True)
        torch.testing.assert_close(features.logits, model(x))
    assert [s.shape[1] for s in features.stages] == [info["num_chs"] for info in model.feature_info]
    assert relu_of_pre_relu_is_the_stage(features)


def test_pre_relu_on_a_model_without_relu_stages_fails_clearly_and_leaves_no_hooks():
    model = create_model("mobilenetv2_100", num_classes=10).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(extract_features(model, x).logits, model(x))
        with pytest.raises(ValueError, match=r"no nn\.ReLU"):
            extract_features(model, x, pre_relu=True)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_pre_relu_rules_declared_in_feature_info_are_checked():
    model = create_model("crd_resnet8", num_classes=10, width_multiplier=0.25).eval()
    x = torch.randn(1, 3, 32, 32)
    rules = [
        (["layer1.0.conv1"], "not an nn.ReLU"),
        ("bogus", "must be 'linear' or a non-empty list"),
        (["act1", "layer1.0.act1"], r"pre-ReLU map has shape \(1, 8, 32, 32\), the stage \(1, 4, 32, 32\)"),
    ]
    with torch.no_grad():
        for rule, message in rules:
            model.feature_info[1]["pre_relu"] = rule
            with pytest.raises(ValueError, match=message):
                extract_features(model, x, pre_relu=True)
        model.feature_info[1]["pre_relu"] = "linear"
        features = extract_features(model, x, pre_relu=True)
    assert features.pre_relu[1] is features.stages[1]
    assert torch.equal(torch.relu(features.pre_relu[2]), features.stages[2])
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_model_without_forward_intermediates_is_rejected():
    with pytest.raises(TypeError, match="forward_intermediates"):
        extract_features(nn.Linear(3, 2), torch.randn(1, 3))


def test_bad_names_and_arguments_fail_clearly():
    with pytest.raises(ValueError, match="closest: cifar_resnet18_w0_25"):
        create_model("cifar_resnet81_w0_25", num_classes=10)
    with pytest.raises(ValueError, match="cifar_resnet18_w0_25") as unrelated:
        create_model("xyz", num_classes=10)
    assert len(str(unrelated.value)) < 2000  # lists the paper's names, not every timm model
    with pytest.raises(ValueError, match="no pretrained weights"):
        create_model("cifar_resnet18_w0_25", num_classes=10, pretrained=True)
    with pytest.raises(ValueError, match=r"fixed width 0\.5"):
        create_model("cifar_resnet18_w0_5", num_classes=10, width=2.0)
    with pytest.raises(ValueError, match="positive"):
        create_model("cifar_resnet18", num_classes=10, width=0.0)
    with pytest.raises(ValueError, match="cannot set channels"):
        create_model("cifar_resnet18", num_classes=10, channels=(8, 16, 32, 64))
