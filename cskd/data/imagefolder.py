"""Any image tree in the ImageFolder layout: ``ROOT/train/<class>/...`` and ``ROOT/test/<class>/...`` (or ``val/``).

Classes are the train split's sub-folder names in sorted order (label = position), images are found at any depth
below a class folder, and every image must have one common size (they are stacked into one array). The test split
is ``test/`` when it exists, else ``val/``; its class folders must be a subset of train's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cskd.data.augment import AugmentSpec, generic_augment
from cskd.data.errors import DatasetIntegrityError, DatasetNotFoundError
from cskd.data.files import list_images
from cskd.data.source import DatasetSource, Located

if TYPE_CHECKING:  # torch is imported when the images are decoded: planning reads the source without it
    from cskd.data.dataset import Decoded

TEST_SPLITS = ("test", "val")


@dataclass(frozen=True)
class FolderSplit:
    """One split's image files and their labels, in class-then-path order."""

    files: list[Path]
    labels: list[int]


@dataclass(frozen=True)
class FolderTree:
    classes: list[str]
    train: FolderSplit
    test: FolderSplit
    test_dir: Path


def find_test_dir(root: Path) -> Path | None:
    return next((root / s for s in TEST_SPLITS if (root / s).is_dir()), None)


def scan_tree(root: Path, name: str, how: str) -> FolderTree:
    """Read the layout of ``root``; raise ``DatasetNotFoundError`` (naming each place) when a split is missing."""
    test_dir = find_test_dir(root)
    if not (root / "train").is_dir() or test_dir is None:
        places = [(root / "train", "found" if (root / "train").is_dir() else "no such folder")]
        places += [(root / s, "no such folder") for s in TEST_SPLITS] if test_dir is None else [(test_dir, "found")]
        raise DatasetNotFoundError.looked(name, places, how)
    classes = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
    if not classes:
        raise DatasetIntegrityError(f"{root / 'train'} has no class folders; expected train/<class>/<image files>")
    train = _scan_split(root / "train", classes, require_all=True)
    test = _scan_split(test_dir, classes, require_all=False)
    return FolderTree(classes, train, test, test_dir)


def _scan_split(folder: Path, classes: list[str], require_all: bool) -> FolderSplit:
    present = sorted(p.name for p in folder.iterdir() if p.is_dir())
    unknown = sorted(set(present) - set(classes))
    if unknown:
        raise DatasetIntegrityError(f"{folder} has class folders that train/ lacks: {', '.join(unknown[:10])}")
    files: list[Path] = []
    labels: list[int] = []
    for label, cls in enumerate(classes):
        images = list_images(folder / cls) if cls in present else []
        if require_all and not images:
            raise DatasetIntegrityError(f"class folder {folder / cls} holds no images")
        files += images
        labels += [label] * len(images)
    if not files:
        raise DatasetIntegrityError(f"{folder} holds no images in its class folders")
    return FolderSplit(files, labels)


def decode_tree(tree: FolderTree, name: str, size: int | None = None) -> Decoded:
    """Decode both splits of a scanned tree (``size``: resize every image to ``size`` x ``size``)."""
    import torch

    from cskd.data.dataset import Decoded
    from cskd.data.decode import decode_images

    train = decode_images(tree.train.files, size, f"decoding {name} train")
    test = decode_images(tree.test.files, size, f"decoding {name} {tree.test_dir.name}")
    if train.shape[2:] != test.shape[2:]:
        raise DatasetIntegrityError(
            f"{name}: train images are {train.shape[3]}x{train.shape[2]} but {tree.test_dir.name} images are "
            f"{test.shape[3]}x{test.shape[2]}; images must share one size"
        )
    return Decoded(
        tree.classes,
        train,
        torch.tensor(tree.train.labels, dtype=torch.int64),
        test,
        torch.tensor(tree.test.labels, dtype=torch.int64),
    )


def tree_files(tree: FolderTree) -> list[Path]:
    return tree.train.files + tree.test.files


class ImageFolderSource(DatasetSource):
    """``imagefolder:PATH``: any tree in the layout above, normalised with its own training-set statistics."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = f"imagefolder:{root}"

    @property
    def cache_stem(self) -> str:
        return "imagefolder_" + hashlib.sha256(str(self.root).encode()).hexdigest()[:12]

    def how(self, data_dir: Path) -> str:
        return f"Arrange the images as {self.root}/train/<class>/* and {self.root}/test/<class>/* (or val/)."

    def status(self, data_dir: Path) -> tuple[bool, str]:
        present = (self.root / "train").is_dir() and find_test_dir(self.root) is not None
        return present, str(self.root) if present else self.how(data_dir)

    def locate(self, data_dir: Path) -> Located:
        tree = scan_tree(self.root, self.name, self.how(data_dir))
        return Located(self.root, tree_files(tree), f"image folder {self.root} (train/ and {tree.test_dir.name}/)")

    def decode(self, located: Located) -> Decoded:
        return decode_tree(scan_tree(self.root, self.name, self.how(located.root)), self.name)

    def augment(self, decoded: Decoded) -> AugmentSpec:
        return generic_augment(decoded.train_images)
