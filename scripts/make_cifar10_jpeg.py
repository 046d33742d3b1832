"""Rebuild the CIFAR-10 JPEG copy (``cifar10-jpeg``) from the official CIFAR-10 python release.

    python scripts/make_cifar10_jpeg.py [--data-dir DIR] [--out DIR] [--archive]

Reads the official release from the data directory (``cskd data fetch cifar10`` puts it there; every file is
md5-verified before it is unpickled) and writes ``OUT/cifar10-jpeg/{train,test}/<class>/NNNN.jpg``: each class's images
numbered from 0000 in the order they appear in the official files (``data_batch_1`` .. ``data_batch_5``, then
``test_batch``), encoded by Pillow as baseline JPEG at quality 75 with 4:2:0 chroma subsampling and the standard
Huffman tables. Those are the settings of the published copy (docs/data.md, "The JPEG copy"): its files carry
exactly the headers (quantisation and Huffman tables, sampling) that Pillow writes with them. The tree is written to a
staging folder and renamed into place at the end.

``--archive`` also writes ``OUT/cifar10-jpeg.tar.gz`` deterministically, the way the published archive was packed
(``cskd.data.tarstream``). Packing the copy's own files this way gives its tar stream exactly, and with gzip 1.12 its
sha256.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from PIL import Image

from cskd.data.errors import DatasetError
from cskd.data.files import resolve_data_dir
from cskd.data.registry import get_source
from cskd.data.tarstream import pack, tar_bytes

__all__ = ["main", "pack", "tar_bytes", "write_tree"]

FOLDER = "cifar10-jpeg"
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
