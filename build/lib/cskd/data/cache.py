"""The decode cache: a dataset decoded once is stored as uint8 tensors in ``<data_dir>/.cache/<name>-<key>.pt``.

The key is a hash of the source files' relative names, sizes and modification times plus the decode settings, so
any change to the files (a re-download, a corrupted copy, an edit) means a fresh decode and a fresh verification.
Writes go to a temporary file that is renamed into place, so readers never see a half-written cache.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from cskd.data.dataset import Decoded
from cskd.data.files import notify

#: bump when the decoding or the file layout changes, so old caches are not read
CACHE_FORMAT = 1
TENSORS = ("train_images", "train_labels", "test_images", "test_labels")


def cache_key(root: Path, files: Sequence[Path], settings: str) -> str:
    """Hash of the files' names (relative to ``root``), sizes and mtimes, the decode ``settings`` and the format."""
    digest = hashlib.sha256(f"format={CACHE_FORMAT};{settings}".encode())
    prefix = len(str(root)) + 1
    for path in map(str, files):  # plain strings: this runs over every file of the dataset
        stat = os.stat(path)
        digest.update(f"\n{path[prefix:]}\t{stat.st_size}\t{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:20]


def cache_file(data_dir: Path, stem: str, key: str) -> Path:
    return data_dir / ".cache" / f"{stem}-{key}.pt"


def load_or_decode(path: Path, decode: Callable[[], Decoded]) -> tuple[Decoded, str]:
    """The cached content at ``path`` with its sha256, or ``decode()`` it, store it and return it."""
    if path.exists():
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            if payload.get("format") == CACHE_FORMAT:
                decoded = Decoded(classes=list(payload["classes"]), **{name: payload[name] for name in TENSORS})
                return decoded, payload["sha256"]
        except (OSError, RuntimeError, EOFError, KeyError, ValueError, pickle.UnpicklingError) as error:
            notify(f"ignoring the unreadable decode cache {path} ({type(error).__name__}: {error}); decoding again")
    decoded = decode()
    sha256 = decoded.sha256()
    _store(path, decoded, sha256)
    return decoded, sha256


def _store(path: Path, decoded: Decoded, sha256: str) -> None:
    """Write atomically and delete this dataset's older caches (same stem, other key); warn, not fail, when the
    data directory is read-only."""
    payload = {"format": CACHE_FORMAT, "classes": decoded.classes, "sha256": sha256}
    payload.update({name: getattr(decoded, name) for name in TENSORS})
    stem = path.name.rsplit("-", 1)[0]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as stream:
                torch.save(payload, stream)
            os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide the cache from others sharing the data directory
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        for stale in path.parent.glob(f"{stem}-*.pt"):
            if stale != path and stale.name.rsplit("-", 1)[0] == stem:
                stale.unlink(missing_ok=True)
    except OSError as error:
        notify(f"could not write the decode cache {path} ({error}); the next run decodes again")
