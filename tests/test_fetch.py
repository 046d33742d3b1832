"""Fetching datasets, offline: archives in the official formats (built from real images of the CIFAR-10 JPEG copy)
served from 127.0.0.1, with the release tables substituted to match them. A clean fetch, a resumed partial download,
a dropped connection, a server that cannot resume, a corrupt archive, a missing mirror file, no network, dataset
alternatives, `cskd run` fetching before it trains, and CUB-200-2011; every failure with its exact message."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from official_archives import (
    ArchiveServer,
    BuiltArchive,
    cifar_archive,
    closed_port_url,
    cub_archive,
    tiny_imagenet_archive,
    use_release,
    with_url,
)
from PIL import Image, JpegImagePlugin

from cskd.cli import main
from cskd.data import (
    DatasetNotFoundError,
    choose_dataset,
    cifar,
    cifar10_jpeg,
    cifar10_jpeg_origin,
    fetchable_names,
    load_dataset,
)
from cskd.data.remote import human_size
from cskd.plan import expand
from cskd.results import read_runs
from cskd.suite import SuiteError, load_suite

FILE = "cifar-10-python.tar.gz"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@pytest.fixture
def jpeg_root(jpeg_images) -> Path:
    return jpeg_images / "cifar10-jpeg"


@pytest.fixture
def served(tmp_path, jpeg_root, monkeypatch):
    """A small official-format CIFAR-10 archive in ``tmp_path/served``, its table substituted for the official one."""
    built = cifar_archive("cifar10", jpeg_root, tmp_path / "served")
    use_release(monkeypatch, "cifar10", built)
    return built


@pytest.fixture
def data(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def jpeg_copy_unobtainable(monkeypatch):
    """A machine where the CIFAR-10 JPEG copy cannot be had: not shipped, its origin not reachable."""
    monkeypatch.setattr(
        cifar10_jpeg, "SHIPPED_SUBSET", dataclasses.replace(cifar10_jpeg.SHIPPED_SUBSET, archive=Path("/absent"))
    )
    monkeypatch.setattr(cifar10_jpeg.Cifar10JpegSource, "fetch_description", lambda self, mirror: "")


def by_hand(url: str, data: Path) -> str:
    archive = cifar.RELEASES["cifar10"].archive
    return (
        f"To fetch it by hand: download {url} ({archive.size:,} bytes, md5 {archive.md5}) and put it at {data / FILE} "
        "(cskd verifies and extracts it on first use), or put it in a folder and pass --mirror DIR (or set "
        "CSKD_DATA_MIRROR=DIR)."
    )


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file below ``folder`` (outside cskd's own .cache/) with its content and modification time."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".cache" not in p.relative_to(folder).parts
    }


def fetch(data: Path, *extra: str) -> int:
    return main(["data", "fetch", "cifar10", "--data-dir", str(data), *extra])


def test_clean_fetch_downloads_verifies_extracts_and_loads(served, data, monkeypatch, capsys):
    archive = served.release.archive
    with ArchiveServer(served.path.parent) as server:
        url = f"{server.url}/{FILE}"
        with_url(monkeypatch, "cifar10", url)
        assert main(["list", "datasets", "--data-dir", str(data)]) == 0
        listed = capsys.readouterr().out
        assert (
            f"cifar10        fetchable  `cskd data fetch cifar10`: {FILE} ({human_size(archive.size)}) from {url}"
            in listed
        )
        assert fetch(data) == 0
        out, err = capsys.readouterr()
        assert out == (
            f"cifar10: {data / FILE} md5-verified; 7 files md5-verified against the official checksums at "
            f"{data / 'cifar-10-batches-py'}\n"
        )
        assert f"cskd: fetching cifar10: {FILE} ({archive.size:,} bytes, md5 {archive.md5})\n" in err
        assert f"cskd: downloading {FILE} ({human_size(archive.size)}) from {url} into {data}\n" in err
        assert f"cskd: verified {data / FILE} (md5 {archive.md5})\n" in err
        assert f"cskd: extracting {data / FILE} into {data}" in err
        assert server.requests == [(f"/{FILE}", None)]
        assert fetch(data) == 0  # present: verified again, nothing downloaded
        assert server.requests == [(f"/{FILE}", None)]
    assert sorted(p.name for p in data.iterdir()) == [".cache", "cifar-10-batches-py", FILE]
    ds = load_dataset("cifar10", data)
    assert torch.equal(ds.train_images, torch.from_numpy(served.images["train"]).permute(0, 3, 1, 2))
    assert torch.equal(ds.test_images, torch.from_numpy(served.images["test"]).permute(0, 3, 1, 2))
    assert ds.classes[0] == "airplane" and ds.train_labels[:3].tolist() == [0, 1, 2]
    capsys.readouterr()
    assert main(["data", "verify", "--data-dir", str(data)]) == 0
    assert capsys.readouterr().out.startswith(f"cifar10: ok: {data / FILE} md5-verified; 7 files md5-verified")
    assert main(["list", "datasets", "--data-dir", str(data)]) == 0
    assert f"cifar10        present    {data / 'cifar-10-batches-py'}" in capsys.readouterr().out


def test_partial_download_is_resumed_with_a_range_request(served, data, monkeypatch, capsys):
    content = served.path.read_bytes()
    half = len(content) // 2
    data.mkdir()
    (data / f"{FILE}.part").write_bytes(content[:half])
    with ArchiveServer(served.path.parent) as server:
        assert fetch(data, "--mirror", server.url) == 0
        assert server.requests == [(f"/{FILE}", f"bytes={half}-")]
    err = capsys.readouterr().err
    assert f"cskd: resuming {FILE} at {half:,} of {len(content):,} bytes (partial download {data / FILE}.part)\n" in err
    assert (data / FILE).read_bytes() == content and not (data / f"{FILE}.part").exists()


def test_dropped_connection_is_resumed_within_the_same_fetch(served, data, capsys):
    size = served.path.stat().st_size
    with ArchiveServer(served.path.parent) as server:
        server.cut_after = 1000
        assert fetch(data, "--mirror", server.url) == 0
        assert server.requests == [(f"/{FILE}", None), (f"/{FILE}", "bytes=1000-")]
    assert f"cskd: resuming {FILE} at 1,000 of {size:,} bytes" in capsys.readouterr().err
    assert (data / FILE).read_bytes() == served.path.read_bytes()


def test_server_that_cannot_resume_restarts_the_download(served, data, capsys):
    data.mkdir()
    (data / f"{FILE}.part").write_bytes(b"x" * 1000)  # not even a prefix of the file: must be replaced, not kept
    with ArchiveServer(served.path.parent) as server:
        server.ignore_range = True
        assert fetch(data, "--mirror", server.url) == 0
    err = capsys.readouterr().err
    assert f"cskd: {server.url}/{FILE} does not resume downloads; restarting {FILE} from the start\n" in err
    assert (data / FILE).read_bytes() == served.path.read_bytes()


def test_corrupt_download_is_deleted_nothing_extracted_nothing_else_touched(served, data, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    content = bytearray(served.path.read_bytes())
    content[len(content) // 2] ^= 0xFF
    (bad / FILE).write_bytes(bytes(content))
    (data / "cifar-100-python").mkdir(parents=True)
    (data / "cifar-100-python" / "train").write_bytes(b"another dataset")
    (data / "notes.txt").write_text("mine")
    before = snapshot(data)
    archive = served.release.archive
    with ArchiveServer(bad) as server:
        assert fetch(data, "--mirror", server.url) == 1
    url = f"{server.url}/{FILE}"
    actual = hashlib.md5(bytes(content)).hexdigest()
    assert capsys.readouterr().out == (
        f"error: {FILE} downloaded from {url} is corrupt: {archive.size:,} bytes with md5 {actual}, expected "
        f"{archive.size:,} bytes with md5 {archive.md5} (official checksum). It was deleted and nothing was "
        f"extracted; run the fetch again to download it anew. {by_hand(archive.url, data)}\n"
    )
    assert snapshot(data) == before
    assert sorted(p.name for p in data.iterdir()) == [".cache", "cifar-100-python", "notes.txt"]


def test_corrupt_archive_put_by_hand_is_reported_not_extracted(served, data, capsys):
    data.mkdir()
    content = bytearray(served.path.read_bytes())
    content[100] ^= 0xFF
    (data / FILE).write_bytes(bytes(content))
    assert fetch(data) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"error: {data / FILE} is corrupt: {len(content):,} bytes with md5 ")
    assert out.endswith(" (official checksum). Delete it and fetch it again: `cskd data fetch cifar10`.\n")
    assert sorted(p.name for p in data.iterdir()) == [FILE]


def test_missing_mirror_file_names_the_file_checksum_and_places(served, data, tmp_path, monkeypatch, capsys):
    archive = served.release.archive
    folder = tmp_path / "empty-mirror"
    folder.mkdir()
    assert fetch(data, "--mirror", str(folder)) == 1
    assert capsys.readouterr().out == (
        f"error: the mirror {folder} has no {FILE} (looked for {folder / FILE}). Put the official file there (from "
        f"https://www.cs.toronto.edu/~kriz/{FILE}: {archive.size:,} bytes, md5 {archive.md5}), or put it at "
        f"{data / FILE} by hand.\n"
    )
    with ArchiveServer(folder) as server:
        monkeypatch.setenv("CSKD_DATA_MIRROR", server.url)
        assert fetch(data) == 1
    assert capsys.readouterr().out == (
        f"error: the mirror {server.url} has no {FILE} (looked for {server.url}/{FILE}: HTTP Error 404). Put the "
        f"official file there (from https://www.cs.toronto.edu/~kriz/{FILE}: {archive.size:,} bytes, md5 "
        f"{archive.md5}), or put it at {data / FILE} by hand.\n"
    )
    assert [p.name for p in data.iterdir()] == [".cache"]


def test_no_network_names_url_file_checksum_and_where_to_put_it(served, data, monkeypatch, capsys):
    url = f"{closed_port_url()}/{FILE}"
    with_url(monkeypatch, "cifar10", url)
    assert fetch(data) == 1
    assert capsys.readouterr().out == (
        f"error: could not download {FILE} from {url}: [Errno 111] Connection refused. {by_hand(url, data)}\n"
    )
    assert [p.name for p in data.iterdir()] == [".cache"]


def test_unreachable_origin_and_unknown_names(data, monkeypatch, capsys):
    url = f"{closed_port_url()}/origin.tar.gz"
    monkeypatch.setattr(cifar10_jpeg_origin, "ORIGIN_URL", url)
    assert main(["data", "fetch", "cifar10-jpeg", "--data-dir", str(data)]) == 1
    assert capsys.readouterr().out.startswith(
        f"error: could not download the CIFAR-10 JPEG images from {url}: <urlopen error [Errno 111] Connection "
        "refused>. Without internet: put cifar10-jpeg.tar.gz (sha256 ff26949c"
    )
    assert not list(data.glob(".cifar10-jpeg-origin-*"))
    assert main(["data", "fetch", "cifar-10", "--data-dir", str(data)]) == 1
    assert capsys.readouterr().out.startswith("error: unknown dataset 'cifar-10' (closest: cifar10, ")
    assert main(["data", "fetch", "--data-dir", str(data)]) == 2
    assert capsys.readouterr().out == "error: name the datasets to fetch (or all, or --suite SUITE)\n"


# ---------------------------------------------------------------- dataset alternatives


def test_alternatives_first_present_else_first_fetchable(served, data, tmp_path, jpeg_copy_unobtainable):
    assert choose_dataset(["cifar10-jpeg", "cifar10"], data).name == "cifar10"
    assert choose_dataset(["cifar10-jpeg", "cifar10"], data).state == "fetchable"
    (data / "cifar10-jpeg" / "train").mkdir(parents=True)
    (data / "cifar10-jpeg" / "test").mkdir()
    assert choose_dataset(["cifar10-jpeg", "cifar10"], data).name == "cifar10-jpeg"
    empty = tmp_path / "empty"
    with pytest.raises(DatasetNotFoundError) as error:
        choose_dataset(["cifar10-jpeg", "cifar10"], empty, download=False)
    lines = str(error.value).splitlines()
    assert lines[0] == (
        f"none of the datasets cifar10-jpeg, cifar10 is present in {empty} (the first present one is used, else the "
        "first fetchable one is fetched):"
    )
    assert lines[1].startswith("  - cifar10-jpeg: missing. The full copy is needed only beyond the shipped subsets")
    size = human_size(served.release.archive.size)
    assert lines[2] == (
        f"  - cifar10: fetchable ({FILE} ({size}) from https://www.cs.toronto.edu/~kriz/{FILE}), but --no-download "
        "was given"
    )


def test_suite_dataset_alternatives_are_validated_and_the_one_used_is_in_the_run_ids(tmp_path):
    def suite(dataset) -> Path:
        path = tmp_path / "alt.yaml"
        path.write_text(yaml.safe_dump({**MINI, "name": "alt", "dataset": dataset}))
        return path

    with pytest.raises(SuiteError) as error:
        load_suite(suite([]))
    assert (
        str(error.value)
        == f"{tmp_path / 'alt.yaml'}: dataset: expected a dataset name or a non-empty list of names, got an empty list"
    )
    one, both = load_suite(suite("cifar10")), load_suite(suite(["cifar10-jpeg", "cifar10"]))
    assert both.dataset == ("cifar10-jpeg", "cifar10") and one.dataset == ("cifar10",)
    ids = {name: [r.run_id for r in expand(both, dataset=name).runs] for name in both.dataset}
    assert [r.run_id for r in expand(one).runs] == ids["cifar10"] != ids["cifar10-jpeg"]
    assert [r.dataset for r in expand(both).runs] == ["cifar10-jpeg"]  # without a choice: the first
    with pytest.raises(SuiteError, match=r"dataset 'cifar100' is not one of the suite's \(cifar10-jpeg, cifar10\)"):
        expand(both, dataset="cifar100")


def test_smoke_profile_runs_on_the_official_cifar10_when_the_jpeg_copy_is_absent(
    served, data, tmp_path, capsys, jpeg_copy_unobtainable
):
    with ArchiveServer(served.path.parent) as server:
        command = ["run", "table1", "--profile", "smoke", "--data-dir", str(data), "--mirror", server.url]
        assert main([*command, "--dry-run", "--results-dir", str(tmp_path / "results")]) == 0
        assert server.requests == []  # a dry run fetches nothing
    out = capsys.readouterr().out.splitlines()
    size = human_size(served.release.archive.size)
    assert out[0] == f"data: cifar10: will be fetched before training: {FILE} ({size}) from {server.url}/{FILE}"
    assert out[1].startswith("  (preferred cifar10-jpeg is missing: The full copy is needed only beyond")
    assert out[2] == "suite table1 [smoke] on cifar10"
    assert not data.exists()


def test_fetching_for_the_smoke_profile_verifies_the_jpeg_copy_where_present(data_dir, capsys):
    assert main(["data", "fetch", "--suite", "table1", "--profile", "smoke", "--data-dir", str(data_dir)]) == 0
    assert capsys.readouterr().out == (
        f"cifar10-jpeg: complete at {data_dir / 'cifar10-jpeg'}: 10 classes x 5000 train and 1000 test images "
        "(counted)\n"
    )


# ---------------------------------------------------------------- cskd run fetches before it trains


#: width 0.125 (8-channel layers): at width 0.0625 (4 channels) the channels_last backward of torch 2.14.1 (oneDNN's
#: AVX2 1x1 convolution kernel) corrupts the heap on this project's AMD EPYC build machine
MINI = {
    "name": "mini",
    "dataset": ["cifar10-jpeg", "cifar10"],
    "recipe": {"epochs": 1, "batch_size": 25, "lr": 0.05, "milestones": []},
    "models": {"T": {"model": "cifar_resnet18_w0_25", "kwargs": {"width_multiplier": 0.5}}},
    "teachers": ["T"],
}


def test_cskd_run_fetches_the_dataset_before_training(served, data, tmp_path, capsys, jpeg_copy_unobtainable):
    suite = tmp_path / "mini.yaml"
    suite.write_text(yaml.safe_dump(MINI))
    results = tmp_path / "results"
    command = ["run", str(suite), "--results-dir", str(results), "--data-dir", str(data), "--device", "cpu"]
    with ArchiveServer(served.path.parent) as server:
        assert main([*command, "--no-progress", "--no-download"]) == 2
        out = capsys.readouterr().err
        assert out.startswith(
            f"error: none of the datasets cifar10-jpeg, cifar10 is present in {data} (the first present one is used"
        )
        assert server.requests == [] and not data.exists() and not results.exists()
        assert main([*command, "--no-progress", "--mirror", server.url]) == 0
    out = capsys.readouterr().out.splitlines()
    size = human_size(served.release.archive.size)
    assert out[0] == (
        f"fetching cifar10 before training: {FILE} ({size}) from {server.url}/{FILE} (--no-download to opt out)"
    )
    assert out[1].startswith(f"cifar10: {data / FILE} md5-verified; 7 files md5-verified")
    assert out[2].startswith("training 1 run(s) in lockstep: teacher T seed 0")
    rows = read_runs(results / "mini" / "runs.csv")
    assert list(rows["status"]) == ["ok"] and list(rows["dataset"]) == ["cifar10"]
    assert rows["dataset_source"].iloc[0].startswith("official CIFAR-10 python pickles at <data-dir>/")  # no path
    assert rows["train_size"].iloc[0] == 50 and rows["test_size"].iloc[0] == 10
    # status plans as run did (the fallback, now present), so the run it recorded is done
    assert main(["status", str(suite), "--results-dir", str(results), "--data-dir", str(data)]) == 0
    status = capsys.readouterr().out
    assert rows["run_id"].iloc[0] in status and "1 done" in status, status


def test_paper_setting_fetches_all_three_datasets_then_starts_training(tmp_path, jpeg_root, data, monkeypatch, capsys):
    """What ./run_all.sh does on a fresh machine: fetch the datasets of Tables 1-4, verify them, start training."""
    mirror = tmp_path / "mirror"
    for name in ("cifar10", "cifar100"):
        use_release(monkeypatch, name, cifar_archive(name, jpeg_root, mirror, per_batch=4, test=4))
    use_release(monkeypatch, "tiny-imagenet", tiny_imagenet_archive(jpeg_root, mirror))
    # the miniature releases are far smaller than the suites' smoke-profile subsets, which loading a suite checks
    # against the (substituted) published sizes: leave those sizes unknown here
    monkeypatch.setattr("cskd.suite.dataset_split_sizes", lambda name: None)
    # and the loaded miniature (20 images) is smaller than a batch of 128, which the runner checks before training
    monkeypatch.setattr("cskd.runner.check_data", lambda plan, data_of: None)
    with ArchiveServer(mirror) as server:
        fetch_all = ["data", "fetch", "--suite", "table1", "table2", "table3", "table4", "--data-dir", str(data)]
        assert main([*fetch_all, "--mirror", server.url]) == 0
        assert sorted(path for path, _ in server.requests) == [
            "/cifar-10-python.tar.gz",
            "/cifar-100-python.tar.gz",
            "/tiny-imagenet-200.zip",
        ]
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["cifar10", "cifar100", "tiny-imagenet"]
    assert out[2] == (
        f"tiny-imagenet: {data / 'tiny-imagenet-200.zip'} md5-verified; complete at {data / 'tiny-imagenet-200'}: "
        "3 classes x 4 train and 2 val images (counted: no per-file checksums are published)"
    )

    started = []

    def first_epoch(jobs, data, recipe, options, teacher, log=None):  # training has started: stop it as a user would
        started.append((data.name, len(data.train_labels), [job.label for job in jobs]))
        raise KeyboardInterrupt

    monkeypatch.setattr("cskd.runner.train_group", first_epoch)
    # the miniature releases hold 20 training images, fewer than one of the paper's batches, which the run refuses
    # before training (tests/test_bad_input.py); here only the fetching and the start of training are looked at
    monkeypatch.setattr("cskd.plan.check_data", lambda plan, data_of: None)
    for table in ("table1", "table2", "table3"):
        command = ["run", table, "--data-dir", str(data), "--results-dir", str(tmp_path / "results")]
        assert main([*command, "--no-progress", "--no-download", "--device", "cpu"]) == 130
    assert started == [
        ("cifar10", 20, ["Teacher", "Teacher", "CE", "CE", "CE"]),
        ("cifar100", 4, ["Teacher", "Teacher", "CE", "CE", "CE"]),
        ("tiny-imagenet", 12, ["Teacher", "CE"]),
    ]


# ---------------------------------------------------------------- CUB-200-2011

CUB = "CUB_200_2011.tgz"


@pytest.fixture
def served_cub(tmp_path, jpeg_images, monkeypatch) -> BuiltArchive:
    """A small CUB_200_2011.tgz (3 classes x (4 train + 2 test) real images in the official layout) in
    ``tmp_path/served``, its release table substituted for the official one."""
    built = cub_archive(jpeg_images, tmp_path / "served")
    use_release(monkeypatch, "cub200", built)
    return built


def contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def cub_checked(data: Path, classes: int = 3, train: int = 12, test: int = 6) -> str:
    return (
        f"{data / CUB} md5-verified; consistent at {data / 'CUB_200_2011'}: {classes} classes, {train} train / {test} "
        "test images, every image listed in images.txt present (no per-file checksums are published)"
    )


def test_cub200_is_fetched_extracted_loaded_and_verified(served_cub, data, tmp_path, monkeypatch, capsys):
    archive = served_cub.release.archive
    with ArchiveServer(served_cub.path.parent) as server:
        url = f"{server.url}/{CUB}"
        with_url(monkeypatch, "cub200", url)
        assert main(["list", "datasets", "--data-dir", str(data)]) == 0
        assert (
            f"cub200         fetchable  `cskd data fetch cub200`: {CUB} ({human_size(archive.size)}) from {url}"
            in capsys.readouterr().out
        )
        assert main(["data", "fetch", "cub200", "--data-dir", str(data)]) == 0
        assert server.requests == [(f"/{CUB}", None)]
    out, err = capsys.readouterr()
    assert out == f"cub200: {cub_checked(data)}\n"
    assert f"cskd: fetching cub200: {CUB} ({archive.size:,} bytes, md5 {archive.md5})\n" in err
    assert f"cskd: verified {data / CUB} (md5 {archive.md5})\n" in err
    assert f"cskd: extracting {data / CUB} into {data}" in err
    assert sorted(p.name for p in data.iterdir()) == [".cache", "CUB_200_2011", CUB]  # not the top-level attributes.txt
    folder = data / "CUB_200_2011"
    assert contents(folder) == contents(tmp_path / "served" / ".staging-cub" / "CUB_200_2011")
    ds = load_dataset("cub200", data)
    assert ds.classes == ["001.airplane", "002.automobile", "003.bird"]
    assert ds.source.startswith(f"CUB-200-2011 at {folder} (official train/test split")
    assert ds.train_images.shape == (12, 3, 256, 256) and ds.test_images.shape == (6, 3, 256, 256)
    assert ds.train_labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4 and ds.test_labels.tolist() == [0, 0, 1, 1, 2, 2]

    assert main(["list", "datasets", "--data-dir", str(data)]) == 0
    assert f"cub200         present    {folder}" in capsys.readouterr().out
    assert main(["data", "verify", "cub200", "--data-dir", str(data)]) == 0
    assert capsys.readouterr().out == f"cub200: ok: {cub_checked(data)}\n"
    image = sorted((folder / "images").rglob("*.jpg"))[-1]
    image.unlink()
    assert main(["data", "verify", "cub200", "--data-dir", str(data)]) == 1
    assert capsys.readouterr().out == (
        f"cub200: FAILED: 1 image(s) listed in {folder / 'images.txt'} do not exist: "
        f"{image.relative_to(folder)}. Delete {folder} (a modified copy, or one extracted incompletely by hand) and "
        f"run `cskd data fetch cub200`: it extracts {CUB} again (or downloads it, when it is not in {data}).\n"
    )


def test_corrupt_cub200_download_is_refused_and_nothing_extracted(served_cub, data, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    content = bytearray(served_cub.path.read_bytes())
    content[len(content) // 2] ^= 0xFF
    (bad / CUB).write_bytes(bytes(content))
    archive = served_cub.release.archive
    with ArchiveServer(bad) as server:
        assert main(["data", "fetch", "cub200", "--data-dir", str(data), "--mirror", server.url]) == 1
    actual = hashlib.md5(bytes(content)).hexdigest()
    assert capsys.readouterr().out == (
        f"error: {CUB} downloaded from {server.url}/{CUB} is corrupt: {archive.size:,} bytes with md5 {actual}, "
        f"expected {archive.size:,} bytes with md5 {archive.md5} (official checksum). It was deleted and nothing was "
        f"extracted; run the fetch again to download it anew. To fetch it by hand: download "
        f"https://data.caltech.edu/records/65de6-vp158/files/{CUB} ({archive.size:,} bytes, md5 {archive.md5}) and "
        f"put it at {data / CUB} (cskd verifies and extracts it on first use), or put it in a folder and pass --mirror "
        "DIR (or set CSKD_DATA_MIRROR=DIR).\n"
    )
    assert [p.name for p in data.iterdir()] == [".cache"]


def test_the_readme_cub_suite_and_all_fetch_cub200(data, tmp_path, jpeg_images, jpeg_root, monkeypatch, capsys):
    mirror = tmp_path / "mirror"
    # 10 classes x (20 + 10) images: the suite's cpu profile takes 200 training images (at least one per class of
    # the real 200) and 100 test images, checked against the release's sizes when it is loaded
    use_release(monkeypatch, "cub200", cub_archive(jpeg_images, mirror, num_classes=10, train=20, test=10))
    for name in ("cifar10", "cifar100"):
        use_release(monkeypatch, name, cifar_archive(name, jpeg_root, mirror, per_batch=4, test=4))
    use_release(monkeypatch, "tiny-imagenet", tiny_imagenet_archive(jpeg_root, mirror))
    assert fetchable_names() == ["cifar10", "cifar100", "cub200", "tiny-imagenet"]
    with ArchiveServer(mirror) as server:
        assert main(["data", "fetch", "--suite", "readme_cub", "--data-dir", str(data), "--mirror", server.url]) == 0
        assert server.requests == [(f"/{CUB}", None)]
        assert capsys.readouterr().out == f"cub200: {cub_checked(data, 10, 200, 100)}\n"
        assert main(["data", "fetch", "all", "--data-dir", str(data), "--mirror", server.url]) == 0
        assert sorted(path for path, _ in server.requests) == [
            f"/{CUB}",  # once: present since the suite's fetch, only verified again
            "/cifar-10-python.tar.gz",
            "/cifar-100-python.tar.gz",
            "/tiny-imagenet-200.zip",
        ]
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["cifar10", "cifar100", "cub200", "tiny-imagenet"]
    assert out[2] == f"cub200: {cub_checked(data, 10, 200, 100)}"


# ---------------------------------------------------------------- rebuilding the JPEG copy


@pytest.fixture(scope="module")
def make_cifar10_jpeg():
    path = Path(__file__).parents[1] / "scripts" / "make_cifar10_jpeg.py"
    spec = importlib.util.spec_from_file_location("make_cifar10_jpeg", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_make_cifar10_jpeg_rebuilds_the_copy_from_the_official_release(
    make_cifar10_jpeg, served, data, tmp_path, jpeg_root, capsys
):
    data.mkdir()
    os.link(served.path, data / FILE)
    out = tmp_path / "out"
    assert make_cifar10_jpeg.main(["--data-dir", str(data), "--out", str(out), "--archive"]) == 0
    assert capsys.readouterr().out == f"wrote {out / 'cifar10-jpeg'}\nwrote {out / 'cifar10-jpeg.tar.gz'}\n"
    tree = out / "cifar10-jpeg"
    assert sorted(p.name for p in tree.iterdir()) == ["test", "train"]
    for split, per_class in (("train", 5), ("test", 1)):
        assert sorted(p.name for p in (tree / split).iterdir()) == sorted(CLASSES)
        for cls in CLASSES:
            assert sorted(p.name for p in (tree / split / cls).iterdir()) == [f"{i:04d}.jpg" for i in range(per_class)]
    rebuilt = Image.open(tree / "train" / "airplane" / "0000.jpg")
    shared = Image.open(jpeg_root / "train" / "airplane" / "0000.jpg")
    assert rebuilt.quantization == shared.quantization  # the copy's encoder settings: quality 75 tables
    assert JpegImagePlugin.get_sampling(rebuilt) == JpegImagePlugin.get_sampling(shared) == 2  # 4:2:0
    # served.images["train"][i] is image i // 10 of class i % 10 of the official-format release (classes in turn);
    # a re-encode is lossy (over 50 images; a single image may come back unchanged)
    official = served.images["train"]
    rebuilt_pixels = [
        np.asarray(Image.open(tree / "train" / CLASSES[i % 10] / f"{i // 10:04d}.jpg").convert("RGB"))
        for i in range(len(official))
    ]
    loss = np.abs(np.stack(rebuilt_pixels).astype(int) - official.astype(int)).mean()
    assert 0 < loss < 4
    first = (out / "cifar10-jpeg.tar.gz").read_bytes()
    assert make_cifar10_jpeg.main(["--data-dir", str(data), "--out", str(tmp_path / "again"), "--archive"]) == 0
    assert (tmp_path / "again" / "cifar10-jpeg.tar.gz").read_bytes() == first  # deterministic
    capsys.readouterr()
    assert make_cifar10_jpeg.main(["--data-dir", str(data), "--out", str(out)]) == 2
    assert capsys.readouterr().out == f"error: {tree} already exists; remove it or choose another --out\n"


def test_packing_the_jpeg_copy_reproduces_the_published_archive(make_cifar10_jpeg, data_dir):
    """The tar stream inside the published cifar10-jpeg.tar.gz, byte for byte (its sha256 after gunzip; the gzip
    layer, `gzip -9n`, reproduced the archive's own sha256 with gzip 1.12 when this was written): the full copy."""
    stream = make_cifar10_jpeg.tar_bytes(data_dir / "cifar10-jpeg")
    assert len(stream) == 92_692_480
    assert hashlib.sha256(stream).hexdigest() == "de9e0b24671dc87fc3ebdfcc047206e0d709d7db25d8866aea7317872c2a79f2"
