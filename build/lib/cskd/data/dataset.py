"""The decoded dataset handed to the engine, and its content checksum."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import torch

from cskd.data.augment import AugmentSpec


@dataclass
class Decoded:
    """A dataset's classes and uint8 images ``[N, 3, H, W]`` with int64 labels ``[N]``, before naming."""

    classes: list[str]
    train_images: torch.Tensor = field(repr=False)
    train_labels: torch.Tensor = field(repr=False)
    test_images: torch.Tensor = field(repr=False)
    test_labels: torch.Tensor = field(repr=False)

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            images, labels = getattr(self, f"{split}_images"), getattr(self, f"{split}_labels")
            if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
                raise ValueError(f"{split} images must be uint8 [N, 3, H, W], got {images.dtype} {list(images.shape)}")
            if labels.dtype != torch.int64 or labels.shape != (images.shape[0],):
                raise ValueError(
                    f"{split} labels must be int64 [{images.shape[0]}], got {labels.dtype} {list(labels.shape)}"
                )
            if labels.numel() and not 0 <= int(labels.min()) <= int(labels.max()) < len(self.classes):
                raise ValueError(f"{split} labels fall outside 0..{len(self.classes) - 1}")
        if self.train_images.shape[1:] != self.test_images.shape[1:]:
            raise ValueError(
                f"train and test images differ in size: {list(self.train_images.shape[1:])} "
                f"vs {list(self.test_images.shape[1:])}"
            )

    def sha256(self) -> str:
        """Checksum of the content: shapes, pixels and labels of both splits (not the file format they came in)."""
        digest = hashlib.sha256()
        for tensor in (self.train_images, self.train_labels, self.test_images, self.test_labels):
            digest.update(f"{tensor.dtype}{list(tensor.shape)}".encode())
            digest.update(tensor.contiguous().numpy().tobytes())
        return digest.hexdigest()


@dataclass
class ImageDataset:
    """A whole dataset decoded in memory, with where it came from and the augmentation the paper uses for it.

    name: what it was loaded as ("cifar10", "cifar10-jpeg", "tiny-imagenet", "imagefolder:/abs/path", plus a
    "[train=..,test=..,seed=..]" suffix for a subset); source: a human description of the files it was read from;
    sha256: :meth:`Decoded.sha256` of the content.
    """

    name: str
    source: str
    sha256: str
    classes: list[str]
    train_images: torch.Tensor = field(repr=False)
    train_labels: torch.Tensor = field(repr=False)
    test_images: torch.Tensor = field(repr=False)
    test_labels: torch.Tensor = field(repr=False)
    augment: AugmentSpec

    @classmethod
    def from_decoded(cls, name: str, source: str, decoded: Decoded, augment: AugmentSpec, sha256: str) -> ImageDataset:
        return cls(
            name=name,
            source=source,
            sha256=sha256,
            classes=list(decoded.classes),
            train_images=decoded.train_images,
            train_labels=decoded.train_labels,
            test_images=decoded.test_images,
            test_labels=decoded.test_labels,
            augment=augment,
        )

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def input_size(self) -> tuple[int, int, int]:
        """The network's input ``(3, crop, crop)``: what the loader yields, not the stored image size."""
        return (3, self.augment.crop, self.augment.crop)
