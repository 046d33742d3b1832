"""Tiny ImageNet (200 classes, 64x64) from the official zip's layout, with the labelled validation set as test set.

Layout (``tiny-imagenet-200.zip``, fetched by ``cskd data fetch tiny-imagenet``, unpacked into the data directory; a
zip already there is verified and extracted on first use)::

    tiny-imagenet-200/wnids.txt                      the 200 class ids (WordNet ids)
    tiny-imagenet-200/train/<wnid>/images/*.JPEG     500 per class
    tiny-imagenet-200/val/images/*.JPEG              50 per class, labelled by
    tiny-imagenet-200/val/val_annotations.txt        "<file>\\t<wnid>\\t<box>" lines

A validation set already sorted into ``val/<wnid>/`` folders (a common reorganisation) is read too. The official
``test/`` split has no labels and is not used: the paper's numbers are on the validation set. Classes are the wnids in
sorted order (the order ImageFolder gives ``train/``). Every image is resized once from 64x64 to 72x72 (bilinear),
train and val alike: training crops 64 at random, evaluation takes the centre 64 (paper: "resize 72, random crop 64").
No checksum is published with the zip: its md5 and size are the ones public loaders of it check; the extracted files
have no per-file checksums, so completeness is checked by counting.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from cskd.data.augment import TINY_IMAGENET_AUGMENT, AugmentSpec
from cskd.data.errors import DatasetIntegrityError, DatasetNotFoundError
from cskd.data.files import list_images
from cskd.data.remote import RemoteArchive
from cskd.data.source import DatasetSource, KnownSize, Located

if TYPE_CHECKING:  # torch is imported when the images are decoded: planning reads the source without it
    from cskd.data.dataset import Decoded

STORED_SIZE = 72
OFFICIAL_ZIP = RemoteArchive(
    file_name="tiny-imagenet-200.zip",
    url="http://cs231n.stanford.edu/tiny-imagenet-200.zip",
    size=248_100_043,
    folder="tiny-imagenet-200",
    md5="90528d7ca1a48142e341f4ef8d21d0de",
)


@dataclass(frozen=True)
class TinyImageNetRelease:
    """What a complete copy holds (tests substitute a small one here)."""

    archive: RemoteArchive = OFFICIAL_ZIP
    num_classes: int = 200
    train_per_class: int = 500
    val_per_class: int = 50


RELEASE = TinyImageNetRelease()


@dataclass(frozen=True)
class _Split:
    files: list[Path]
    labels: list[int]


class TinyImageNetSource(DatasetSource):
    name = "tiny-imagenet"
    decode_settings = f"resize={STORED_SIZE} bilinear"
    #: the paper's Tiny ImageNet recipe (docs/paper.md section 2)
    recipe_changes = MappingProxyType({"batch_size": 200, "weight_decay": 5e-4, "milestones": (50, 100, 150)})

    @property
    def archives(self) -> tuple[RemoteArchive, ...]:  # a property: tests substitute RELEASE
        return (RELEASE.archive,)

    def locate(self, data_dir: Path) -> Located:
        (folder,) = self.ensure_extracted(data_dir)
        required = [folder / "wnids.txt", folder / "train", folder / "val"]
        missing = [(path, "missing") for path in required if not path.exists()]
        if missing:
            raise DatasetNotFoundError.looked(self.name, missing, self.how(data_dir))
        _, train, val = self._scan(folder)
        annotations = folder / "val" / "val_annotations.txt"
        files = [folder / "wnids.txt", *([annotations] if annotations.is_file() else []), *train.files, *val.files]
        description = f"Tiny ImageNet at {folder} (train, and val as test set; resized to {STORED_SIZE}x{STORED_SIZE})"
        return Located(folder, files, description)

    def check_files(self, located: Located) -> str:
        r = RELEASE
        return (
            f"complete at {located.root}: {r.num_classes} classes x {r.train_per_class} train and {r.val_per_class} "
            "val images (counted: no per-file checksums are published)"
        )

    def decode(self, located: Located) -> Decoded:
        import torch

        from cskd.data.dataset import Decoded
        from cskd.data.decode import decode_images

        classes, train, val = self._scan(located.root)
        return Decoded(
            classes,
            decode_images(train.files, STORED_SIZE, "decoding tiny-imagenet train"),
            torch.tensor(train.labels, dtype=torch.int64),
            decode_images(val.files, STORED_SIZE, "decoding tiny-imagenet val"),
            torch.tensor(val.labels, dtype=torch.int64),
        )

    def augment(self, decoded: Decoded) -> AugmentSpec:
        return TINY_IMAGENET_AUGMENT

    def known_size(self) -> KnownSize:
        crop = TINY_IMAGENET_AUGMENT.crop
        return (3, crop, crop), RELEASE.num_classes, RELEASE.train_per_class * RELEASE.num_classes

    def known_test_size(self) -> int:
        return RELEASE.val_per_class * RELEASE.num_classes

    def _scan(self, folder: Path) -> tuple[list[str], _Split, _Split]:
        wnids = (folder / "wnids.txt").read_text().split()
        classes = sorted(set(wnids))
        if len(classes) != RELEASE.num_classes:
            raise DatasetIntegrityError(
                f"{folder / 'wnids.txt'} lists {len(classes)} distinct class ids, expected {RELEASE.num_classes}"
            )
        index = {wnid: label for label, wnid in enumerate(classes)}
        train = _Split([], [])
        for wnid in classes:
            images = list_images(folder / "train" / wnid)
            train.files.extend(images)
            train.labels.extend([index[wnid]] * len(images))
        val = self._scan_val(folder / "val", index)
        for split, name, per_class in ((train, "train", RELEASE.train_per_class), (val, "val", RELEASE.val_per_class)):
            counts = [split.labels.count(label) for label in range(len(classes))]
            short = [f"{wnid} {n}" for wnid, n in zip(classes, counts, strict=True) if n != per_class]
            if short:
                raise DatasetIntegrityError(
                    f"{folder / name} is incomplete: expected {per_class} images per class, found "
                    f"{', '.join(short[:10])}{' ...' if len(short) > 10 else ''}. "
                    f"Unzip {RELEASE.archive.file_name} again."
                )
        return classes, train, val

    @staticmethod
    def _scan_val(folder: Path, index: dict[str, int]) -> _Split:
        """Validation files and labels from ``val_annotations.txt``, or from ``val/<wnid>/`` folders without it."""
        annotations = folder / "val_annotations.txt"
        split = _Split([], [])
        if not annotations.is_file():
            for wnid, label in index.items():
                images = list_images(folder / wnid)
                split.files.extend(images)
                split.labels.extend([label] * len(images))
            return split
        rows = sorted(line.split("\t")[:2] for line in annotations.read_text().splitlines() if line.strip())
        for filename, wnid in rows:
            path = folder / "images" / filename
            if wnid not in index:
                raise DatasetIntegrityError(f"{annotations} labels {filename} with {wnid}, which wnids.txt lacks")
            if not path.is_file():
                raise DatasetIntegrityError(f"{annotations} lists {filename}, but {path} does not exist")
            split.files.append(path)
            split.labels.append(index[wnid])
        return split
