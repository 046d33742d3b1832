"""What a distillation method sees of a model: stage maps, pooled embedding and logits from one forward pass.

Works for any timm model that implements ``forward_intermediates`` (the paper's ResNets, timm's ResNets,
MobileNets, VGG, Inception, EfficientNets, ...): the stages are all entries of ``model.feature_info``, shallow to
deep; the embedding is ``forward_head(final, pre_logits=True)`` and the logits are ``get_classifier()`` applied to it,
which is exactly ``model(x)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from cskd.features import Features, FeatureSpec


def extract_features(model: nn.Module, x: Tensor, *, pre_relu: bool = False) -> Features:
    """One forward pass of ``model`` on ``x`` returning its stage maps, embedding and logits.

    With ``pre_relu=True`` also the stage outputs before each stage's final ReLU (the activation boundary that AB
    distils, Heo et al., AAAI 2019), so that ``relu(pre_relu[i]) == stages[i]``.
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
        with _capture_stage_pre_relu(model) as (before, after):
            final, stages = model.forward_intermediates(x)
        captured = _checked_pre_relu(model, stages, before, after)
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


def _last_relu(model: nn.Module, stage_module_name: str) -> nn.ReLU:
    """The last ``nn.ReLU`` registered inside the module that produces a stage (the stage itself if it is one)."""
    relus = [m for m in model.get_submodule(stage_module_name).modules() if isinstance(m, nn.ReLU)]
    if not relus:
        raise ValueError(
            f"{type(model).__name__} stage {stage_module_name!r} contains no nn.ReLU, so it has no pre-ReLU output: "
            "pre_relu=True (AB) needs a model whose stages end in a ReLU, such as a ResNet"
        )
    return relus[-1]


@contextmanager
def _capture_stage_pre_relu(model: nn.Module) -> Iterator[tuple[list[Tensor | None], list[Tensor | None]]]:
    """Hook the last ReLU of every stage of ``model.feature_info`` for one forward pass, removing the hooks after.

    Yields two lists filled during the pass: the input of each hooked ReLU (cloned, since timm's ReLUs are in place)
    and its output (kept to check it is the stage output). A ReLU called several times keeps its last call.
    """
    stage_names = [info["module"] for info in model.feature_info]
    before: list[Tensor | None] = [None] * len(stage_names)
    after: list[Tensor | None] = [None] * len(stage_names)
    handles: list[RemovableHandle] = []

    def keep_input(index: int):
        def hook(_module: nn.Module, inputs: tuple[Tensor, ...]) -> None:
            before[index] = inputs[0].clone()

        return hook

    def keep_output(index: int):
        def hook(_module: nn.Module, _inputs: tuple[Tensor, ...], output: Tensor) -> None:
            after[index] = output

        return hook

    try:
        for index, name in enumerate(stage_names):
            relu = _last_relu(model, name)
            handles.append(relu.register_forward_pre_hook(keep_input(index)))
            handles.append(relu.register_forward_hook(keep_output(index)))
        yield before, after
    finally:
        for handle in handles:
            handle.remove()


def _checked_pre_relu(
    model: nn.Module, stages: list[Tensor], before: list[Tensor | None], after: list[Tensor | None]
) -> list[Tensor]:
    """The captured pre-ReLU maps, after checking that each hooked ReLU's output is the stage output itself."""
    if len(stages) != len(before):
        raise ValueError(
            f"{type(model).__name__} returned {len(stages)} intermediates for {len(before)} feature_info stages, "
            "so its stages cannot be matched to their ReLUs for pre_relu=True"
        )
    checked = []
    for index, (stage, pre, output) in enumerate(zip(stages, before, after, strict=True)):
        if pre is None or output is None or output.data_ptr() != stage.data_ptr() or output.shape != stage.shape:
            raise ValueError(
                f"{type(model).__name__} stage {model.feature_info[index]['module']!r} does not end in its last "
                "nn.ReLU, so it has no pre-ReLU output: pre_relu=True (AB) needs stages that end in a ReLU"
            )
        checked.append(pre)
    return checked
