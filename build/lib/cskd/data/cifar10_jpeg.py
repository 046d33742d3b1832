"""``cifar10-jpeg``: the real CIFAR-10 images re-encoded as JPEG files (lossy), in ImageFolder layout.

``<data_dir>/cifar10-jpeg/{train,test}/<class>/*.jpg``, 10 classes x 5,000 train / 1,000 test (see
``shared/data/README.md``). If only ``<data_dir>/cifar10-jpeg.tar.gz`` is there, it is sha256-verified and extracted.
Its numbers are its own: JPEG loss makes it a different dataset from the official CIFAR-10 release, so its name and
source never say plain "CIFAR-10". Normalised with CIFAR-10's statistics (its train means match them to 3 decimals).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cskd.data.augment import CIFAR10_AUGMENT, AugmentSpec
from cskd.data.dataset import Decoded
from cskd.data.errors import DatasetIntegrityError, DatasetNotFoundError
from cskd.data.files import extract_archive, verify_digest
from cskd.data.imagefolder import FolderTree, decode_tree, scan_tree, tree_files
from cskd.data.source import DatasetSource, KnownSize, Located


@dataclass(frozen=True)
class JpegCopy:
    """What the copy must contain, and the archive's checksum."""

    folder: str
    archive: str
    archive_sha256: str
    classes: tuple[str, ...]
    train_per_class: int
    test_per_class: int


#: the copy described in shared/data/README.md (tests substitute a small one here)
CIFAR10_JPEG = JpegCopy(
    folder="cifar10-jpeg",
    archive="cifar10-jpeg.tar.gz",
    archive_sha256="ff26949c34c4e67da3fa472a1f142e33365dea058f94f1fa369b14ef3d986968",
    classes=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    train_per_class=5000,
    test_per_class=1000,
)


class Cifar10JpegSource(DatasetSource):
    name = "cifar10-jpeg"

    def how(self, data_dir: Path) -> str:
        c = CIFAR10_JPEG
        return (
            f"Extract the JPEG copy: `tar -xzf ../shared/data/{c.archive} -C {data_dir}` (from the project root), "
            f"or copy {c.archive} into {data_dir} (extracted on first use)."
        )

    def status(self, data_dir: Path) -> tuple[bool, str]:
        folder, archive = data_dir / CIFAR10_JPEG.folder, data_dir / CIFAR10_JPEG.archive
        if (folder / "train").is_dir():
            return True, str(folder)
        if archive.is_file():
            return True, f"{archive} (extracted on first use)"
        return False, self.how(data_dir)

    def verify(self, data_dir: Path) -> str:
        c = CIFAR10_JPEG
        folder, archive = data_dir / c.folder, data_dir / c.archive
        checked = []
        if archive.is_file():
            verify_digest(archive, "sha256", c.archive_sha256, f"Copy it again from shared/data/{c.archive}.")
            checked.append(f"{archive} sha256-verified")
            if not folder.is_dir():
                return "; ".join([*checked, "not extracted yet (extracted on first use)"])
        return "; ".join([*checked, self.check_files(self.locate(data_dir))])

    def check_files(self, located: Located) -> str:
        c = CIFAR10_JPEG
        return (
            f"complete at {located.root}: {len(c.classes)} classes x {c.train_per_class} train and "
            f"{c.test_per_class} test images (counted)"
        )

    def locate(self, data_dir: Path) -> Located:
        c = CIFAR10_JPEG
        folder, archive = data_dir / c.folder, data_dir / c.archive
        if not folder.is_dir():
            if not archive.is_file():
                places = [(folder, "no such folder"), (archive, "no such file")]
                raise DatasetNotFoundError.looked(self.name, places, self.how(data_dir))
            verify_digest(archive, "sha256", c.archive_sha256, f"Copy it again from shared/data/{c.archive}.")
            extract_archive(archive, c.folder, data_dir)
        tree = self._scan(folder, data_dir)
        description = f"CIFAR-10 JPEG copy (lossy re-encode, not the official release) at {folder}"
        return Located(folder, tree_files(tree), description)

    def decode(self, located: Located) -> Decoded:
        return decode_tree(self._scan(located.root, located.root.parent), self.name)

    def _scan(self, folder: Path, data_dir: Path) -> FolderTree:
        """Scan the tree and check it is complete: the ten classes, 5,000 train and 1,000 test images each."""
        c = CIFAR10_JPEG
        tree = scan_tree(folder, self.name, self.how(data_dir))
        if tuple(tree.classes) != c.classes or tree.test_dir.name != "test":
            raise DatasetIntegrityError(
                f"{folder} should hold train/ and test/ with the classes {', '.join(c.classes)}; found train classes "
                f"{', '.join(tree.classes)} and {tree.test_dir.name}/. Extract {c.archive} again."
            )
        for split, per_class in ((tree.train, c.train_per_class), (tree.test, c.test_per_class)):
            counts = [split.labels.count(label) for label in range(len(c.classes))]
            if counts != [per_class] * len(c.classes):
                found = ", ".join(f"{cls} {n}" for cls, n in zip(c.classes, counts, strict=True))
                raise DatasetIntegrityError(
                    f"{folder} is incomplete: expected {per_class} images per class, found {found}. "
                    f"Extract {c.archive} again."
                )
        return tree

    def augment(self, decoded: Decoded) -> AugmentSpec:
        return CIFAR10_AUGMENT

    def known_size(self) -> KnownSize:
        c, crop = CIFAR10_JPEG, CIFAR10_AUGMENT.crop
        return (3, crop, crop), len(c.classes), c.train_per_class * len(c.classes)

    def known_test_size(self) -> int:
        return CIFAR10_JPEG.test_per_class * len(CIFAR10_JPEG.classes)
