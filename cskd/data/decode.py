"""Decoding image files into one uint8 array with Pillow, in parallel worker processes, with a progress bar."""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from cskd.data.errors import DatasetIntegrityError

CHUNK = 500  # images per worker task
SERIAL_BELOW = 2000  # smaller jobs are decoded in this process: starting workers would cost more than it saves
MAX_WORKERS = 8


#: how an image is brought to ``size`` x ``size``: "stretch" resizes both sides to ``size``; "centre" resizes the
#: shorter side to ``size`` (the longer in proportion, truncated) and keeps the centre square, exactly torchvision's
#: ``Resize(size)`` then ``CenterCrop(size)`` on PIL images
FITS = ("stretch", "centre")


def _read_rgb(path: str, size: tuple[int, int] | None, fit: str = "stretch") -> np.ndarray:
    """One image as uint8 ``[H, W, 3]``; resized to ``size`` (width, height) with Pillow's bilinear filter, which
    antialiases when shrinking, the filter torchvision's ``Resize`` applies to PIL images (``fit``: see FITS)."""
    with Image.open(path) as image:
        rgb = image.convert("RGB")
    if size is not None and fit == "centre":
        rgb = _shorter_side_centre(rgb, size[0])
    elif size is not None and rgb.size != size:
        rgb = rgb.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(rgb)


def _shorter_side_centre(rgb: Image.Image, side: int) -> Image.Image:
    """torchvision's ``Resize(side)`` (shorter side to ``side``, longer ``int(side * long / short)``) then
    ``CenterCrop(side)`` (offsets ``round((length - side) / 2)``, half to even)."""
    width, height = rgb.size
    resized = (side, int(side * height / width)) if width <= height else (int(side * width / height), side)
    if resized != rgb.size:
        rgb = rgb.resize(resized, Image.Resampling.BILINEAR)
    left, top = round((resized[0] - side) / 2), round((resized[1] - side) / 2)
    return rgb.crop((left, top, left + side, top + side))


def _decode_chunk(task: tuple[list[str], tuple[int, int] | None, tuple[int, int], str]) -> np.ndarray:
    """Decode a chunk of files into ``[n, H, W, 3]``; every image must come out at ``shape`` (height, width)."""
    paths, size, shape, fit = task
    out = np.empty((len(paths), *shape, 3), dtype=np.uint8)
    for i, path in enumerate(paths):
        try:
            pixels = _read_rgb(path, size, fit)
        except OSError as error:  # Pillow's UnidentifiedImageError and truncated files are OSErrors
            raise DatasetIntegrityError(f"cannot decode image {path}: {error}") from None
        if pixels.shape[:2] != shape:
            raise DatasetIntegrityError(
                f"image {path} is {pixels.shape[1]}x{pixels.shape[0]}, but the first image of the set is "
                f"{shape[1]}x{shape[0]}; images must share one size (resize them first)"
            )
        out[i] = pixels
    return out


def decode_workers() -> int:
    """Worker processes for decoding: the CPUs this process may use, at most :data:`MAX_WORKERS`."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(available, MAX_WORKERS))


def decode_images(paths: Sequence[Path], size: int | None, desc: str, fit: str = "stretch") -> torch.Tensor:
    """Decode ``paths`` into a uint8 tensor ``[N, 3, H, W]``, in order.

    ``size``: bring every image to ``size`` x ``size`` as ``fit`` says (see FITS); ``None`` keeps the stored size,
    which must then be the same for every image. Large jobs run on a pool of worker processes (forked on Linux, so
    workers need no re-import).
    """
    if not paths:
        raise ValueError(f"{desc}: no images to decode")
    if fit not in FITS:
        raise ValueError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    target = (size, size) if size is not None else None
    shape = (size, size) if size is not None else _read_rgb(str(paths[0]), None).shape[:2]
    tasks = [([str(p) for p in paths[i : i + CHUNK]], target, shape, fit) for i in range(0, len(paths), CHUNK)]
    out = np.empty((len(paths), *shape, 3), dtype=np.uint8)
    workers = decode_workers() if len(paths) >= SERIAL_BELOW else 1
    with tqdm(total=len(paths), desc=desc, unit="img", leave=False, disable=None) as bar:
        if workers == 1:
            _fill(out, map(_decode_chunk, tasks), bar)
        else:
            context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
            with context.Pool(workers) as pool:
                _fill(out, pool.imap(_decode_chunk, tasks), bar)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def _fill(out: np.ndarray, chunks: Iterable[np.ndarray], bar: tqdm) -> None:
    """Copy decoded chunks into ``out`` in order, advancing the progress bar."""
    start = 0
    for chunk in chunks:
        out[start : start + len(chunk)] = chunk
        start += len(chunk)
        bar.update(len(chunk))
