"""Shared fixtures: the CIFAR-10 JPEG data (the shipped subsets, the full copy), and a guard that keeps every test off
the internet.

The full copy is found in the data directory (``$CSKD_DATA``, else ``data/`` in the repository), or extracted there
once from ``cifar10-jpeg.tar.gz`` in the mirror folder ``$CSKD_DATA_MIRROR``. Tests that need it skip with
instructions on a machine without it. A clone has only the subsets shipped in ``cskd/data/shipped_images/`` (the ci,
quick and smoke suites'): tests that train on a subset use ``subset_data_dir``, tests that need real JPEG files of the
copy use ``jpeg_images``; only those about the full copy itself need ``data_dir``. Under CI (``CI=true``) a missing
shipped subset is an error.
"""

from __future__ import annotations

import io
import os
import tarfile
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import torch

from cskd.data.cifar10_jpeg import CIFAR10_JPEG, SHIPPED_SUBSET
from cskd.locations import MIRROR_ENV

REPO = Path(__file__).resolve().parents[1]


def project_data_dir() -> Path:
    return Path(os.environ.get("CSKD_DATA", REPO / "data"))


@pytest.fixture(autouse=True)
def _small_cpu_footprint():
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    yield


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch):
    """Tests never touch the internet: a download from anywhere but a test's own server on 127.0.0.1 fails the test."""
    real = urllib.request.urlopen

    def loopback_only(request, *args, **kwargs):
        url = request.full_url if isinstance(request, urllib.request.Request) else str(request)
        if urllib.parse.urlsplit(url).hostname != "127.0.0.1":
            raise AssertionError(f"a test tried to download {url}; tests serve archives from 127.0.0.1 only")
        return real(request, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", loopback_only)


def mirror_archive() -> Path | None:
    """``cifar10-jpeg.tar.gz`` in the mirror folder ``$CSKD_DATA_MIRROR`` (``None`` without one)."""
    mirror = os.environ.get(MIRROR_ENV)
    return Path(mirror) / CIFAR10_JPEG.archive if mirror and "://" not in mirror else None


@pytest.fixture(scope="session")
def subset_data_dir() -> Path:
    """The data directory for tests that train only on the subsets shipped with cskd (the ci, quick and smoke suites'):
    the project's, whose full copy is used where it is present and the shipped images otherwise (the same data)."""
    if not SHIPPED_SUBSET.archive.is_file():
        pytest.fail(f"the shipped subset {SHIPPED_SUBSET.archive} is missing: restore it from the repository")
    return project_data_dir()


@pytest.fixture(scope="session")
def jpeg_images(tmp_path_factory) -> Path:
    """A folder holding ``cifar10-jpeg/{train,test}/<class>/0000.jpg, 0001.jpg, ...``: the shipped images (real files
    of the copy, 600 train and 200 test per class), numbered from 0 in each class in their order in the full copy.

    A source of real JPEG files for tests that build other datasets from them; not a data directory (it would pass
    for an incomplete full copy)."""
    shipped = SHIPPED_SUBSET.archive
    if not shipped.is_file():
        pytest.fail(f"the shipped subset {shipped} is missing: restore it from the repository")
    root = tmp_path_factory.mktemp("shipped-images")
    with tarfile.open(fileobj=io.BytesIO(shipped.read_bytes()), mode="r:gz") as bundle:
        files = sorted(m.name for m in bundle.getmembers() if m.isfile() and m.name.endswith(".jpg"))
        counts: dict[Path, int] = {}
        for name in files:  # cifar10-jpeg/<split>/<class>/NNNN.jpg, sorted by the full copy's number
            folder = root / Path(name).parent
            folder.mkdir(parents=True, exist_ok=True)
            index = counts.get(folder, 0)
            (folder / f"{index:04d}.jpg").write_bytes(bundle.extractfile(name).read())
            counts[folder] = index + 1
    return root


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The data directory holding the full ``cifar10-jpeg/``, extracting it from the mirror on first use. Only for
    tests about the full copy itself: the others use ``subset_data_dir`` or ``jpeg_images``."""
    if os.environ.get("CI") and not SHIPPED_SUBSET.archive.is_file():
        pytest.fail(f"the shipped subset {SHIPPED_SUBSET.archive} is missing: restore it from the repository")
    root = project_data_dir()
    target = root / CIFAR10_JPEG.folder
    archive = mirror_archive()
    if not (target / "train").is_dir():
        if archive is not None and archive.is_file():
            root.mkdir(parents=True, exist_ok=True)
            with tarfile.open(archive) as bundle:
                bundle.extractall(root, filter="data")
        else:
            pytest.skip(
                f"the full CIFAR-10 JPEG copy is missing (looked in {target}"
                f"{f' and {archive}' if archive else ''}): fetch it with `cskd data fetch cifar10-jpeg --data-dir "
                f"{root}`, or set CSKD_DATA to a folder holding cifar10-jpeg/, or {MIRROR_ENV} to a folder holding "
                f"{CIFAR10_JPEG.archive}, to run this test"
            )
    return root
