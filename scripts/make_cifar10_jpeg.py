"""Rebuild the CIFAR-10 JPEG copy (``cifar10-jpeg``) from the official CIFAR-10 python release.

    python scripts/make_cifar10_jpeg.py [--data-dir DIR] [--out DIR] [--archive]

Reads the official release from the data directory (``cskd data fetch cifar10`` puts it there; every file is
md5-verified before it is unpickled) and writes ``OUT/cifar10-jpeg/{train,test}/<class>/NNNN.jpg``: each class's images
numbered from 0000 in the order they appear in the official files (``data_batch_1`` .. ``data_batch_5``, then
``test_batch``), encoded by Pillow as baseline JPEG at quality 75 with 4:2:0 chroma subsampling and the standard
Huffman tables. Those are the settings of the copy in ``shared/data`` (docs/data.md, "The JPEG copy"): its files carry
exactly the headers (quantisation and Huffman tables, sampling) that Pillow writes with them. The tree is written to a
staging folder and renamed into place at the end.

``--archive`` also writes ``OUT/cifar10-jpeg.tar.gz`` deterministically, the way the shared archive was packed: GNU tar
format, entries in sorted path order, owner 0:0 without names, mtime 2020-01-01, modes 755 (top folder), 775 (other
folders) and 664 (files), compressed by ``gzip -9n`` (Python's zlib where no ``gzip`` program exists: still
deterministic, but other bytes). Packing the shared copy's own files this way gives its tar stream exactly, and with
gzip 1.12 its sha256.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zlib
from pathlib import Path

from PIL import Image

from cskd.data.errors import DatasetError
from cskd.data.files import resolve_data_dir
from cskd.data.registry import get_source

FOLDER = "cifar10-jpeg"
MTIME = 1577836800  # 2020-01-01T00:00:00Z
JPEG_SETTINGS = {"quality": 75, "subsampling": "4:2:0", "optimize": False, "progressive": False}


def write_tree(data_dir: Path, out: Path) -> Path:
    """Decode the official release in ``data_dir`` and write the JPEG tree ``out/cifar10-jpeg``; returns it."""
    source = get_source("cifar10")
    decoded = source.decode(source.locate(data_dir))  # md5-verifies every file first
    target = out / FOLDER
    if target.exists():
        raise FileExistsError(f"{target} already exists; remove it or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{FOLDER}-", dir=out))
    try:
        for split, images, labels in (
            ("train", decoded.train_images, decoded.train_labels),
            ("test", decoded.test_images, decoded.test_labels),
        ):
            counts = [0] * len(decoded.classes)
            for cls in decoded.classes:
                (staging / split / cls).mkdir(parents=True)
            for image, label in zip(images.permute(0, 2, 3, 1).numpy(), labels.tolist(), strict=True):
                path = staging / split / decoded.classes[label] / f"{counts[label]:04d}.jpg"
                Image.fromarray(image).save(path, "JPEG", **JPEG_SETTINGS)
                counts[label] += 1
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _entries(tree: Path) -> list[tuple[Path, str]]:
    """Every folder and file of ``tree`` with its archive name, in sorted path order (as ``tar --sort=name``)."""
    found = []
    for directory, folders, files in os.walk(tree):
        folders.sort()
        found.append(Path(directory))
        found += [Path(directory, name) for name in sorted(files)]
    return [(path, (Path(tree.name) / path.relative_to(tree)).as_posix()) for path in found]


def pack(tree: Path, archive: Path) -> None:
    """Write ``tree`` as a deterministic ``.tar.gz`` (see the module docstring)."""
    archive.write_bytes(_gzip(tar_bytes(tree)))


def tar_bytes(tree: Path) -> bytes:
    """``tree`` as an uncompressed GNU tar stream: sorted entries, owner 0:0, fixed mtime and modes."""
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w", format=tarfile.GNU_FORMAT) as bundle:
        for path, name in _entries(tree):
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = MTIME, 0, 0, "", ""
            if path.is_dir():
                info.type, info.mode = tarfile.DIRTYPE, 0o755 if path == tree else 0o775
                bundle.addfile(info)
            else:
                info.mode, info.size = 0o664, path.stat().st_size
                with path.open("rb") as content:
                    bundle.addfile(info, content)
    return stream.getvalue()


def _gzip(data: bytes) -> bytes:
    """``gzip -9n`` of ``data``; without a gzip program, zlib at level 9 with the same header (other bytes)."""
    program = shutil.which("gzip")
    if program:
        return subprocess.run([program, "-9n"], input=data, capture_output=True, check=True).stdout
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS, 9)
    body = compressor.compress(data) + compressor.flush()
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03"  # no name, mtime 0, maximum compression, Unix
    return header + body + zlib.crc32(data).to_bytes(4, "little") + (len(data) & 0xFFFFFFFF).to_bytes(4, "little")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="holds the official release ($CSKD_DATA)")
    parser.add_argument("--out", type=Path, default=Path("."), help="where cifar10-jpeg/ is written (default .)")
    parser.add_argument("--archive", action="store_true", help="also write OUT/cifar10-jpeg.tar.gz")
    args = parser.parse_args(argv)
    try:
        tree = write_tree(resolve_data_dir(args.data_dir), args.out)
    except (FileExistsError, DatasetError) as error:
        print(f"error: {error}")
        return 2
    print(f"wrote {tree}")
    if args.archive:
        pack(tree, args.out / f"{FOLDER}.tar.gz")
        print(f"wrote {args.out / f'{FOLDER}.tar.gz'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
