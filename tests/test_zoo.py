"""The teacher zoo, offline: mdistiller's release layout (``cifar_teachers.tar``) built from random-weight models in
RepDistiller's layout, served from 127.0.0.1; fetched, checksum recorded then verified, converted and evaluated."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_run import cli
from official_archives import ArchiveServer
from PIL import Image

from cskd.models import create_model


def release_archive(folder: Path, seed: int = 0) -> tuple[Path, bytes]:
    """``folder/cifar_teachers.tar`` holding ``cifar_teachers/resnet56_vanilla/ckpt_epoch_240.pth`` as RepDistiller
    writes it (``{"model": state_dict, "epoch": 240}``; its ResNets share our tensor names), random weights."""
    torch.manual_seed(seed)
    model = create_model("crd_resnet56", num_classes=100)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "epoch": 240}, buffer)
    member = buffer.getvalue()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cifar_teachers.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("cifar_teachers/resnet56_vanilla/ckpt_epoch_240.pth")
        info.size = len(member)
        tar.addfile(info, io.BytesIO(member))
    return path, member


def hundred_classes(root: Path) -> str:
    """A 100-class image folder (one 32x32 image per class and split): a test set for a CIFAR-100 model."""
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for c in range(100):
            (root / split / f"c{c:03d}").mkdir(parents=True)
            pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / split / f"c{c:03d}" / "0.png")
    return f"imagefolder:{root}"


def test_fetch_records_then_verifies_converts_and_evaluates(tmp_path):
    served, member = release_archive(tmp_path / "served")
    data = tmp_path / "data"
    dataset = hundred_classes(tmp_path / "hundred")
    fetch = ["teachers", "fetch", "resnet56", "--data-dir", str(data), "--dataset", dataset, "--device", "cpu"]
    with ArchiveServer(served.parent) as server:
        code, out, err = cli(*fetch, "--mirror", server.url)
    assert code == 0, err
    archive_sha = hashlib.sha256(served.read_bytes()).hexdigest()
    assert f"recorded cifar_teachers.tar: {served.stat().st_size:,} bytes, sha256 {archive_sha}" in err
    checksums = json.loads((data / "teachers" / "checksums.json").read_text())
    assert checksums["cifar_teachers.tar"]["sha256"] == archive_sha
    record = json.loads((data / "teachers" / "published.json").read_text())["resnet56"]
    converted = data / "teachers" / "resnet56.pt"
    assert record["sha256"] == hashlib.sha256(converted.read_bytes()).hexdigest()
    assert record["file_sha256"] == hashlib.sha256(member).hexdigest() and record["published_top1"] == 72.34
    assert record["converted_from"].startswith(f"cifar_teachers.tar (sha256 {archive_sha}) member cifar_teachers/")
    state = torch.load(converted, weights_only=True)["model"]
    reference = torch.load(io.BytesIO(member), weights_only=True)["model"]
    assert state.keys() == reference.keys() and all(torch.equal(state[k], reference[k]) for k in state)
    # the recorded top-1 is the one cskd eval measures on the same test set
    code, printed, err = cli("eval", str(converted), "--model", "crd_resnet56", "--dataset", dataset, "--json")
    assert code == 0, err
    measured = json.loads(printed)
    assert record["top1"] == measured["top1"] and record["top5"] == measured["top5"] and record["dataset"] == dataset
    code, printed, err = cli("eval", "resnet56", "--data-dir", str(data), "--dataset", dataset, "--json")
    assert code == 0, err
    assert json.loads(printed)["top1"] == record["top1"]  # the published teacher by name
    assert f"resnet56: {converted} (sha256 {record['sha256']})" in out and "published 72.34" in out
    code, listing, _ = cli("teachers", "list", "--data-dir", str(data))
    assert f"measured {record['top1']:.2f}" in listing

    # a later download is verified against the record: the same file passes, another one is refused
    (data / "teachers" / "cifar_teachers.tar").unlink()
    with ArchiveServer(served.parent) as server:
        assert cli(*fetch, "--no-eval", "--mirror", server.url)[0] == 0
    (data / "teachers" / "cifar_teachers.tar").unlink()
    release_archive(served.parent, seed=1)  # the server now has another file of the same size
    with ArchiveServer(served.parent) as server:
        code, _, err = cli(*fetch, "--no-eval", "--mirror", server.url)
    assert code == 2 and "corrupt" in err and archive_sha in err
    assert not (data / "teachers" / "cifar_teachers.tar").exists()
    assert json.loads((data / "teachers" / "checksums.json").read_text()) == checksums


def test_an_interrupted_first_download_resumes(tmp_path):
    served, _ = release_archive(tmp_path / "served")
    data = tmp_path / "data"
    content = served.read_bytes()
    (data / "teachers").mkdir(parents=True)
    (data / "teachers" / "cifar_teachers.tar.part").write_bytes(content[:1000])
    with ArchiveServer(served.parent) as server:
        code, _, err = cli(
            "teachers", "fetch", "resnet56", "--data-dir", str(data), "--no-eval", "--mirror", server.url
        )
        assert (f"/{served.name}", "bytes=1000-") in server.requests
    assert code == 0, err and "resuming cifar_teachers.tar at 1,000" in err
    assert (data / "teachers" / "cifar_teachers.tar").read_bytes() == content


def test_unknown_teacher_names_the_close_ones(tmp_path):
    code, _, err = cli("teachers", "fetch", "resnet5", "--data-dir", str(tmp_path))
    assert code == 2 and "no published teacher 'resnet5'" in err and "resnet56" in err


@pytest.mark.parametrize("suite", ["kd_cifar100_same"])
def test_a_suite_names_its_published_teachers(suite):
    from cskd.suite import resolve_suite_path
    from cskd.zoo import suite_teachers

    assert suite_teachers(resolve_suite_path(suite), suite) == [
        "wrn_40_2",
        "resnet56",
        "resnet110",
        "resnet32x4",
        "vgg13",
    ]


def test_a_suite_of_published_teachers_distils_from_the_fetched_file(tmp_path, monkeypatch):
    import yaml

    from cskd.plan import expand
    from cskd.results import read_runs
    from cskd.suite import SuiteError, load_suite

    served, _ = release_archive(tmp_path / "served")
    data = tmp_path / "data"
    monkeypatch.setenv("CSKD_DATA", str(data))
    dataset = hundred_classes(tmp_path / "hundred")
    suite = tmp_path / "pub.yaml"
    suite.write_text(
        yaml.safe_dump(
            {
                "name": "pub",
                "dataset": dataset,
                "recipe": {"epochs": 1, "batch_size": 50, "lr": 0.05, "milestones": []},
                "models": {"resnet56": "crd_resnet56", "resnet8": "crd_resnet8"},
                "pairs": [["resnet56", "resnet8"]],
                "methods": {"KD": "kd"},
                "teachers": "published",
            }
        )
    )
    with pytest.raises(
        SuiteError, match=r"teachers: published: resnet56 not fetched .*cskd teachers fetch --suite pub"
    ):
        load_suite(suite)
    with ArchiveServer(served.parent) as server:
        code, _, err = cli("teachers", "fetch", "--suite", str(suite), "--dataset", dataset, "--mirror", server.url)
    assert code == 0, err
    record = json.loads((data / "teachers" / "published.json").read_text())["resnet56"]
    plan = expand(load_suite(suite))
    (run,) = plan.runs  # no teacher run: the published teacher is supplied
    assert run.teacher_checkpoint.sha256 == record["sha256"] and run.teacher_run is None
    results = tmp_path / "results"
    code, out, err = cli("run", str(suite), "--results-dir", str(results), "--device", "cpu", "--no-progress")
    assert code == 0, out + err
    (row,) = read_runs(results / "pub" / "runs.csv").to_dict("records")
    assert row["status"] == "ok" and row["kind"] == "student"
    assert json.loads(row["teacher_model"]) == {
        "name": "crd_resnet56",
        "kwargs": {},
        "checkpoint_sha256": record["sha256"],
    }
    assert row["teacher_top1"] == pytest.approx(record["top1"])  # the teacher as evaluated when it was fetched
