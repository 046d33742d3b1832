"""Cost estimates for the dry-run plan: multiply-accumulates of a forward pass, counted by module hooks."""

from __future__ import annotations

from functools import cache

import torch
from torch import nn

from cskd.models import create_model


def forward_macs(model: nn.Module, input_size: tuple[int, int, int]) -> int:
    """Multiply-accumulates of one image's forward pass through the model's convolutions and linear layers."""
    total = 0

    def count(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            total += output.numel() * per_output
        elif isinstance(module, nn.Linear):
            total += output.numel() * module.in_features

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_size))
    finally:
        for hook in hooks:
            hook.remove()
    return total


@cache
def model_macs(name: str, kwargs_items: tuple, num_classes: int, input_size: tuple[int, int, int]) -> int:
    return forward_macs(create_model(name, num_classes=num_classes, **dict(kwargs_items)), input_size)


def training_macs(student: int, teacher: int | None, images: int, epochs: int, lockstep: int) -> float:
    """Student forward and backward (about 3 forwards) per image per epoch, plus its share of the teacher forward."""
    per_image = 3 * student + (teacher or 0) / max(lockstep, 1)
    return per_image * images * epochs
