"""CIFAR-10 and CIFAR-100 from the official python release (Krizhevsky 2009), md5-verified.

Layout, as the official archives unpack (and as torchvision expects it): ``<data_dir>/cifar-10-batches-py/``
(``data_batch_1..5``, ``test_batch``, ``batches.meta``) and ``<data_dir>/cifar-100-python/`` (``train``, ``test``,
``meta``). ``cskd data fetch cifar10`` downloads the official archive; one already in the data directory
(``cifar-10-python.tar.gz`` / ``cifar-100-python.tar.gz``) is md5-verified and extracted on first use. Each file is
md5-verified against the official checksums (the table torchvision uses) before it is unpickled, so nothing but the
official files is ever unpickled. Archive sizes: the official files' byte counts.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cskd.data.augment import CIFAR10_AUGMENT, CIFAR100_AUGMENT, AugmentSpec
from cskd.data.errors import DatasetNotFoundError
from cskd.data.files import verify_digest
from cskd.data.remote import RemoteArchive
from cskd.data.source import DatasetSource, KnownSize, Located

if TYPE_CHECKING:  # torch is imported when the images are decoded: planning reads the source without it
    import torch

    from cskd.data.dataset import Decoded


@dataclass(frozen=True)
class CifarRelease:
    """One official CIFAR python release: its files with their official md5 checksums and pickle keys."""

    name: str
    title: str
    archive: RemoteArchive
    train_files: tuple[tuple[str, str], ...]
    test_files: tuple[tuple[str, str], ...]
    meta_file: tuple[str, str]
    class_names_key: bytes
    labels_key: bytes
    augment: AugmentSpec
    num_classes: int
    train_size: int = 50000
    test_size: int = 10000

    @property
    def folder(self) -> str:
        return self.archive.folder

    @property
    def checksums(self) -> dict[str, str]:
        return dict((*self.train_files, *self.test_files, self.meta_file))


CIFAR10 = CifarRelease(
    name="cifar10",
    title="CIFAR-10",
    archive=RemoteArchive(
        file_name="cifar-10-python.tar.gz",
        url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        size=170_498_071,
        folder="cifar-10-batches-py",
        md5="c58f30108f718f92721af3b95e74349a",
    ),
    train_files=(
        ("data_batch_1", "c99cafc152244af753f735de768cd75f"),
        ("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
        ("data_batch_3", "54ebc095f3ab1f0389bbae665268c751"),
        ("data_batch_4", "634d18415352ddfa80567beed471001a"),
        ("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"),
    ),
    test_files=(("test_batch", "40351d587109b95175f43aff81a1287e"),),
    meta_file=("batches.meta", "5ff9c542aee3614f3951f8cda6e48888"),
    class_names_key=b"label_names",
    labels_key=b"labels",
    augment=CIFAR10_AUGMENT,
    num_classes=10,
)

CIFAR100 = CifarRelease(
    name="cifar100",
    title="CIFAR-100",
    archive=RemoteArchive(
        file_name="cifar-100-python.tar.gz",
        url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        size=169_001_437,
        folder="cifar-100-python",
        md5="eb9058c3a382ffc7106e4002c42a8d85",
    ),
    train_files=(("train", "16019d7e3df5f24257cddd939b257f8d"),),
    test_files=(("test", "f0ef6b0ae62326f3e7ffdfab6717acfc"),),
    meta_file=("meta", "7973b15100ade9c7d40fb424638fde48"),
    class_names_key=b"fine_label_names",
    labels_key=b"fine_labels",
    augment=CIFAR100_AUGMENT,
    num_classes=100,
)

#: the releases by dataset name (tests substitute their own checksums here)
RELEASES: dict[str, CifarRelease] = {r.name: r for r in (CIFAR10, CIFAR100)}


class CifarSource(DatasetSource):
    """An official CIFAR release found in the data directory."""

    cifar_images = True

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def release(self) -> CifarRelease:
        return RELEASES[self.name]

    @property
    def archives(self) -> tuple[RemoteArchive, ...]:  # a property: tests substitute RELEASES
        return (self.release.archive,)

    def locate(self, data_dir: Path) -> Located:
        r = self.release
        (folder,) = self.ensure_extracted(data_dir)
        missing = [name for name in r.checksums if not (folder / name).is_file()]
        if missing:
            places = [(folder / name, "missing") for name in missing]
            raise DatasetNotFoundError.looked(self.name, places, self.how(data_dir))
        files = [folder / name for name in r.checksums]
        return Located(folder, files, f"official {r.title} python pickles at {folder} (md5-verified)")

    def check_files(self, located: Located) -> str:
        r = self.release
        for name, md5 in r.checksums.items():
            fix = f"Delete {located.root} and extract {r.archive.file_name} again (`cskd data fetch {self.name}`)."
            verify_digest(located.root / name, "md5", md5, fix)
        return f"{len(r.checksums)} files md5-verified against the official checksums at {located.root}"

    def decode(self, located: Located) -> Decoded:
        from cskd.data.dataset import Decoded

        r = self.release
        self.check_files(located)
        meta = _unpickle(located.root / r.meta_file[0])
        classes = [name.decode() for name in meta[r.class_names_key]]
        train_images, train_labels = self._read(located.root, r.train_files)
        test_images, test_labels = self._read(located.root, r.test_files)
        return Decoded(classes, train_images, train_labels, test_images, test_labels)

    def _read(self, folder: Path, files: tuple[tuple[str, str], ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """Concatenate batch files: each holds ``data`` uint8 ``[n, 3072]`` (1024 red, then green, then blue values
        in row-major order) and a list of labels."""
        import numpy as np
        import torch

        batches = [_unpickle(folder / name) for name, _ in files]
        data = np.concatenate([np.asarray(b[b"data"], dtype=np.uint8) for b in batches])
        labels = np.concatenate([np.asarray(b[self.release.labels_key], dtype=np.int64) for b in batches])
        return torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()), torch.from_numpy(labels)

    def augment(self, decoded: Decoded) -> AugmentSpec:
        return self.release.augment

    def known_size(self) -> KnownSize:
        r = self.release
        return (3, r.augment.crop, r.augment.crop), r.num_classes, r.train_size

    def known_test_size(self) -> int:
        return self.release.test_size


def _unpickle(path: Path) -> dict:
    """A verified official batch file (written by Python 2, hence the bytes keys)."""
    with path.open("rb") as stream:
        return pickle.load(stream, encoding="bytes")
