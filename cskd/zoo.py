"""The teacher zoo: the CIFAR-100 teachers every benchmark paper since CRD distils from, fetched, converted, checked.

Sources (both publish the same RepDistiller-trained checkpoints, ``<name>_vanilla/ckpt_epoch_240.pth``, a dict whose
``model`` entry is the state dict of RepDistiller's definitions):

* ``mdistiller`` (default): the release ``checkpoints`` of megvii-research/mdistiller, one archive
  ``cifar_teachers.tar`` holding ``cifar_teachers/<name>_vanilla/ckpt_epoch_240.pth`` for every teacher;
* ``repdistiller``: HobbitLong/RepDistiller's ``scripts/fetch_pretrained_teachers.sh`` URLs, one file per teacher.

Neither source publishes a checksum. A file is therefore downloaded (resumably, through :mod:`cskd.data.remote`) and
its size and sha256 are *recorded* on first download in ``DATA/teachers/checksums.json`` and printed; every later
download, and every use of the file on disk, is verified against the record, and a mismatch is refused. Each teacher
is converted with :func:`cskd.models.convert.convert_repdistiller` to ``DATA/teachers/<name>.pt`` (the layout of
``cskd convert-checkpoint``), evaluated on the test set, and recorded in ``DATA/teachers/published.json`` with the
sha256 of the file it came from, of the converted file, and its measured top-1 beside the published one
(benchmarks/published_results.csv, CRD's README).
"""

from __future__ import annotations

import csv
import io
import json
import os
import tarfile
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cskd.data.files import file_digest, notify, resolve_data_dir
from cskd.data.remote import (
    RemoteArchive,
    download,
    human_size,
    is_url,
    resolve_mirror,
    source_of,
    transfer,
    verify_archive,
)
from cskd.engine.checkpoint import save_atomic
from cskd.locations import shipped_file

MDISTILLER_URL = "https://github.com/megvii-research/mdistiller/releases/download/checkpoints/cifar_teachers.tar"
MDISTILLER_ARCHIVE = "cifar_teachers.tar"
REPDISTILLER_URL = "http://shape2prog.csail.mit.edu/repo/{name}_vanilla/ckpt_epoch_240.pth"
SOURCES = ("mdistiller", "repdistiller")
PUBLISHED_RESULTS = shipped_file("published_results.csv")


class ZooError(ValueError):
    """A teacher that cannot be fetched, verified or converted; the message names it and the fix."""


@dataclass(frozen=True)
class PublishedTeacher:
    """A released CIFAR-100 teacher: RepDistiller's name, the cskd model it converts to, its published top-1."""

    name: str
    model: str
    published_top1: float

    @property
    def member(self) -> str:
        """Its file inside mdistiller's ``cifar_teachers.tar``."""
        return f"cifar_teachers/{self.name}_vanilla/ckpt_epoch_240.pth"

    @property
    def repdistiller_file(self) -> str:
        """Its local (and mirror) file name when fetched from RepDistiller's per-teacher URL."""
        return f"{self.name}_vanilla_ckpt_epoch_240.pth"


#: RepDistiller's teacher name -> the crd_* model its checkpoint converts to (cskd.models.convert.CONVERSIONS)
MODELS = {
    "wrn_40_2": "crd_wrn_40_2",
    "resnet56": "crd_resnet56",
    "resnet110": "crd_resnet110",
    "resnet32x4": "crd_resnet32x4",
    "vgg13": "crd_vgg13",
    "ResNet50": "crd_resnet50",
}


def published_teachers() -> dict[str, PublishedTeacher]:
    """Every released teacher with its published top-1 (the ``Teacher`` rows of benchmarks/published_results.csv)."""
    with PUBLISHED_RESULTS.open(newline="") as stream:
        top1 = {
            row["student"]: float(row["value"])
            for row in csv.DictReader(stream)
            if row["method"] == "Teacher" and row["metric"] == "top1" and row["dataset"] == "cifar100"
        }
    return {name: PublishedTeacher(name, model, top1[name]) for name, model in MODELS.items()}


def zoo_dir(data_dir: Path | str | None) -> Path:
    return resolve_data_dir(data_dir) / "teachers"


class Checksums:
    """``DATA/teachers/checksums.json``: size and sha256 of every file as first downloaded (no source publishes
    them), so that a later download or a changed file is refused."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "checksums.json"
        self.entries: dict[str, dict[str, Any]] = json.loads(self.path.read_text()) if self.path.exists() else {}

    def archive(self, file_name: str, url: str) -> RemoteArchive | None:
        entry = self.entries.get(file_name)
        return None if entry is None else RemoteArchive(file_name, url, entry["size"], "", sha256=entry["sha256"])

    def record(self, file_name: str, url: str, size: int, sha256: str) -> None:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        self.entries[file_name] = {"size": size, "sha256": sha256, "url": url, "recorded_at": now}
        temp = self.path.with_suffix(".json.tmp")
        temp.write_text(json.dumps(self.entries, indent=2, sort_keys=True) + "\n")
        os.replace(temp, self.path)


def fetch_file(file_name: str, url: str, folder: Path, mirror: str | None) -> tuple[Path, str]:
    """``folder/file_name`` downloaded from ``url`` (or the mirror), resumable, and its sha256: verified against the
    recorded checksum, or recorded (and printed) when this is its first download."""
    folder.mkdir(parents=True, exist_ok=True)
    checksums = Checksums(folder)
    known = checksums.archive(file_name, url)
    fix = f"delete {folder / file_name} and fetch again, or remove its entry from {checksums.path} to accept a new file"
    if known is not None:
        path = download(known, folder, mirror)  # resumes, verifies, deletes a download that differs
        verify_archive(known, path, f"The file differs from the one first downloaded ({checksums.path}): {fix}")
        return path, known.sha256
    target = folder / file_name
    if not target.exists():
        source = source_of(RemoteArchive(file_name, url, 0, "", sha256="unpublished"), mirror)
        size = _size_of(source)
        unpublished = RemoteArchive(file_name, url, size, "", sha256="unpublished")  # the transfer checks the size only
        partial = folder / f"{file_name}.part"
        notify(f"downloading {file_name} ({human_size(size)}) from {source} into {folder}")
        transfer(unpublished, source, partial, mirror, folder)
        os.replace(partial, target)
    sha256 = file_digest(target, "sha256")
    checksums.record(file_name, url, target.stat().st_size, sha256)
    notify(
        f"recorded {file_name}: {target.stat().st_size:,} bytes, sha256 {sha256} (the source publishes no checksum: "
        f"recorded on first download in {checksums.path}; a later download that differs is refused)"
    )
    return target, sha256


def _size_of(source: str) -> int:
    """The byte size of ``source``: a file's size; a URL's total from a one-byte ``Range`` request (its
    ``Content-Range``), or its ``Content-Length`` when the server ignores the range."""
    if not is_url(source):
        path = Path(source)
        if not path.is_file():
            raise ZooError(f"no file {source}: put the release's file there, or fetch without --mirror")
        return path.stat().st_size
    request = urllib.request.Request(source, headers={"User-Agent": "cskd (teacher fetch)", "Range": "bytes=0-0"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            total = response.headers.get("Content-Range", "").rpartition("/")[2]
            length = total if response.status == 206 and total.isdigit() else response.headers.get("Content-Length")
    except OSError as error:
        raise ZooError(f"could not download {source}: {error}") from None
    if length is None:
        raise ZooError(f"{source} does not say its size: download it by hand and pass its folder as --mirror")
    return int(length)


def reference_checkpoint(teacher: PublishedTeacher, source: str, folder: Path, mirror: str | None) -> tuple[bytes, str]:
    """The bytes of ``teacher``'s released checkpoint and a description of where they come from (file and sha256)."""
    if source == "mdistiller":
        archive, sha256 = fetch_file(MDISTILLER_ARCHIVE, MDISTILLER_URL, folder, mirror)
        with tarfile.open(archive) as tar:
            try:
                member = tar.extractfile(teacher.member)
            except KeyError:
                member = None
            if member is None:
                raise ZooError(f"{archive} (sha256 {sha256}) has no {teacher.member}: not mdistiller's release?")
            data = member.read()
        return data, f"{MDISTILLER_ARCHIVE} (sha256 {sha256}) member {teacher.member}"
    if source == "repdistiller":
        url = REPDISTILLER_URL.format(name=teacher.name)
        path, sha256 = fetch_file(teacher.repdistiller_file, url, folder, mirror)
        return path.read_bytes(), f"{url} (sha256 {sha256})"
    raise ZooError(f"unknown source {source!r}: use one of {', '.join(SOURCES)}")


@dataclass(frozen=True)
class FetchedTeacher:
    teacher: PublishedTeacher
    path: Path  # DATA/teachers/<name>.pt, the converted state dict
    sha256: str  # of that file: what a suite's teacher_checkpoints entry names
    file_sha256: str  # of the released checkpoint it was converted from
    origin: str


def fetch_teacher(
    teacher: PublishedTeacher, data_dir: Path | str | None, source: str = "mdistiller", mirror: str | None = None
) -> FetchedTeacher:
    """Download (once), verify and convert ``teacher`` to ``DATA/teachers/<name>.pt``."""
    import torch

    from cskd.models.convert import convert_repdistiller, reference_state_dict

    folder = zoo_dir(data_dir)
    data, origin = reference_checkpoint(teacher, source, folder, resolve_mirror(mirror))
    file_sha256 = _sha256(data)
    try:
        checkpoint = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        converted = convert_repdistiller(teacher.model, reference_state_dict(checkpoint))
    except Exception as error:
        raise ZooError(f"{origin}: cannot convert it to {teacher.model}: {error}") from None
    path = folder / f"{teacher.name}.pt"
    converted_from = {"format": "repdistiller", "file": origin, "sha256": file_sha256, "source": source}
    save_atomic({"model": converted.state_dict, "converted_from": converted_from}, path)
    return FetchedTeacher(teacher, path, file_digest(path, "sha256"), file_sha256, origin)


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


class Records:
    """``DATA/teachers/published.json``: each fetched teacher, where it comes from, and its measured accuracy."""

    def __init__(self, data_dir: Path | str | None) -> None:
        self.path = zoo_dir(data_dir) / "published.json"
        self.entries: dict[str, dict[str, Any]] = json.loads(self.path.read_text()) if self.path.exists() else {}

    def record(self, fetched: FetchedTeacher, evaluation: dict[str, Any] | None) -> dict[str, Any]:
        entry = {
            "model": fetched.teacher.model,
            "checkpoint": fetched.path.name,
            "sha256": fetched.sha256,
            "converted_from": fetched.origin,
            "file_sha256": fetched.file_sha256,
            "published_top1": fetched.teacher.published_top1,
            **(evaluation or {}),
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.entries[fetched.teacher.name] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_suffix(".json.tmp")
        temp.write_text(json.dumps(self.entries, indent=2, sort_keys=True) + "\n")
        os.replace(temp, self.path)
        return entry


def suite_teachers(path: Path, name: str) -> list[str]:
    """The published teachers suite ``name`` uses: its pairs' (and ``teachers:``) teachers whose model is a published
    teacher's crd_* model with no extra arguments. Read from the file as written (before the teachers are fetched,
    a ``teachers: published`` suite cannot be loaded)."""
    import yaml

    raw = yaml.safe_load(path.read_text()) or {}
    by_model = {teacher.model: teacher.name for teacher in published_teachers().values()}
    found = [by_model[model] for model in _teacher_models(raw).values() if model in by_model]
    if not found:
        raise ZooError(f"suite {name}: no teacher of its pairs is a published one ({', '.join(by_model)})")
    return list(dict.fromkeys(found))


def _teacher_models(raw: dict[str, Any]) -> dict[str, str]:
    """Teacher label -> timm model name of the teachers of a suite mapping, for those with no extra arguments."""
    models = raw.get("models") or {}
    listed = raw.get("teachers") if isinstance(raw.get("teachers"), list) else []
    pairs = [p for p in raw.get("pairs") or [] if isinstance(p, list | dict)]
    labels = [*listed, *(p[0] if isinstance(p, list) else p.get("teacher") for p in pairs)]
    found = {}
    for label in dict.fromkeys(labels):
        entry = models.get(label)
        entry = {"model": entry} if isinstance(entry, str) else entry
        if isinstance(entry, dict) and not entry.get("kwargs") and isinstance(entry.get("model"), str):
            found[label] = entry["model"]
    return found


def with_published_teachers(path: Path, raw: dict[str, Any]) -> dict[str, Any]:
    """The suite mapping ``raw`` (file ``path``) of ``teachers: published``: every pair's teacher whose model is a
    published teacher's (no extra arguments) supplied as its fetched, converted checkpoint (a ``teacher_checkpoints``
    entry with its sha256, from ``$CSKD_DATA/teachers/published.json``; an entry the file gives itself wins), so
    that it is not trained; other teachers are trained as usual. A published teacher not fetched yet is an error
    naming the command that fetches it."""
    from cskd.usererrors import SuiteError

    by_model = {teacher.model: teacher.name for teacher in published_teachers().values()}
    records = Records(None)
    supplied = dict(raw.get("teacher_checkpoints") or {})
    missing = []
    for label, model in _teacher_models(raw).items():
        if model not in by_model:
            continue
        record = records.entries.get(by_model[model])
        if record is None:
            missing.append(by_model[model])
        elif label not in supplied:
            supplied[label] = {"path": str(records.path.parent / record["checkpoint"]), "sha256": record["sha256"]}
    if missing:
        raise SuiteError(
            f"{path}: teachers: published: {', '.join(missing)} not fetched (looked in {records.path}): run "
            f"`cskd teachers fetch --suite {path.stem}` (or set CSKD_DATA to the data folder that holds them)"
        )
    if not supplied:
        raise SuiteError(f"{path}: teachers: published: no pair's teacher is a published one ({', '.join(by_model)})")
    return {**raw, "teachers": [], "teacher_checkpoints": supplied}


def teacher_identity(run: Any) -> dict[str, Any]:
    """What runs.csv's ``teacher_model`` records of a run's teacher (a :class:`cskd.plan.RunSpec`): its model and
    arguments, and for a supplied checkpoint (a published teacher, a shipped one) the sha256 of that file."""
    identity = run.teacher_model.to_dict()
    if run.teacher_checkpoint is not None:
        identity["checkpoint_sha256"] = run.teacher_checkpoint.sha256
    return identity
