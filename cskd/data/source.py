"""The interface every dataset source implements, and the load path they share (locate, cached decode, name)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from cskd.data.augment import AugmentSpec
from cskd.data.cache import cache_file, cache_key, load_or_decode
from cskd.data.dataset import Decoded, ImageDataset

#: (network input size (3, crop, crop), number of classes, number of training images)
KnownSize = tuple[tuple[int, int, int], int, int]


@dataclass(frozen=True)
class Located:
    """Where a dataset's files were found: ``root`` folder, every file the decode reads (they key the cache), and a
    human description for :attr:`ImageDataset.source`."""

    root: Path
    files: list[Path]
    description: str


def folder_or_archive_status(folder: Path, archive: Path, how: str) -> tuple[bool, str]:
    """The status of a dataset shipped as a folder or as an archive extracted on first use."""
    if folder.is_dir():
        return True, str(folder)
    if archive.is_file():
        return True, f"{archive} (extracted on first use)"
    return False, how


class DatasetSource(ABC):
    """One way of reading a dataset from disk.

    ``status`` looks without touching anything; ``locate`` may extract an archive; ``decode`` verifies and decodes
    (only called on a cache miss); ``augment`` gives the training augmentation for the decoded content.
    """

    #: the dataset's name as users write it
    name: str
    #: anything besides the files that changes the decoded content (e.g. a resize), part of the cache key
    decode_settings: str = ""

    @abstractmethod
    def status(self, data_dir: Path) -> tuple[bool, str]:
        """Whether the files are present, and where (or how to supply them when absent)."""

    @abstractmethod
    def locate(self, data_dir: Path) -> Located:
        """Find the files, extracting an archive if that is all there is; raise ``DatasetNotFoundError`` otherwise."""

    @abstractmethod
    def decode(self, located: Located) -> Decoded:
        """Verify and decode the located files."""

    @abstractmethod
    def augment(self, decoded: Decoded) -> AugmentSpec:
        """The paper's augmentation for this dataset."""

    def known_size(self) -> KnownSize | None:
        """The dataset's sizes as published, known without reading it (``None`` when they depend on the files)."""
        return None

    def known_test_size(self) -> int | None:
        """The number of test images as published (``None`` when it depends on the files)."""
        return None

    @property
    def cache_stem(self) -> str:
        """Prefix of this dataset's cache files (a file-name-safe form of the name)."""
        return self.name

    def load(self, data_dir: Path) -> ImageDataset:
        located = self.locate(data_dir)
        key = cache_key(located.root, located.files, self.decode_settings)
        decoded, sha256 = load_or_decode(cache_file(data_dir, self.cache_stem, key), lambda: self.decode(located))
        return ImageDataset.from_decoded(self.name, located.description, decoded, self.augment(decoded), sha256)
