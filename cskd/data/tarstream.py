"""Deterministic archives of an image tree: the same files always give the same bytes.

The rule the CIFAR-10 JPEG copy was packed by (``scripts/make_cifar10_jpeg.py``): GNU tar format, entries in sorted
path order, owner 0:0 without names, mtime 2020-01-01, modes 755 (top folder), 775 (other folders) and 664 (files),
compressed by ``gzip -9n`` (Python's zlib where no ``gzip`` program exists: still deterministic, but other bytes).
Since the tar stream depends only on the file names and contents, its sha256 verifies a whole tree at once, however
it was delivered.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import zlib
from pathlib import Path

MTIME = 1577836800  # 2020-01-01T00:00:00Z


def tree_entries(tree: Path) -> list[tuple[Path, str]]:
    """Every folder and file of ``tree`` with its archive name, in sorted path order (as ``tar --sort=name``)."""
    found = []
    for directory, folders, files in os.walk(tree):
        folders.sort()
        found.append(Path(directory))
        found += [Path(directory, name) for name in sorted(files)]
    return [(path, (Path(tree.name) / path.relative_to(tree)).as_posix()) for path in found]


def tar_bytes(tree: Path) -> bytes:
    """``tree`` as an uncompressed GNU tar stream: sorted entries, owner 0:0, fixed mtime and modes."""
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w", format=tarfile.GNU_FORMAT) as bundle:
        for path, name in tree_entries(tree):
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


def gzip_bytes(data: bytes) -> bytes:
    """``gzip -9n`` of ``data``; without a gzip program, zlib at level 9 with the same header (other bytes)."""
    program = shutil.which("gzip")
    if program:
        return subprocess.run([program, "-9n"], input=data, capture_output=True, check=True).stdout
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS, 9)
    body = compressor.compress(data) + compressor.flush()
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03"  # no name, mtime 0, maximum compression, Unix
    return header + body + zlib.crc32(data).to_bytes(4, "little") + (len(data) & 0xFFFFFFFF).to_bytes(4, "little")


def pack(tree: Path, archive: Path) -> None:
    """Write ``tree`` as a deterministic ``.tar.gz``."""
    archive.write_bytes(gzip_bytes(tar_bytes(tree)))
