"""Dataset names -> sources, and the entry points the engine and the CLI call."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cskd.data.cifar import CifarSource
from cskd.data.cifar10_jpeg import Cifar10JpegSource
from cskd.data.cub import CubSource
from cskd.data.errors import UnknownDatasetError
from cskd.data.files import resolve_data_dir
from cskd.data.imagefolder import ImageFolderSource
from cskd.data.source import DatasetSource, KnownSize
from cskd.data.tiny_imagenet import TinyImageNetSource
from cskd.names import close_names

if TYPE_CHECKING:
    from cskd.data.dataset import ImageDataset

IMAGEFOLDER_PREFIX = "imagefolder:"

_SOURCES: dict[str, DatasetSource] = {
    s.name: s
    for s in (CifarSource("cifar10"), CifarSource("cifar100"), Cifar10JpegSource(), TinyImageNetSource(), CubSource())
}


def dataset_names() -> list[str]:
    """The named datasets (any folder is also loadable as ``imagefolder:PATH``)."""
    return sorted(_SOURCES)


def get_source(name: str) -> DatasetSource:
    """The source for ``name``: a named dataset or ``imagefolder:PATH`` (PATH relative to the working directory)."""
    if name.startswith(IMAGEFOLDER_PREFIX):
        path = name[len(IMAGEFOLDER_PREFIX) :]
        if not path:
            raise UnknownDatasetError("imagefolder needs a path: imagefolder:PATH, PATH holding train/ and test/")
        return ImageFolderSource(Path(path).expanduser().absolute())
    try:
        return _SOURCES[name]
    except KeyError:
        hint = f"{close_names(name, dataset_names())}; or imagefolder:PATH for any image tree"
        raise UnknownDatasetError(f"unknown dataset {name!r} ({hint})") from None


def load_dataset(name: str, data_dir: Path | str | None = None) -> ImageDataset:
    """Load (decode once, then from the cache) the dataset ``name`` from ``data_dir`` (default: ``$CSKD_DATA``, else
    ``./data``). Raises ``DatasetNotFoundError`` naming every place looked at, ``DatasetIntegrityError`` for corrupt
    files, ``UnknownDatasetError`` for an unknown name. Never downloads (:func:`cskd.data.fetch.fetch_dataset` does)."""
    return get_source(name).load(resolve_data_dir(data_dir))


def verify_dataset(name: str, data_dir: Path | str | None = None) -> str:
    """Re-check the files of ``name`` that are present, extracting nothing; says what was checked, raises a
    ``DatasetError`` naming the problem (``DatasetNotFoundError`` when nothing is there)."""
    return get_source(name).verify(resolve_data_dir(data_dir))


def dataset_input_size(name: str) -> KnownSize | None:
    """``(input size (3, crop, crop), classes, training images)`` of ``name`` as published, without reading any file;
    ``None`` for ``imagefolder:PATH``, whose sizes are only known once it is loaded."""
    return get_source(name).known_size()


def dataset_split_sizes(name: str) -> tuple[int, int | None] | None:
    """``(training images, test images)`` of ``name`` as published (test ``None`` when unknown); ``None`` for
    ``imagefolder:PATH``."""
    source = get_source(name)
    known = source.known_size()
    return None if known is None else (known[2], source.known_test_size())


def dataset_status(data_dir: Path | str | None = None) -> list[tuple[str, bool, str]]:
    """For each named dataset: (name, whether its files are present, where they are or how to supply them)."""
    root = resolve_data_dir(data_dir)
    return [(name, *_SOURCES[name].status(root)) for name in dataset_names()]
