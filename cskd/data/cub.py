"""CUB-200-2011 (Wah et al., Caltech-UCSD Birds, CNS-TR-2011-001) from the official archive's layout.

Layout (``CUB_200_2011.tgz``, fetched by ``cskd data fetch cub200``, unpacked into the data directory; an archive
already there is size- and md5-verified, then extracted on first use)::

    CUB_200_2011/images.txt               "<image id> <class folder>/<file>.jpg", 11,788 lines
    CUB_200_2011/image_class_labels.txt   "<image id> <class id>"
    CUB_200_2011/train_test_split.txt     "<image id> <1 = train, 0 = test>": 5,994 / 5,794
    CUB_200_2011/classes.txt              "<class id> <class name>", ids 1..200
    CUB_200_2011/images/<class folder>/*.jpg

The official split is used as is (the authors' README reports test accuracy; CUB has no validation split). Classes
are ordered by class id (label = id - 1, names as in classes.txt), images by image id within each split. Only the
archive has a published checksum, so an extracted copy is checked for consistency and completeness instead: the three
per-image files list the same ids, every class id is known, the split counts are the official ones and every listed
image file exists.

Stored size: every image is decoded once to 256 x 256 (shorter side resized to 256 with Pillow's bilinear filter,
the centre 256 x 256 kept: torchvision's ``Resize(256)`` + ``CenterCrop(256)``). Evaluation takes the centre 224 x 224
of it, which is exactly the standard test transform ``Resize(256)`` + ``CenterCrop(224)``; training takes a random
resized crop 224 of the stored square (``cskd.data.augment.CUB_AUGMENT``), i.e. of the image's centre square rather
than of the whole image, so a landscape bird photo (CUB's usual 4:3) loses up to its outer eighths on each side to
training crops, and crops are resampled from 256-pixel rather than full-resolution images. Storing whole images
would need one size per image; at 256 x 256 the 11,788 images take 2.3 GB as uint8.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cskd.data.augment import CUB_AUGMENT, AugmentSpec
from cskd.data.errors import DatasetIntegrityError, DatasetNotFoundError
from cskd.data.remote import RemoteArchive
from cskd.data.source import DatasetSource, KnownSize, Located

if TYPE_CHECKING:  # torch is imported when the images are decoded: planning reads the source without it
    from cskd.data.dataset import Decoded

STORED_SIZE = 256
IMAGES, LABELS, SPLIT, CLASSES = "images.txt", "image_class_labels.txt", "train_test_split.txt", "classes.txt"
METADATA = (IMAGES, LABELS, SPLIT, CLASSES)
#: Caltech DATA record 65de6-vp158 (linked from the dataset's home page, https://www.vision.caltech.edu/datasets/
#: cub_200_2011/); md5 as published with the dataset loaders that verify it (e.g. the widely used ``Cub2011``
#: torchvision dataset), size as served
OFFICIAL_TGZ = RemoteArchive(
    file_name="CUB_200_2011.tgz",
    url="https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz",
    size=1_150_585_339,
    folder="CUB_200_2011",
    md5="97eceeb196236b17998738112f37df78",
)


@dataclass(frozen=True)
class CubRelease:
    """What a complete copy holds (tests substitute a small one here)."""

    archive: RemoteArchive = OFFICIAL_TGZ
    num_classes: int = 200
    train_images: int = 5994
    test_images: int = 5794


RELEASE = CubRelease()


@dataclass(frozen=True)
class _Listing:
    """The split as the metadata files give it: class names, and (file, label) per split in image-id order."""

    classes: list[str]
    train: list[tuple[Path, int]]
    test: list[tuple[Path, int]]


class CubSource(DatasetSource):
    name = "cub200"
    decode_settings = f"shorter side {STORED_SIZE} bilinear, centre {STORED_SIZE}x{STORED_SIZE}"

    @property
    def archives(self) -> tuple[RemoteArchive, ...]:  # a property: tests substitute RELEASE
        return (RELEASE.archive,)

    def _again(self, folder: Path) -> str:
        """The fix for a damaged extracted copy (``ensure_extracted`` only extracts where the folder is missing)."""
        return (
            f"Delete {folder} (a modified copy, or one extracted incompletely by hand) and run `cskd data fetch "
            f"{self.name}`: it extracts {RELEASE.archive.file_name} again (or downloads it, when it is not in "
            f"{folder.parent})."
        )

    def locate(self, data_dir: Path) -> Located:
        (folder,) = self.ensure_extracted(data_dir)
        missing = [(folder / name, "missing") for name in METADATA if not (folder / name).is_file()]
        if missing:
            raise DatasetNotFoundError.looked(self.name, missing, self._again(folder))
        listing = self._scan(folder)
        files = [folder / name for name in METADATA] + [path for path, _ in listing.train + listing.test]
        description = (
            f"CUB-200-2011 at {folder} (official train/test split; stored {STORED_SIZE}x{STORED_SIZE}, shorter side "
            f"resized and centre-cropped)"
        )
        return Located(folder, files, description)

    def check_files(self, located: Located) -> str:
        """What ``locate`` has checked (no per-file checksums exist to check beyond it)."""
        r = RELEASE
        return (
            f"consistent at {located.root}: {r.num_classes} classes, {r.train_images:,} train / {r.test_images:,} "
            f"test images, every image listed in {IMAGES} present (no per-file checksums are published)"
        )

    def decode(self, located: Located) -> Decoded:
        import torch

        from cskd.data.dataset import Decoded
        from cskd.data.decode import decode_images

        listing = self._scan(located.root)
        splits = {}
        for split, items in (("train", listing.train), ("test", listing.test)):
            images = decode_images([p for p, _ in items], STORED_SIZE, f"decoding cub200 {split}", fit="centre")
            splits[split] = (images, torch.tensor([label for _, label in items], dtype=torch.int64))
        return Decoded(listing.classes, *splits["train"], *splits["test"])

    def augment(self, decoded: Decoded) -> AugmentSpec:
        return CUB_AUGMENT

    def known_size(self) -> KnownSize:
        return (3, CUB_AUGMENT.crop, CUB_AUGMENT.crop), RELEASE.num_classes, RELEASE.train_images

    def _scan(self, folder: Path) -> _Listing:
        """Read and cross-check the four metadata files; every listed image must exist."""
        fix = self._again(folder)
        images = _id_table(folder / IMAGES, "<image id> <relative path>", fix)
        labels = _id_table(folder / LABELS, "<image id> <class id>", fix)
        split = _id_table(folder / SPLIT, "<image id> <is training image>", fix)
        classes = _id_table(folder / CLASSES, "<class id> <class name>", fix)
        if len(classes) != RELEASE.num_classes:
            raise DatasetIntegrityError(
                f"{folder / CLASSES} lists {len(classes)} classes, expected {RELEASE.num_classes}. {fix}"
            )
        for path, table in ((folder / LABELS, labels), (folder / SPLIT, split)):
            if table.keys() != images.keys():
                lacking = sorted(images.keys() - table.keys())[:5]
                extra = sorted(table.keys() - images.keys())[:5]
                raise DatasetIntegrityError(
                    f"{path} and {folder / IMAGES} list different image ids (missing from {path.name}: "
                    f"{lacking or 'none'}; unknown to {IMAGES}: {extra or 'none'}). {fix}"
                )
        index = {class_id: label for label, class_id in enumerate(sorted(classes))}
        train: list[tuple[Path, int]] = []
        test: list[tuple[Path, int]] = []
        for image_id in sorted(images):
            class_id = _int(labels[image_id], folder / LABELS, image_id, fix)
            if class_id not in index:
                raise DatasetIntegrityError(
                    f"{folder / LABELS}: image {image_id} has class {class_id}, which {CLASSES} does not list. {fix}"
                )
            flag = split[image_id]
            if flag not in ("0", "1"):
                raise DatasetIntegrityError(
                    f"{folder / SPLIT}: image {image_id} has is_training_image {flag!r}, expected 1 or 0. {fix}"
                )
            (train if flag == "1" else test).append((folder / "images" / images[image_id], index[class_id]))
        if (len(train), len(test)) != (RELEASE.train_images, RELEASE.test_images):
            raise DatasetIntegrityError(
                f"{folder / SPLIT} splits the images {len(train)} train / {len(test)} test, expected the official "
                f"{RELEASE.train_images} / {RELEASE.test_images}. {fix}"
            )
        absent = [str(path.relative_to(folder)) for path, _ in train + test if not path.is_file()]
        if absent:
            raise DatasetIntegrityError(
                f"{len(absent)} image(s) listed in {folder / IMAGES} do not exist: {', '.join(absent[:5])}"
                f"{' ...' if len(absent) > 5 else ''}. {fix}"
            )
        return _Listing([classes[c] for c in sorted(classes)], train, test)


def _id_table(path: Path, form: str, fix: str) -> dict[int, str]:
    """A metadata file of ``<integer id> <value>`` lines as {id: value}; malformed lines and repeated ids raise."""
    table: dict[int, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(maxsplit=1)
        if len(fields) != 2 or not fields[0].isdigit():
            raise DatasetIntegrityError(f"{path}, line {number}: expected {form}, got {line!r}. {fix}")
        key = int(fields[0])
        if key in table:
            raise DatasetIntegrityError(f"{path}, line {number}: id {key} appears twice. {fix}")
        table[key] = fields[1].strip()
    if not table:
        raise DatasetIntegrityError(f"{path} is empty; expected {form} lines. {fix}")
    return table


def _int(value: str, path: Path, image_id: int, fix: str) -> int:
    if not value.isdigit():
        raise DatasetIntegrityError(f"{path}: image {image_id} has class {value!r}, expected an integer id. {fix}")
    return int(value)
