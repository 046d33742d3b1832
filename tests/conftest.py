"""Shared fixtures: the real CIFAR-10 JPEG copy, extracted once into the project's data directory, and a guard that
keeps every test off the internet.

Tests that need it skip with instructions on a machine without it; under CI (``CI=true``), where
``../shared/data/cifar10-jpeg.tar.gz`` always exists, a missing copy is an error instead of a skip.
"""

from __future__ import annotations

import os
import tarfile
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_ARCHIVE = REPO.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"


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


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The data directory holding ``cifar10-jpeg/``, extracting the shared archive on first use."""
    root = project_data_dir()
    target = root / "cifar10-jpeg"
    if not (target / "train").is_dir():
        if SHARED_ARCHIVE.exists():
            root.mkdir(parents=True, exist_ok=True)
            with tarfile.open(SHARED_ARCHIVE) as archive:
                archive.extractall(root, filter="data")
        else:
            message = (
                f"the real CIFAR-10 JPEG copy is missing: looked in {target} and {SHARED_ARCHIVE}; "
                f"extract cifar10-jpeg.tar.gz into {root} (or set CSKD_DATA) to run this test"
            )
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
    return root
