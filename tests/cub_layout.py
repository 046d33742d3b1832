"""A small CUB-200-2011 tree in the official layout, written from real images of the CIFAR-10 JPEG copy.

Each CUB image is one to two real CIFAR-10 images: landscape (two side by side, 64x32), portrait (two stacked,
32x64) or square (one, 32x32), so the decode's shorter-side resize and centre crop see all three shapes. Class ``k``
is the CIFAR-10 class of the same index, named ``{k+1:03d}.{class}`` as CUB names its class folders.
"""

from __future__ import annotations

import dataclasses
import tarfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from cskd.data import cub

CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SHAPES = ("landscape", "portrait", "square")


@dataclass(frozen=True)
class CubTree:
    folder: Path  # <data_dir>/CUB_200_2011
    classes: list[str]
    train: list[tuple[str, int]]  # (path under images/, label) in image-id order
    test: list[tuple[str, int]]

    def release(self) -> cub.CubRelease:
        """The release facts of this tree, to substitute for the official ones."""
        return dataclasses.replace(
            cub.RELEASE, num_classes=len(self.classes), train_images=len(self.train), test_images=len(self.test)
        )


def compose(jpeg_dir: Path, cifar_class: str, index: int, shape: str) -> Image.Image:
    """A CUB-sized stand-in built from real CIFAR-10 images of one class."""
    first = Image.open(jpeg_dir / "train" / cifar_class / f"{2 * index:04d}.jpg").convert("RGB")
    if shape == "square":
        return first
    second = Image.open(jpeg_dir / "train" / cifar_class / f"{2 * index + 1:04d}.jpg").convert("RGB")
    size = (64, 32) if shape == "landscape" else (32, 64)
    canvas = Image.new("RGB", size)
    canvas.paste(first, (0, 0))
    canvas.paste(second, (32, 0) if shape == "landscape" else (0, 32))
    return canvas


def write_cub_tree(data_dir: Path, jpeg_root: Path, num_classes: int, train: int, test: int) -> CubTree:
    """``data_dir/CUB_200_2011`` with ``train`` + ``test`` images per class and the four metadata files. Image ids
    follow class order (as the official images.txt); each class's train and test images alternate in id order."""
    folder = data_dir / "CUB_200_2011"
    classes = [f"{k + 1:03d}.{CIFAR_CLASSES[k]}" for k in range(num_classes)]
    images, labels, split = [], [], []
    tree = CubTree(folder, classes, [], [])
    image_id = 0
    for label, name in enumerate(classes):
        flags = [1] * train + [0] * test
        flags = flags[::2] + flags[1::2]  # interleave train and test ids
        for index, flag in enumerate(flags):
            image_id += 1
            relative = f"{name}/{CIFAR_CLASSES[label]}_{image_id:04d}.jpg"
            path = folder / "images" / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            compose(jpeg_root / "cifar10-jpeg", CIFAR_CLASSES[label], index, SHAPES[image_id % 3]).save(
                path, quality=95
            )
            images.append(f"{image_id} {relative}")
            labels.append(f"{image_id} {label + 1}")
            split.append(f"{image_id} {flag}")
            (tree.train if flag else tree.test).append((relative, label))
    for file, lines in (
        ("images.txt", images),
        ("image_class_labels.txt", labels),
        ("train_test_split.txt", split),
        ("classes.txt", [f"{k + 1} {name}" for k, name in enumerate(classes)]),
    ):
        (folder / file).write_text("\n".join(lines) + "\n")
    return tree


def write_cub_archive(tree: CubTree, archive: Path) -> Path:
    """The tree packed like the official CUB_200_2011.tgz (which also holds a top-level attributes.txt)."""
    extra = tree.folder.parent / "attributes.txt"
    extra.write_text("1 has_bill_shape::curved\n")
    with tarfile.open(archive, "w:gz") as bundle:
        bundle.add(tree.folder, arcname="CUB_200_2011")
        bundle.add(extra, arcname="attributes.txt")
    return archive
