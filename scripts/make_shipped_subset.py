"""Rebuild the shipped subset of the CIFAR-10 JPEG copy (``cskd/data/shipped_images/``) from the full copy.

    python scripts/make_shipped_subset.py [--data-dir DIR]

Takes from ``DIR/cifar10-jpeg`` (default ``$CSKD_DATA``) the files of the stratified subset of
``SHIPPED_SUBSET.train`` / ``.test`` images with its seed (``cskd.data.shipped.subset_members``: what
``cskd.data.subset.subset`` picks), copies their bytes unchanged into ``cifar10-jpeg/{train,test}/<class>/NNNN.jpg``,
and writes ``cifar10-jpeg-subset.tar.gz`` (packed by ``cskd.data.tarstream``: the same files give the same bytes) and
``cifar10-jpeg-subset.sha256`` (every file's sha256, ``sha256sum -c`` format). Prints the archive's sha256, which
``cskd.data.cifar10_jpeg.SHIPPED_SUBSET`` must name.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
from pathlib import Path

from cskd.data.cifar10_jpeg import CIFAR10_JPEG, SHIPPED_SUBSET
from cskd.data.files import resolve_data_dir
from cskd.data.shipped import SPLITS, subset_members
from cskd.data.tarstream import gzip_bytes, tar_bytes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="holds the full cifar10-jpeg/ ($CSKD_DATA)")
    args = parser.parse_args(argv)
    data_dir, shipped = resolve_data_dir(args.data_dir), SHIPPED_SUBSET
    names = []
    for split, count in zip(SPLITS, (shipped.train, shipped.test), strict=True):
        names += subset_members(split, count, shipped.seed)[0]
    with tempfile.TemporaryDirectory() as staging:
        tree = Path(staging) / CIFAR10_JPEG.folder
        lines = []
        for name in sorted(names):
            source, target = data_dir / name, Path(staging) / name
            if not source.is_file():
                print(f"error: {source} is missing: the full copy must be in {data_dir} (cskd data fetch cifar10-jpeg)")
                return 2
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            lines.append(f"{hashlib.sha256(target.read_bytes()).hexdigest()}  {name}\n")
        archive = gzip_bytes(tar_bytes(tree))
    shipped.archive.parent.mkdir(parents=True, exist_ok=True)
    shipped.archive.write_bytes(archive)
    shipped.archive.with_suffix("").with_suffix(".sha256").write_text("".join(lines))
    print(
        f"wrote {shipped.archive} ({len(archive):,} bytes, {len(names)} images): sha256 "
        f"{hashlib.sha256(archive).hexdigest()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
