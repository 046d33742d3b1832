"""What a distillation method sees of a model: stage maps, pooled embedding and logits from one forward pass.

Works for any timm model that implements ``forward_intermediates`` (the paper's ResNets, timm's ResNets,
MobileNets, VGG, Inception, EfficientNets, ...): the stages are all entries of ``model.feature_info``, shallow to
deep; the embedding is ``forward_head(final, pre_logits=True)`` and the logits are ``get_classifier()`` applied to it,
which is exactly ``model(x)``.

Pre-ReLU maps (``pre_relu=True``, for AB; RepDistiller's ``preact`` features), per ``feature_info`` entry:

* by default, the input of the last ``nn.ReLU`` registered inside the stage's module, whose output must be the stage
  output itself (checked), so ``relu(pre_relu) == stage``: ResNets, VGG, ShuffleNets, the stems;
* ``"pre_relu": "linear"``: the stage ends in a linear operation and no ReLU follows inside it (MobileNetV2's linear
  bottleneck: a BatchNorm after the projection, plus the residual), so the pre-ReLU map is the stage output itself,
  as RepDistiller's MobileNetV2 returns with ``preact=True``;
* ``"pre_relu": [module names]``: the inputs of these ``nn.ReLU`` modules concatenated along channels, in order. For a
  stage that concatenates branches each ending in its own ReLU (Inception) ``relu(pre_relu) == stage``; for a
  pre-activation network, whose stage output is a residual sum followed by the next block's BatchNorm-ReLU (the wide
  ResNets), it names that ReLU: the pre-ReLU map is the BatchNorm's output, RepDistiller's ``preact``, and
  ``relu(pre_relu)`` is not the stage output.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from cskd.features import Features, FeatureSpec


def extract_features(model: nn.Module, x: Tensor, *, pre_relu: bool = False) -> Features:
    """One forward pass of ``model`` on ``x`` returning its stage maps, embedding and logits.

    With ``pre_relu=True`` also each stage's map before its ReLU (the activation boundary that AB distils, Heo et
    al., AAAI 2019), by the rules of the module docstring: ``relu(pre_relu[i]) == stages[i]`` for stages that end in
    a ReLU.
    """
    if not hasattr(model, "forward_intermediates"):
        raise TypeError(
            f"{type(model).__name__} has no forward_intermediates: use a timm model that implements it "
            "(the paper's cifar_/tin_resnet*, timm's resnet*, mobilenetv2_*, vgg*, ...)"
        )
    if not pre_relu:
        final, stages = model.forward_intermediates(x)
        captured = None
    else:
        with _capture_stage_pre_relu(model) as (taps, inputs, outputs):
            final, stages = model.forward_intermediates(x)
        captured = _checked_pre_relu(model, stages, taps, inputs, outputs)
    embedding = model.forward_head(final, pre_logits=True)
    return Features(
        stages=list(stages), embedding=embedding, logits=model.get_classifier()(embedding), pre_relu=captured
    )


def feature_spec(model: nn.Module, input_size: tuple[int, int, int]) -> FeatureSpec:
    """Shapes of ``model``'s :class:`Features` for ``input_size = (C, H, W)``, found by one dummy forward pass.

    The pass runs in eval mode without gradients on the model's device; the model's train/eval mode is restored.
    """
    if len(input_size) != 3 or not all(isinstance(n, int) and n > 0 for n in input_size):
        raise ValueError(f"input_size must be (channels, height, width) of positive ints, got {input_size!r}")
    reference = next(model.parameters())
    dummy = torch.zeros(1, *input_size, device=reference.device, dtype=reference.dtype)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            features = extract_features(model, dummy)
    finally:
        model.train(was_training)
    return FeatureSpec(
        stage_channels=tuple(stage.shape[1] for stage in features.stages),
        stage_sizes=tuple((stage.shape[2], stage.shape[3]) for stage in features.stages),
        embedding_dim=features.embedding.shape[1],
        num_classes=features.logits.shape[1],
    )


def count_parameters(model: nn.Module) -> int:
    """Number of learnable parameters (tensors of ``model.parameters()``; BatchNorm running statistics excluded)."""
    return sum(parameter.numel() for parameter in model.parameters())


#: ``feature_info`` key naming where a stage's pre-ReLU map is, when it is not the input of its last ReLU
PRE_RELU_KEY = "pre_relu"
#: value of :data:`PRE_RELU_KEY` for a stage that ends in a linear operation
LINEAR_STAGE = "linear"


@dataclass(frozen=True)
class _StageTap:
    """Where one stage's pre-ReLU map is: the inputs of ``relus`` (concatenated), or the stage itself if none.

    ``ends_stage``: the single ReLU's output must be the stage output (the default rule, checked after the pass).
    """

    relus: tuple[nn.ReLU, ...]
    ends_stage: bool


def _last_relu(model: nn.Module, stage_module_name: str) -> nn.ReLU:
    """The last ``nn.ReLU`` registered inside the module that produces a stage (the stage itself if it is one)."""
    relus = [m for m in model.get_submodule(stage_module_name).modules() if isinstance(m, nn.ReLU)]
    if not relus:
        raise ValueError(
            f"{type(model).__name__} stage {stage_module_name!r} contains no nn.ReLU, so it has no pre-ReLU output: "
            "pre_relu=True (AB) needs a model whose stages end in a ReLU, such as a ResNet"
        )
    return relus[-1]


def _named_relu(model: nn.Module, stage_module_name: str, name: str) -> nn.ReLU:
    try:
        module = model.get_submodule(name)
    except AttributeError:
        module = None
    if not isinstance(module, nn.ReLU):
        raise ValueError(
            f"{type(model).__name__} stage {stage_module_name!r}: its feature_info {PRE_RELU_KEY!r} entry names "
            f"{name!r}, which is not an nn.ReLU of the model"
        )
    return module


def _stage_tap(model: nn.Module, info: dict) -> _StageTap:
    """The pre-ReLU rule of one ``feature_info`` entry (see the module docstring)."""
    rule = info.get(PRE_RELU_KEY)
    if rule is None:
        return _StageTap((_last_relu(model, info["module"]),), ends_stage=True)
    if rule == LINEAR_STAGE:
        return _StageTap((), ends_stage=False)
    if isinstance(rule, str) or not rule:
        raise ValueError(
            f"{type(model).__name__} stage {info['module']!r}: feature_info {PRE_RELU_KEY!r} must be "
            f"{LINEAR_STAGE!r} or a non-empty list of nn.ReLU module names, got {rule!r}"
        )
    return _StageTap(tuple(_named_relu(model, info["module"], name) for name in rule), ends_stage=False)


@contextmanager
def _capture_stage_pre_relu(model: nn.Module) -> Iterator[tuple[list[_StageTap], list[list], list[Tensor | None]]]:
    """Hook the ReLUs of every stage's pre-ReLU rule for one forward pass, removing the hooks after.

    Yields the taps and two lists filled during the pass: per stage, the inputs of its ReLUs (cloned, since timm's
    ReLUs are in place) and, for the default rule, the ReLU's output (kept to check it is the stage output). A ReLU
    called several times keeps its last call.
    """
    taps = [_stage_tap(model, info) for info in model.feature_info]
    inputs: list[list] = [[None] * len(tap.relus) for tap in taps]
    outputs: list[Tensor | None] = [None] * len(taps)
    handles: list[RemovableHandle] = []

    def keep_input(stage: int, position: int):
        def hook(_module: nn.Module, args: tuple[Tensor, ...]) -> None:
            inputs[stage][position] = args[0].clone()

        return hook

    def keep_output(stage: int):
        def hook(_module: nn.Module, _args: tuple[Tensor, ...], output: Tensor) -> None:
            outputs[stage] = output

        return hook

    try:
        for stage, tap in enumerate(taps):
            for position, relu in enumerate(tap.relus):
                handles.append(relu.register_forward_pre_hook(keep_input(stage, position)))
            if tap.ends_stage:
                handles.append(tap.relus[0].register_forward_hook(keep_output(stage)))
        yield taps, inputs, outputs
    finally:
        for handle in handles:
            handle.remove()


def _checked_pre_relu(
    model: nn.Module, stages: list[Tensor], taps: list[_StageTap], inputs: list[list], outputs: list[Tensor | None]
) -> list[Tensor]:
    """Each stage's pre-ReLU map, after checking it against the stage (see the module docstring for the rules)."""
    if len(stages) != len(taps):
        raise ValueError(
            f"{type(model).__name__} returned {len(stages)} intermediates for {len(taps)} feature_info stages, "
            "so its stages cannot be matched to their ReLUs for pre_relu=True"
        )
    checked = []
    for index, (stage, tap, captured, output) in enumerate(zip(stages, taps, inputs, outputs, strict=True)):
        name = model.feature_info[index]["module"]
        if not tap.relus:
            checked.append(stage)
            continue
        if any(tensor is None for tensor in captured):
            raise ValueError(f"{type(model).__name__} stage {name!r}: a ReLU of its pre-ReLU rule did not run")
        if tap.ends_stage and (output is None or output.data_ptr() != stage.data_ptr() or output.shape != stage.shape):
            raise ValueError(
                f"{type(model).__name__} stage {name!r} does not end in its last nn.ReLU, so it has no pre-ReLU "
                "output: pre_relu=True (AB) needs stages that end in a ReLU"
            )
        pre = captured[0] if len(captured) == 1 else torch.cat(captured, dim=1)
        if pre.shape != stage.shape:
            raise ValueError(
                f"{type(model).__name__} stage {name!r}: its pre-ReLU map has shape {tuple(pre.shape)}, the stage "
                f"{tuple(stage.shape)}"
            )
        checked.append(pre)
    return checked
