"""Batches from a uint8 image tensor that lives on the training device, augmented whole batches at a time.

No per-sample Python work: each training epoch draws a permutation, crop offsets (or random resized crop boxes) and
flip decisions for all samples at once from a CPU generator seeded by (seed, phase, epoch), so the same triple always
gives the same batches and a resumed run needs no loader state. Cropping and flipping are one gather per batch (a
random resized crop: two batched matrix products, ``cskd.data.resized_crop``); conversion to float and normalisation
happen on the device.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from cskd.data.augment import AugmentSpec
from cskd.data.resized_crop import draw_boxes, resized_crops
from cskd.data.seeds import generator


class DeviceLoader:
    """Mini-batches ``(x, y)``: ``x`` normalised float32 ``[B, 3, crop, crop]``, ``y`` int64 ``[B]``, on ``device``.

    train=True: a fresh permutation each epoch, zero padding by ``augment.pad`` then a random ``crop`` window (offsets
    uniform over every position, ``0..H + 2 pad - crop``; ``0..2 pad`` for CIFAR) and a horizontal flip with p = 0.5;
    with ``augment.resized_crop``, a random resized crop of the stored image to ``crop`` x ``crop`` and the flip.
    The epoch's draws, in order from its generator: the permutation, then per position the crop (offsets rows then
    columns, or :func:`~cskd.data.resized_crop.draw_boxes`), then the flips.
    train=False: the stored order, no randomness, the centre ``crop`` window when images are larger than ``crop``.
    augment=None: no crop, flip or normalisation, just pixels scaled to [0, 1].
    drop_last: leave out the last partial batch (default: keep it).
    memory_format: e.g. ``torch.channels_last`` for the yielded batches (default: contiguous NCHW).
    """

    def __init__(
        self,
        images: Tensor,
        labels: Tensor,
        *,
        batch_size: int,
        augment: AugmentSpec | None,
        train: bool,
        seed: int = 0,
        device: torch.device | str = "cpu",
        drop_last: bool = False,
        memory_format: torch.memory_format | None = None,
    ) -> None:
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be uint8 [N, 3, H, W], got {images.dtype} {list(images.shape)}")
        if labels.shape != (images.shape[0],):
            raise ValueError(f"labels must be [{images.shape[0]}] to match the images, got {list(labels.shape)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        height, width = images.shape[2:]
        if augment is not None and not (train and augment.resized_crop is not None):  # resized crops fit any size
            padded = min(height, width) + 2 * augment.pad if train else min(height, width)
            if padded < augment.crop:
                raise ValueError(
                    f"cannot crop {augment.crop}x{augment.crop} from {height}x{width} images "
                    f"({'with' if train else 'without'} padding {augment.pad if train else 0})"
                )
        self.device = torch.device(device)
        self.images = images.to(self.device)
        self.labels = labels.to(self.device, torch.int64)
        self.batch_size = batch_size
        self.augment = augment
        self.train = train
        self.seed = seed
        self.drop_last = drop_last
        self.memory_format = memory_format
        if augment is not None:
            std = torch.tensor(augment.std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
            mean = torch.tensor(augment.mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
            # (x / 255 - mean) / std  ==  x * scale + shift
            self._scale, self._shift = 1 / (255 * std), -mean / std

    def __len__(self) -> int:
        count = self.images.shape[0]
        return count // self.batch_size if self.drop_last else math.ceil(count / self.batch_size)

    def epoch(
        self, epoch: int, phase: str = "main", *, with_indices: bool = False
    ) -> Iterator[tuple[Tensor, Tensor] | tuple[Tensor, Tensor, Tensor]]:
        """The batches of one pass; for training they depend only on (seed, phase, epoch).

        with_indices: yield ``(x, y, index)``, ``index`` int64 ``[B]`` on the device, each sample's position in
        ``images`` (for methods that keep per-sample state, such as CRD's memory bank).
        """
        count = self.images.shape[0]
        stop = len(self) * self.batch_size if self.drop_last else count
        if not self.train:
            for start in range(0, stop, self.batch_size):
                end = min(start + self.batch_size, count)
                x, y = self._finish(self._centre(self.images[start:end])), self.labels[start:end]
                yield (x, y, torch.arange(start, end, device=self.device)) if with_indices else (x, y)
            return
        order, crops = self._draw(epoch, phase)
        for start in range(0, stop, self.batch_size):
            index = order[start : start + self.batch_size]
            batch = self.images[index]
            if crops is not None:
                window, flips = (t[start : start + self.batch_size] for t in crops)
                if self.augment.resized_crop is not None:
                    batch = resized_crops(batch, window, self.augment.crop, flips)
                else:
                    batch = self._crop_flip(batch, window[:, 0], window[:, 1], flips)
            x, y = self._finish(batch), self.labels[index]
            yield (x, y, index) if with_indices else (x, y)

    def _draw(self, epoch: int, phase: str) -> tuple[Tensor, tuple[Tensor, Tensor] | None]:
        """The epoch's permutation and, with an augmentation, each position's crop and flip flag, drawn on the CPU and
        returned on the device: the crop is ``[N, 2]`` offsets (top, left) of the padded image, or ``[N, 4]`` boxes
        (top, left, height, width) of a random resized crop."""
        rng = generator(self.seed, phase, epoch)
        count, (height, width) = self.images.shape[0], self.images.shape[2:]
        order = torch.randperm(count, generator=rng).to(self.device)
        if self.augment is None:
            return order, None
        if self.augment.resized_crop is not None:
            window = draw_boxes(count, height, width, self.augment.resized_crop, rng)
        else:
            pad, crop = self.augment.pad, self.augment.crop
            rows = torch.randint(0, height + 2 * pad - crop + 1, (count,), generator=rng)
            cols = torch.randint(0, width + 2 * pad - crop + 1, (count,), generator=rng)
            window = torch.stack([rows, cols], dim=1)
        flips = torch.rand(count, generator=rng) < 0.5 if self.augment.flip else torch.zeros(count, dtype=torch.bool)
        return order, (window.to(self.device), flips.to(self.device))

    def _crop_flip(self, batch: Tensor, rows: Tensor, cols: Tensor, flips: Tensor) -> Tensor:
        """Zero-pad, then take each sample's window at (rows, cols), mirrored where ``flips``: one gather."""
        pad, crop = self.augment.pad, self.augment.crop
        if pad:
            batch = F.pad(batch, (pad, pad, pad, pad))
        steps = torch.arange(crop, device=self.device)
        y = rows[:, None] + steps  # [B, crop]
        x = cols[:, None] + torch.where(flips[:, None], crop - 1 - steps, steps)  # [B, crop]
        samples = torch.arange(batch.shape[0], device=self.device)[:, None, None, None]
        channels = torch.arange(3, device=self.device)[None, :, None, None]
        return batch[samples, channels, y[:, None, :, None], x[:, None, None, :]]

    def _centre(self, batch: Tensor) -> Tensor:
        """The centre ``crop`` window (top-left offset ``(H - crop) // 2``) when the images are larger than ``crop``."""
        if self.augment is None:
            return batch
        crop, (height, width) = self.augment.crop, batch.shape[2:]
        top, left = (height - crop) // 2, (width - crop) // 2
        return batch[:, :, top : top + crop, left : left + crop]

    def _finish(self, batch: Tensor) -> Tensor:
        """uint8 (or resampled float) pixels -> normalised float32 (or [0, 1] without an augmentation), in the
        requested memory format."""
        out = batch.to(torch.float32)
        if self.augment is None:
            out.div_(255)
        else:
            out.mul_(self._scale).add_(self._shift)
        if self.memory_format is not None:
            out = out.contiguous(memory_format=self.memory_format)
        return out
