"""The interface every dataset source implements, and what they share: the load path (locate, cached decode, name),
and for a source that declares its official archives, their fetch, extraction and verification."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from cskd.data.errors import DatasetNotFoundError
from cskd.data.files import extract_archive, notify
from cskd.data.remote import RemoteArchive, download, human_size, source_of, verify_archive

if TYPE_CHECKING:  # a source's names, sizes and files are read without torch (planning); loading imports it
    from cskd.data.augment import AugmentSpec
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

    A source published as archives declares them in ``archives`` (see :class:`RemoteArchive`): ``cskd data fetch``
    then downloads, verifies and extracts them, and ``status``, ``how``, ``verify`` and :meth:`ensure_extracted` (for
    ``locate``) work from that declaration; a source without archives overrides ``status`` and ``how``.
    """

    #: the dataset's name as users write it
    name: str
    #: anything besides the files that changes the decoded content (e.g. a resize), part of the cache key
    decode_settings: str = ""
    #: the official archives ``cskd data fetch NAME`` downloads, verifies and extracts (empty: not fetchable)
    archives: tuple[RemoteArchive, ...] = ()
    #: CIFAR's images (32x32 RGB), which the authors' code's normalisation (suite key ``normalization``) is for
    cifar_images: bool = False
    #: the paper's training recipe for this dataset, as its changes to CIFAR's (the defaults of
    #: :class:`cskd.engine.recipe.Recipe`; :func:`cskd.engine.recipe.default_recipe`)
    recipe_changes: Mapping[str, Any] = MappingProxyType({})

    def status(self, data_dir: Path) -> tuple[bool, str]:
        """Whether the files are present, and where (or how to supply them when absent)."""
        if not self.archives:
            raise NotImplementedError(f"{type(self).__name__} declares no archives: it must implement status()")
        states = [folder_or_archive_status(data_dir / a.folder, data_dir / a.file_name, "") for a in self.archives]
        if all(present for present, _ in states):
            return True, "; ".join(where for _, where in states)
        return False, self.how(data_dir)

    def how(self, data_dir: Path) -> str:
        """How to supply the files when they are missing (ends every not-found message)."""
        if not self.archives:
            raise NotImplementedError(f"{type(self).__name__} declares no archives: it must implement how()")
        files = " and ".join(f"{a.url} ({human_size(a.size)})" for a in self.archives)
        folders = ", ".join(f"{a.folder}/" for a in self.archives)
        return (
            f"Fetch it: `cskd data fetch {self.name}` downloads {files}, verifies and extracts it; or put the "
            f"archive in {data_dir} by hand (verified and extracted on first use), or point --data-dir / CSKD_DATA at "
            f"the folder holding {folders}."
        )

    def fetch_description(self, mirror: str | None) -> str:
        """What ``cskd data fetch`` would download and from where ("" when the dataset cannot be fetched)."""
        return ", ".join(f"{a.file_name} ({human_size(a.size)}) from {source_of(a, mirror)}" for a in self.archives)

    def fetch(self, data_dir: Path, mirror: str | None) -> None:
        """Download (or copy from ``mirror``) each declared archive missing from ``data_dir``, then extract it."""
        for archive in self.archives:
            if not (data_dir / archive.folder).is_dir() and not (data_dir / archive.file_name).is_file():
                notify(f"fetching {self.name}: {archive.describe()}")
                download(archive, data_dir, mirror)
        self.ensure_extracted(data_dir)

    def ensure_extracted(self, data_dir: Path) -> list[Path]:
        """The folder of each declared archive, extracting (after verifying) an archive whose folder is missing;
        raises ``DatasetNotFoundError`` naming each place looked at when neither folder nor archive is there."""
        folders = []
        for archive in self.archives:
            folder, path = data_dir / archive.folder, data_dir / archive.file_name
            if not folder.is_dir():
                if not path.is_file():
                    places = [(folder, "no such folder"), (path, "no such file")]
                    raise DatasetNotFoundError.looked(self.name, places, self.how(data_dir))
                verify_archive(archive, path, f"Delete it and fetch it again: `cskd data fetch {self.name}`.")
                extract_archive(path, archive.folder, data_dir)
            folders.append(folder)
        return folders

    def check_files(self, located: Located) -> str:
        """Verify the located files beyond what ``locate`` checks (e.g. per-file checksums); say what was checked."""
        return f"{len(located.files):,} files found at {located.root}"

    def verify(self, data_dir: Path) -> str:
        """Re-check what is present, extracting nothing: each declared archive in the data directory against its size
        and checksum, and the extracted files as ``locate`` and ``check_files`` check them. Says what was checked;
        raises ``DatasetNotFoundError`` when nothing is there, ``DatasetIntegrityError`` when something is wrong."""
        checked = []
        for archive in self.archives:
            path = data_dir / archive.file_name
            if path.is_file():
                verify_archive(archive, path, f"Delete it and fetch it again: `cskd data fetch {self.name}`.")
                checked.append(f"{path} {archive.checksum[0]}-verified")
        if checked and not all((data_dir / a.folder).is_dir() for a in self.archives):
            return "; ".join([*checked, "not extracted yet (extracted on first use)"])
        return "; ".join([*checked, self.check_files(self.locate(data_dir))])

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
        from cskd.data.cache import cache_file, cache_key, load_or_decode
        from cskd.data.dataset import ImageDataset

        located = self.locate(data_dir)
        key = cache_key(located.root, located.files, self.decode_settings)
        decoded, sha256 = load_or_decode(cache_file(data_dir, self.cache_stem, key), lambda: self.decode(located))
        return ImageDataset.from_decoded(self.name, located.description, decoded, self.augment(decoded), sha256)
