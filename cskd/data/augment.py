"""The data augmentation as data: padding or random resized crop, crop size, flip and per-channel normalisation.

Paper, Sec. 2 setup table: CIFAR "pad 4 (40x40), random crop 32, horizontal flip, per-channel normalise";
Tiny ImageNet "resize 72, random crop 64, flip, normalise". The resize happens once when the images are decoded, so
the stored images are the size this augmentation starts from. CUB-200-2011 (the authors' README results, no details
given) gets the usual fine-grained pipeline: random resized crop 224 and flip for training, resize 256 and centre crop
224 for test (``cskd.data.cub``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where images are measured: planning reads these specs without it
    import torch

Triple = tuple[float, float, float]


@dataclass(frozen=True)
class ResizedCrop:
    """torchvision's ``RandomResizedCrop`` box distribution: a window of area ``U(scale) * H * W`` and aspect ratio
    ``exp(U(log ratio))``, uniform in position (``cskd.data.resized_crop``), resampled to ``crop`` x ``crop``.
    Defaults: torchvision's (and the ImageNet training recipe's), scale (0.08, 1), ratio (3/4, 4/3)."""

    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)

    def __post_init__(self) -> None:
        low, high = self.scale
        if not 0 < low <= high <= 1:
            raise ValueError(f"resized crop needs 0 < scale[0] <= scale[1] <= 1, got scale={self.scale}")
        if not 0 < self.ratio[0] <= self.ratio[1]:
            raise ValueError(f"resized crop needs 0 < ratio[0] <= ratio[1], got ratio={self.ratio}")


@dataclass(frozen=True)
class AugmentSpec:
    """Training augmentation: zero-pad by ``pad``, random ``crop`` x ``crop`` window, horizontal flip with p = 0.5 when
    ``flip``; then ``(x / 255 - mean) / std`` per channel. With ``resized_crop`` the window is instead a random
    resized crop of the stored image (any size, resampled to ``crop`` x ``crop``; ``pad`` must be 0). Evaluation uses
    no randomness: the centre ``crop`` window when the stored images are larger than ``crop``, and the same
    normalisation."""

    pad: int
    crop: int
    flip: bool
    mean: Triple
    std: Triple
    resized_crop: ResizedCrop | None = None

    def __post_init__(self) -> None:
        if self.pad < 0 or self.crop < 1:
            raise ValueError(f"augmentation needs pad >= 0 and crop >= 1, got pad={self.pad}, crop={self.crop}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(f"augmentation needs 3 means and 3 positive stds, got mean={self.mean}, std={self.std}")
        if self.resized_crop is not None and self.pad:
            raise ValueError(f"a random resized crop takes no padding, got pad={self.pad}")


def cifar_augment(mean: Triple, std: Triple) -> AugmentSpec:
    """CIFAR: 32x32 images, pad 4, random crop 32, flip."""
    return AugmentSpec(pad=4, crop=32, flip=True, mean=mean, std=std)


#: a suite's ``normalization``: "dataset" = each dataset's own statistics (below), "authors_code" = the constants of
#: the CSKD authors' train_cifar.py for both CIFAR-10 and CIFAR-100: CIFAR-10's means and the std (0.2023, 0.1994,
#: 0.2010) common in CIFAR training code, which differs from CIFAR-10's per-pixel std (0.2470, 0.2435, 0.2616)
NORMALIZATIONS = ("dataset", "authors_code")
AUTHORS_CODE_MEAN: Triple = (0.4914, 0.4822, 0.4465)
AUTHORS_CODE_STD: Triple = (0.2023, 0.1994, 0.2010)


def normalized_as(spec: AugmentSpec, normalization: str) -> AugmentSpec:
    """``spec`` with the per-channel normalisation ``normalization`` (one of :data:`NORMALIZATIONS`)."""
    if normalization == "dataset":
        return spec
    if normalization == "authors_code":
        return dataclasses.replace(spec, mean=AUTHORS_CODE_MEAN, std=AUTHORS_CODE_STD)
    raise ValueError(f"unknown normalization {normalization!r}: use one of {', '.join(NORMALIZATIONS)}")


# Channel statistics of each training set at [0, 1] scale (population std over all pixels).
CIFAR10_AUGMENT = cifar_augment((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
CIFAR100_AUGMENT = cifar_augment((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762))
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
#: Tiny ImageNet: 72x72 stored images (resized from 64x64), random crop 64, flip, ImageNet's statistics.
TINY_IMAGENET_AUGMENT = AugmentSpec(pad=0, crop=64, flip=True, mean=IMAGENET_MEAN, std=IMAGENET_STD)
#: CUB-200-2011: 256x256 stored images (shorter side 256, centre square), random resized crop 224 (torchvision's
#: defaults) and flip for training, the centre 224 for test, ImageNet's statistics (as fine-grained pipelines use).
CUB_AUGMENT = AugmentSpec(pad=0, crop=224, flip=True, mean=IMAGENET_MEAN, std=IMAGENET_STD, resized_crop=ResizedCrop())


def channel_stats(images: torch.Tensor, chunk: int = 4096) -> tuple[Triple, Triple]:
    """Per-channel mean and population standard deviation of uint8 ``[N, 3, H, W]`` images at [0, 1] scale."""
    import torch

    total = torch.zeros(3, dtype=torch.float64)
    squares = torch.zeros(3, dtype=torch.float64)
    for start in range(0, images.shape[0], chunk):
        block = images[start : start + chunk].to(torch.float64).div_(255)
        total += block.sum(dim=(0, 2, 3))
        squares += block.square().sum(dim=(0, 2, 3))
    count = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(0).sqrt()
    return tuple(round(v, 4) for v in mean.tolist()), tuple(round(v, 4) for v in std.tolist())


def generic_augment(images: torch.Tensor) -> AugmentSpec:
    """Augmentation for an arbitrary image folder: crop = the shorter stored side, pad = crop / 8 (CIFAR's ratio,
    4 px at 32 px), flip, and mean/std measured on the training images."""
    crop = min(images.shape[2], images.shape[3])
    mean, std = channel_stats(images)
    return AugmentSpec(pad=round(crop / 8), crop=crop, flip=True, mean=mean, std=tuple(max(s, 1e-3) for s in std))
