"""Test helpers: small archives in the official formats, built from real images of the CIFAR-10 JPEG copy, with the
release tables that match them, and an HTTP server on 127.0.0.1 (with ``Range`` support) to serve them.

CIFAR archives hold the official file names and pickle keys (``cifar-10-batches-py/data_batch_1..5``, ``test_batch``,
``batches.meta``; ``cifar-100-python/train``, ``test``, ``meta``); the Tiny ImageNet zip has the official layout
(``wnids.txt``, ``words.txt``, ``train/<wnid>/images/*.JPEG``, ``val/images`` with ``val_annotations.txt``, ``test/``);
``CUB_200_2011.tgz`` holds the CUB-200-2011 layout of ``cub_layout.py`` (the four metadata files and
``images/<class>/``) with a top-level ``attributes.txt`` beside the folder, as the official archive does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import pickle
import socket
import tarfile
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from cub_layout import write_cub_archive, write_cub_tree
from PIL import Image

from cskd.data import cifar, cub, tiny_imagenet
from cskd.data.remote import RemoteArchive

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def real_images(jpeg_root: Path, split: str, count: int, start: int = 0) -> tuple[np.ndarray, list[int]]:
    """``count`` real CIFAR-10 images ``[N, 32, 32, 3]`` of the JPEG copy's ``split``, classes taken in turn."""
    images, labels = [], []
    for i in range(start, start + count):
        label = i % len(CIFAR10_CLASSES)
        path = jpeg_root / split / CIFAR10_CLASSES[label] / f"{i // len(CIFAR10_CLASSES):04d}.jpg"
        with Image.open(path) as image:
            images.append(np.asarray(image.convert("RGB")))
        labels.append(label)
    return np.stack(images), labels


def _rows(images: np.ndarray) -> np.ndarray:
    """The official row format: uint8 ``[N, 3072]``, 1024 red values (row-major), then green, then blue."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), -1).copy()


def _pickle(path: Path, content: dict) -> None:
    path.write_bytes(pickle.dumps(content, protocol=2))


@dataclass(frozen=True)
class BuiltArchive:
    """An archive file, and the release table (checksums, sizes) that describes it, to substitute for the official."""

    path: Path
    release: object
    images: dict[str, np.ndarray] = field(default_factory=dict)  # split -> the images written, in file order


def _tar(source: Path, folder: str, archive: Path) -> None:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as bundle:
        bundle.add(source / folder, arcname=folder)


def cifar_archive(name: str, jpeg_root: Path, out_dir: Path, per_batch: int = 10, test: int = 10) -> BuiltArchive:
    """``cifar-10-python.tar.gz`` or ``cifar-100-python.tar.gz`` in ``out_dir``: the official layout and keys, with
    ``per_batch`` real images per training file and ``test`` test images, and the matching release table."""
    release = cifar.RELEASES[name]
    staging = out_dir / f".staging-{name}"
    folder = staging / release.folder
    folder.mkdir(parents=True)
    written: dict[str, list[np.ndarray]] = {"train": [], "test": []}
    offset = 0
    for split, files, count in (("train", release.train_files, per_batch), ("test", release.test_files, test)):
        for index, (file_name, _) in enumerate(files):
            images, labels = real_images(jpeg_root, split, count, start=offset)
            offset += count
            batch = {
                b"batch_label": f"{split} batch {index + 1} of {len(files)}".encode(),
                b"filenames": [f"image_{offset + i:05d}.png".encode() for i in range(count)],
                b"data": _rows(images),
            }
            if name == "cifar10":
                batch[b"labels"] = labels
            else:  # CIFAR-100: spread the real images over the 100 fine labels
                fine = [(offset + i) % 100 for i in range(count)]
                batch[b"fine_labels"], batch[b"coarse_labels"] = fine, [label // 5 for label in fine]
            _pickle(folder / file_name, batch)
            written[split].append(images)
    if name == "cifar10":
        meta = {b"num_cases_per_batch": 10000, b"label_names": [c.encode() for c in CIFAR10_CLASSES], b"num_vis": 3072}
        (folder / "readme.html").write_text("<html>test copy</html>")
    else:
        meta = {
            b"fine_label_names": [f"fine{i:03d}".encode() for i in range(100)],
            b"coarse_label_names": [f"coarse{i:02d}".encode() for i in range(20)],
        }
    _pickle(folder / release.meta_file[0], meta)
    archive = out_dir / release.archive.file_name
    _tar(staging, release.folder, archive)
    table = dataclasses.replace(
        release,
        archive=dataclasses.replace(release.archive, size=archive.stat().st_size, md5=md5(archive)),
        train_files=tuple((f, md5(folder / f)) for f, _ in release.train_files),
        test_files=tuple((f, md5(folder / f)) for f, _ in release.test_files),
        meta_file=(release.meta_file[0], md5(folder / release.meta_file[0])),
    )
    return BuiltArchive(archive, table, {split: np.concatenate(parts) for split, parts in written.items()})


TINY_WNIDS = ("n02124075", "n01443537", "n04067472")  # not sorted, as in the official wnids.txt


def tiny_imagenet_archive(jpeg_root: Path, out_dir: Path, train: int = 4, val: int = 2) -> BuiltArchive:
    """``tiny-imagenet-200.zip`` in ``out_dir`` with the official layout, three classes of real images (upscaled to
    64x64), and the matching (small) release table."""
    staging = out_dir / ".staging-tiny"
    root = staging / "tiny-imagenet-200"
    (root / "val" / "images").mkdir(parents=True)
    (root / "test" / "images").mkdir(parents=True)
    (root / "wnids.txt").write_text("".join(f"{w}\n" for w in TINY_WNIDS))
    (root / "words.txt").write_text("".join(f"{w}\tclass {w}\n" for w in TINY_WNIDS))
    images, _ = real_images(jpeg_root, "train", len(TINY_WNIDS) * (train + val) + 1)
    pictures = iter(Image.fromarray(image).resize((64, 64), Image.Resampling.BILINEAR) for image in images)
    annotations = []
    for wnid in TINY_WNIDS:
        (root / "train" / wnid / "images").mkdir(parents=True)
        for i in range(train):
            next(pictures).save(root / "train" / wnid / "images" / f"{wnid}_{i}.JPEG")
        (root / "train" / wnid / f"{wnid}_boxes.txt").write_text("")
    for i in range(len(TINY_WNIDS) * val):
        wnid = TINY_WNIDS[i % len(TINY_WNIDS)]
        next(pictures).save(root / "val" / "images" / f"val_{i}.JPEG")
        annotations.append(f"val_{i}.JPEG\t{wnid}\t0\t0\t63\t63\n")
    (root / "val" / "val_annotations.txt").write_text("".join(annotations))
    next(pictures).save(root / "test" / "images" / "test_0.JPEG")
    archive = out_dir / "tiny-imagenet-200.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted(root.rglob("*")):
            bundle.write(path, path.relative_to(staging).as_posix())
    official = tiny_imagenet.RELEASE
    table = dataclasses.replace(
        official,
        archive=dataclasses.replace(official.archive, size=archive.stat().st_size, md5=md5(archive)),
        num_classes=len(TINY_WNIDS),
        train_per_class=train,
        val_per_class=val,
    )
    return BuiltArchive(archive, table)


def cub_archive(data_dir: Path, out_dir: Path, num_classes: int = 3, train: int = 4, test: int = 2) -> BuiltArchive:
    """``CUB_200_2011.tgz`` in ``out_dir``: a CUB-layout tree of ``num_classes`` x (``train`` + ``test``) real images
    of the JPEG copy under ``data_dir`` (the tree stays in ``out_dir/.staging-cub/CUB_200_2011``), and the matching
    release table."""
    tree = write_cub_tree(out_dir / ".staging-cub", data_dir, num_classes=num_classes, train=train, test=test)
    archive = write_cub_archive(tree, out_dir / cub.RELEASE.archive.file_name)
    official = cub.RELEASE.archive
    table = dataclasses.replace(
        tree.release(), archive=dataclasses.replace(official, size=archive.stat().st_size, md5=md5(archive))
    )
    return BuiltArchive(archive, table)


#: the modules whose ``RELEASE`` is the release table of a single-release dataset
SINGLE_RELEASES = {"tiny-imagenet": tiny_imagenet, "cub200": cub}


def use_release(monkeypatch, name: str, built: BuiltArchive) -> None:
    """Make ``built``'s table the release of ``name`` for this test."""
    if name in SINGLE_RELEASES:
        monkeypatch.setattr(SINGLE_RELEASES[name], "RELEASE", built.release)
    else:
        monkeypatch.setitem(cifar.RELEASES, name, built.release)


def with_url(monkeypatch, name: str, url: str) -> None:
    """Point the official URL of ``name``'s archive at ``url`` (a test server) for this test."""
    if name in SINGLE_RELEASES:
        module = SINGLE_RELEASES[name]
        archive: RemoteArchive = dataclasses.replace(module.RELEASE.archive, url=url)
        monkeypatch.setattr(module, "RELEASE", dataclasses.replace(module.RELEASE, archive=archive))
    else:
        release = cifar.RELEASES[name]
        archive = dataclasses.replace(release.archive, url=url)
        monkeypatch.setitem(cifar.RELEASES, name, dataclasses.replace(release, archive=archive))


class ArchiveServer:
    """Serves the files of ``folder`` on 127.0.0.1 with ``Range`` support, recording ``(path, Range header)`` of every
    request. ``cut_after``: the next response stops after that many bytes and the connection closes (a dropped
    transfer); ``ignore_range``: answer every request with the whole file (a server that cannot resume)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.requests: list[tuple[str, str | None]] = []
        self.cut_after: int | None = None
        self.ignore_range = False
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("Range")))
                path = server.folder / self.path.lstrip("/")
                if not path.is_file():
                    self.send_error(404, "File not found")
                    return
                content = path.read_bytes()
                start = 0
                wanted = self.headers.get("Range")
                if wanted and not server.ignore_range:
                    start = int(wanted.removeprefix("bytes=").split("-")[0])
                    if start >= len(content):
                        self.send_error(416, "Requested Range Not Satisfiable")
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(content) - start))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                body = content[start:]
                if server.cut_after is not None:
                    body, server.cut_after = body[: server.cut_after], None
                    self.close_connection = True
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # keep the test output clean
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> ArchiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused: a machine without network access)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
