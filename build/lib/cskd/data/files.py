"""File helpers: checksums, safe archive extraction, image listing, and the data directory's resolution."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path

from cskd.data.errors import DatasetIntegrityError

#: file suffixes read as images (case-insensitive), the set Pillow decodes that image datasets ship in
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp"})


def resolve_data_dir(data_dir: Path | str | None) -> Path:
    """The data directory: ``data_dir`` if given, else the ``CSKD_DATA`` environment variable, else ``./data``."""
    chosen = data_dir if data_dir is not None else os.environ.get("CSKD_DATA") or "data"
    return Path(chosen).expanduser().absolute()


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest (``"md5"``, ``"sha256"``) of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def verify_digest(path: Path, algorithm: str, expected: str, fix: str) -> None:
    """Raise :class:`DatasetIntegrityError` naming the file and both digests unless ``path`` has ``expected``."""
    actual = file_digest(path, algorithm)
    if actual != expected:
        raise DatasetIntegrityError(
            f"{path} is corrupt: {algorithm} {actual}, expected {expected} (official checksum). {fix}"
        )


def notify(message: str) -> None:
    """One line for the user on stderr (extractions, cache problems): rare events worth seeing."""
    print(f"cskd: {message}", file=sys.stderr, flush=True)


def extract_archive(archive: Path, top: str, dest: Path) -> Path:
    """Extract ``archive`` (.tar.gz or .zip) whose contents live under the folder ``top`` into ``dest/top``.

    Extraction goes to a temporary folder next to the target and is renamed into place at the end, so an interrupted
    extraction never leaves a half-filled ``dest/top`` behind. Returns ``dest/top``.
    """
    target = dest / top
    notify(f"extracting {archive} into {dest} (first use only)")
    staging = Path(tempfile.mkdtemp(prefix=f".{top}-extract-", dir=dest))
    try:
        try:
            if archive.name.endswith(".zip"):
                with zipfile.ZipFile(archive) as bundle:
                    bundle.extractall(staging)  # zipfile drops absolute paths and ".." components
            else:
                with tarfile.open(archive) as bundle:
                    bundle.extractall(staging, filter="data")
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error) as error:
            raise DatasetIntegrityError(
                f"{archive} cannot be extracted ({type(error).__name__}: {error}): the archive is damaged. "
                f"Delete it and download it again."
            ) from None
        if not (staging / top).is_dir():
            found = ", ".join(sorted(p.name for p in staging.iterdir())) or "nothing"
            raise DatasetIntegrityError(f"{archive} does not contain the folder {top}/ (it holds: {found})")
        try:
            os.replace(staging / top, target)
        except OSError:
            if not target.is_dir():  # another process extracting at the same time has already put it in place
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def list_images(folder: Path) -> list[Path]:
    """Every image file below ``folder`` (any depth, by suffix), in sorted path order."""
    found = [
        os.path.join(directory, name)
        for directory, _, names in os.walk(folder)
        for name in names
        if os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES
    ]
    return [Path(path) for path in sorted(found)]
