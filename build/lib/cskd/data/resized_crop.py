"""Random resized crops of whole batches: torchvision's box distribution, drawn for every sample at once, and an exact
batched bilinear resampling of each box to a square output.

Boxes follow ``torchvision.transforms.RandomResizedCrop.get_params``: up to 10 attempts of area ``U(scale) * H * W``
and aspect ratio ``exp(U(log ratio))``, width and height rounded half to even, the first attempt that fits the image
kept, its position uniform over every fitting offset; when none of the 10 fits, the largest centred box within the
ratio range. Drawing all attempts of all samples at once gives the same distribution as torchvision's per-sample loop.

Resampling is torchvision's ``resized_crop(..., antialias=True)`` on float tensors (PyTorch's antialiased bilinear
interpolation of the cropped window, align_corners=False): output pixel k of a window of n source pixels reads the
triangle filter centred at ``(k + 0.5) * n / size`` (half-width ``max(n / size, 1)``, weights renormalised within the
window), which is plain bilinear interpolation with edge clamping when upsampling. It is applied as two batched matrix
products (rows, then columns) with per-sample weight matrices, so a batch needs no per-sample Python work; a flip is
the column matrix reversed.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from cskd.data.augment import ResizedCrop

ATTEMPTS = 10  # torchvision's number of tries before the central fallback


def draw_boxes(count: int, height: int, width: int, spec: ResizedCrop, rng: torch.Generator) -> Tensor:
    """``count`` boxes ``[count, 4]`` int64 (top, left, box height, box width) for ``height`` x ``width`` images."""
    area = height * width
    log_low, log_high = math.log(spec.ratio[0]), math.log(spec.ratio[1])
    fractions = torch.rand(count, ATTEMPTS, generator=rng, dtype=torch.float64)
    logs = torch.rand(count, ATTEMPTS, generator=rng, dtype=torch.float64)
    target = area * (spec.scale[0] + fractions * (spec.scale[1] - spec.scale[0]))
    aspect = torch.exp(log_low + logs * (log_high - log_low))
    widths = torch.round(torch.sqrt(target * aspect)).long()
    heights = torch.round(torch.sqrt(target / aspect)).long()
    fits = (widths > 0) & (widths <= width) & (heights > 0) & (heights <= height)
    first = fits.to(torch.int8).argmax(dim=1, keepdim=True)  # the first fitting attempt (0 when none fits)
    box_h, box_w = heights.gather(1, first).squeeze(1), widths.gather(1, first).squeeze(1)
    fallback_h, fallback_w = _central_box(height, width, spec.ratio)
    none_fit = ~fits.any(dim=1)
    box_h = torch.where(none_fit, fallback_h, box_h)
    box_w = torch.where(none_fit, fallback_w, box_w)
    position = torch.rand(count, 2, generator=rng, dtype=torch.float64)
    top = (position[:, 0] * (height - box_h + 1)).floor().long()
    left = (position[:, 1] * (width - box_w + 1)).floor().long()
    top = torch.where(none_fit, (height - box_h) // 2, top)
    left = torch.where(none_fit, (width - box_w) // 2, left)
    return torch.stack([top, left, box_h, box_w], dim=1)


def _central_box(height: int, width: int, ratio: tuple[float, float]) -> tuple[int, int]:
    """torchvision's fallback: the whole image, cut to the nearest allowed aspect ratio."""
    image_ratio = width / height
    if image_ratio < ratio[0]:
        return round(width / ratio[0]), width
    if image_ratio > ratio[1]:
        return height, round(height * ratio[1])
    return height, width


def interpolation_weights(starts: Tensor, lengths: Tensor, source: int, size: int) -> Tensor:
    """``[B, size, source]`` weights reading output pixel k of sample b from the window ``starts[b] ..
    starts[b] + lengths[b] - 1`` of a ``source``-pixel axis (antialiased bilinear, align_corners=False)."""
    lengths = lengths.to(torch.float32)[:, None, None]
    scale = lengths / size
    centres = scale * (torch.arange(size, dtype=torch.float32, device=starts.device)[None, :, None] + 0.5)
    offsets = torch.arange(source, dtype=torch.float32, device=starts.device)[None, None, :] - starts[:, None, None]
    inside = (offsets >= 0) & (offsets < lengths)
    weights = (1 - (offsets + 0.5 - centres).abs() / scale.clamp(min=1)).clamp(min=0) * inside
    return weights / weights.sum(dim=2, keepdim=True)


def resized_crops(images: Tensor, boxes: Tensor, size: int, flips: Tensor | None = None) -> Tensor:
    """Each image's box (``[B, 4]`` top, left, height, width) resampled to ``size`` x ``size``, mirrored where
    ``flips``: float32 ``[B, C, size, size]`` on the images' device, at the images' scale (0-255 for uint8)."""
    boxes = boxes.to(images.device)
    rows = interpolation_weights(boxes[:, 0], boxes[:, 2], images.shape[2], size)  # [B, size, H]
    cols = interpolation_weights(boxes[:, 1], boxes[:, 3], images.shape[3], size)  # [B, size, W]
    if flips is not None:
        cols = torch.where(flips.to(images.device)[:, None, None], cols.flip(1), cols)
    pixels = images.to(torch.float32)
    out = torch.matmul(rows[:, None], pixels)  # [B, C, size, W]
    return torch.matmul(out, cols.transpose(1, 2)[:, None])  # [B, C, size, size]
