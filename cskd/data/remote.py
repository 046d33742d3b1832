"""Official dataset archives: what a source declares (:class:`RemoteArchive`) and how one is downloaded and verified.

A download goes to ``<data_dir>/<file>.part``, is resumed with an HTTP ``Range`` request when interrupted (restarted
when the server does not resume), and becomes ``<data_dir>/<file>`` only once its size and checksum match; a corrupt
download is deleted. torchvision's ``download_url`` does none of these (it writes the final name directly, cannot
resume and accepts a download without a checksum), so this module streams with ``urllib`` itself; extraction is
:func:`cskd.data.files.extract_archive` (staging folder, then a rename).

A mirror (``--mirror`` or ``CSKD_DATA_MIRROR``) is a local folder or an http(s) base URL holding the same file names,
for machines without internet; any data directory that has fetched a dataset is one (the archives are kept).
"""

from __future__ import annotations

import http.client
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from filelock import FileLock
from tqdm import tqdm

from cskd import __version__
from cskd.data.errors import DatasetDownloadError, DatasetIntegrityError
from cskd.data.files import file_digest, notify
from cskd.locations import MIRROR_ENV

USER_AGENT = f"cskd/{__version__} (dataset fetch)"
TIMEOUT_SECONDS = 60
#: attempts of one download while each attempt makes progress (a dropped connection is resumed)
ATTEMPTS = 5
BLOCK = 1 << 20


@dataclass(frozen=True)
class RemoteArchive:
    """One official archive of a dataset: where it is published, its exact size and checksum, and the folder it
    unpacks into (``<data_dir>/<folder>``; anything else at the archive's top level is not extracted).

    A source declares its archives as data (``archives = (RemoteArchive(...),)``) and ``cskd data fetch`` downloads,
    verifies and extracts them; give ``md5`` or ``sha256`` (the stronger one is checked when both are given).
    """

    file_name: str
    url: str
    size: int
    folder: str
    md5: str = ""
    sha256: str = ""

    def __post_init__(self) -> None:
        if not (self.md5 or self.sha256):
            raise ValueError(f"{self.file_name}: an archive needs its md5 or sha256, never accepted unchecked")

    @property
    def checksum(self) -> tuple[str, str]:
        """``(algorithm, hex digest)`` checked before the archive is accepted."""
        return ("sha256", self.sha256) if self.sha256 else ("md5", self.md5)

    def identity(self) -> str:
        """``170,498,071 bytes, md5 c58f...``: enough to recognise the right file."""
        algorithm, digest = self.checksum
        return f"{self.size:,} bytes, {algorithm} {digest}"

    def describe(self) -> str:
        return f"{self.file_name} ({self.identity()})"


def human_size(size: int) -> str:
    return f"{size / 1e6:,.1f} MB" if size < 1e9 else f"{size / 1e9:,.2f} GB"


def resolve_mirror(mirror: str | None) -> str | None:
    """The mirror: ``mirror`` if given, else ``$CSKD_DATA_MIRROR``, else none (the official URLs)."""
    chosen = mirror if mirror is not None else os.environ.get(MIRROR_ENV) or None
    return chosen or None


def is_url(location: str) -> bool:
    return urllib.parse.urlsplit(location).scheme in ("http", "https")


def source_of(archive: RemoteArchive, mirror: str | None) -> str:
    """Where ``archive`` is fetched from: its URL, or the same file name in the mirror (URL or folder)."""
    if mirror is None:
        return archive.url
    if is_url(mirror):
        return mirror.rstrip("/") + "/" + urllib.parse.quote(archive.file_name)
    return str(Path(mirror).expanduser().absolute() / archive.file_name)


def by_hand(archive: RemoteArchive, data_dir: Path) -> str:
    """How to supply ``archive`` without cskd's download: the official URL, the file's identity and where it goes."""
    return (
        f"To fetch it by hand: download {archive.url} ({archive.identity()}) and put it at "
        f"{data_dir / archive.file_name} (cskd verifies and extracts it on first use), or put it in a folder and "
        f"pass --mirror DIR (or set {MIRROR_ENV}=DIR)."
    )


def verify_archive(archive: RemoteArchive, path: Path, fix: str) -> None:
    """Raise :class:`DatasetIntegrityError` unless ``path`` has the archive's size and checksum."""
    algorithm, expected = archive.checksum
    size = path.stat().st_size
    actual = file_digest(path, algorithm)
    if actual != expected or size != archive.size:
        raise DatasetIntegrityError(
            f"{path} is corrupt: {size:,} bytes with {algorithm} {actual}, expected {archive.size:,} bytes with "
            f"{algorithm} {expected} (official checksum). {fix}"
        )


def download(archive: RemoteArchive, data_dir: Path, mirror: str | None = None) -> Path:
    """``<data_dir>/<file_name>``, downloaded (or copied from a mirror folder) and verified; raises
    :class:`DatasetDownloadError` (source unreachable, file missing from the mirror, transfer stopped) or
    :class:`DatasetIntegrityError` (checksum mismatch: the download is deleted)."""
    target = data_dir / archive.file_name
    (data_dir / ".cache").mkdir(parents=True, exist_ok=True)
    with FileLock(str(data_dir / ".cache" / f"fetch-{archive.file_name}.lock")):  # runners fetching at once: one does
        if target.is_file():
            return target
        source = source_of(archive, mirror)
        partial = data_dir / f"{archive.file_name}.part"
        notify(f"downloading {archive.file_name} ({human_size(archive.size)}) from {source} into {data_dir}")
        _transfer(archive, source, partial, mirror, data_dir)
        algorithm, expected = archive.checksum
        size, actual = partial.stat().st_size, file_digest(partial, algorithm)
        if (size, actual) != (archive.size, expected):
            partial.unlink()
            raise DatasetIntegrityError(
                f"{archive.file_name} downloaded from {source} is corrupt: {size:,} bytes with {algorithm} {actual}, "
                f"expected {archive.size:,} bytes with {algorithm} {expected} (official checksum). It was deleted "
                f"and nothing was extracted; run the fetch again to download it anew. {by_hand(archive, data_dir)}"
            )
        os.replace(partial, target)
        notify(f"verified {target} ({algorithm} {expected})")
        return target


def transfer(archive: RemoteArchive, source: str, partial: Path, mirror: str | None, data_dir: Path) -> None:
    """Fill ``partial`` with the first ``archive.size`` bytes of ``source``, resuming what is there; no checksum is
    checked (for a file whose source publishes none: the caller records it, :mod:`cskd.zoo`)."""
    _transfer(archive, source, partial, mirror, data_dir)


class _Restart(Exception):
    """The server will not continue the partial file: start the download again from byte 0."""


def _transfer(archive: RemoteArchive, source: str, partial: Path, mirror: str | None, data_dir: Path) -> None:
    """Fill ``partial`` up to the archive's size, resuming what is there; retried while attempts make progress."""
    if partial.exists() and partial.stat().st_size > archive.size:
        partial.unlink()  # longer than the file can be: not a prefix of it
    for _ in range(ATTEMPTS):
        offset = partial.stat().st_size if partial.exists() else 0
        if offset == archive.size:
            return
        if offset:
            notify(f"resuming {archive.file_name} at {offset:,} of {archive.size:,} bytes (partial download {partial})")
        received = 0
        try:
            with (
                _open(source, offset, archive, mirror, data_dir) as (stream, start),
                _progress(archive, start) as bar,
                partial.open("r+b" if start else "wb") as out,
            ):
                out.seek(start)
                out.truncate()
                while block := stream.read(BLOCK):
                    out.write(block)
                    received += len(block)
                    bar.update(len(block))
        except _Restart:
            partial.unlink()
            continue
        except (OSError, http.client.HTTPException) as error:
            if not received:
                raise _unreachable(archive, source, error, data_dir) from None
            notify(f"the transfer of {archive.file_name} stopped ({error}); resuming")
            continue
        if partial.stat().st_size >= archive.size or not received:
            break
    got = partial.stat().st_size if partial.exists() else 0
    if got < archive.size:
        raise DatasetDownloadError(
            f"the download of {archive.file_name} from {source} stopped at {got:,} of {archive.size:,} bytes; the "
            f"partial file {partial} is kept: run the fetch again to resume it. {by_hand(archive, data_dir)}"
        )


def _missing_from_mirror(archive: RemoteArchive, mirror: str, looked: str, data_dir: Path) -> DatasetDownloadError:
    return DatasetDownloadError(
        f"the mirror {mirror} has no {archive.file_name} (looked for {looked}). Put the official file there (from "
        f"{archive.url}: {archive.identity()}), or put it at {data_dir / archive.file_name} by hand."
    )


@contextmanager
def _open(
    source: str, offset: int, archive: RemoteArchive, mirror: str | None, data_dir: Path
) -> Iterator[tuple[BinaryIO, int]]:
    """The byte stream of ``source`` from ``offset`` (or from 0 when the server does not resume), and that start."""
    if not is_url(source):
        path = Path(source)
        if not path.is_file():
            raise _missing_from_mirror(archive, str(mirror), source, data_dir)
        with path.open("rb") as stream:
            stream.seek(offset)
            yield stream, offset
        return
    headers = {"User-Agent": USER_AGENT, **({"Range": f"bytes={offset}-"} if offset else {})}
    try:
        response = urllib.request.urlopen(urllib.request.Request(source, headers=headers), timeout=TIMEOUT_SECONDS)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # the partial file is no prefix the server recognises
            notify(f"{source} refused to resume {archive.file_name} (HTTP 416); restarting from the start")
            raise _Restart from None
        if error.code == 404 and mirror is not None:
            raise _missing_from_mirror(archive, mirror, f"{source}: HTTP Error 404", data_dir) from None
        raise
    with response:
        start = offset if response.status == 206 else 0
        if offset and not start:
            notify(f"{source} does not resume downloads; restarting {archive.file_name} from the start")
        yield response, start


@contextmanager
def _progress(archive: RemoteArchive, start: int) -> Iterator[tqdm]:
    """A byte progress bar on stderr (refreshed every 30 s when stderr is a log file rather than a terminal)."""
    with tqdm(
        total=archive.size,
        initial=start,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=archive.file_name,
        mininterval=0.5 if sys.stderr.isatty() else 30,
        file=sys.stderr,
    ) as bar:
        yield bar


def _unreachable(archive: RemoteArchive, source: str, error: BaseException, data_dir: Path) -> DatasetDownloadError:
    """The error for a source that could not be read at all (no network, refused, HTTP error)."""
    if isinstance(error, urllib.error.HTTPError):
        reason: object = f"HTTP Error {error.code}: {error.reason}"
    elif isinstance(error, urllib.error.URLError):
        reason = error.reason
    else:
        reason = error
    return DatasetDownloadError(
        f"could not download {archive.file_name} from {source}: {reason}. {by_hand(archive, data_dir)}"
    )
