"""Decoding image files into one uint8 array with Pillow, in parallel worker processes, with a progress bar.

Every image is read inside the same error handling, the first one included: the decode goes through all of them and
then names every file that could not be read (or has another size), not just the first.
"""

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
SHOWN_PROBLEMS = 20  # unreadable files listed in the error; the count says how many more
#: what Pillow raises for an unreadable file: UnidentifiedImageError and truncated files are OSErrors, some broken
#: files raise SyntaxError or ValueError, oversized ones DecompressionBombError
UNREADABLE = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


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


def _read_or_problem(path: str, size: tuple[int, int] | None, fit: str = "stretch") -> np.ndarray | str:
    """The image, or what is wrong with it, naming the file."""
    try:
        return _read_rgb(path, size, fit)
    except UNREADABLE as error:
        return f"cannot decode image {path}: {type(error).__name__}: {error}"


def _decode_chunk(
    task: tuple[list[str], tuple[int, int] | None, tuple[int, int], str],
) -> tuple[np.ndarray, list[str]]:
    """Decode a chunk of files into ``[n, H, W, 3]`` (every image must come out at ``shape``, height and width), and
    the problems of the files that could not be."""
    paths, size, shape, fit = task
    out = np.zeros((len(paths), *shape, 3), dtype=np.uint8)
    problems = []
    for i, path in enumerate(paths):
        pixels = _read_or_problem(path, size, fit)
        if isinstance(pixels, str):
            problems.append(pixels)
        elif pixels.shape[:2] != shape:
            problems.append(
                f"image {path} is {pixels.shape[1]}x{pixels.shape[0]}, but the first image of the set is "
                f"{shape[1]}x{shape[0]}; images must share one size (resize them first)"
            )
        else:
            out[i] = pixels
    return out, problems


def _first_shape(paths: Sequence[Path], desc: str) -> tuple[int, int]:
    """(height, width) of the first readable image; when none is readable, an error naming them."""
    problems = []
    for path in paths:
        pixels = _read_or_problem(str(path), None)
        if not isinstance(pixels, str):
            return pixels.shape[:2]
        problems.append(pixels)
    raise _integrity_error(problems, desc)


def _integrity_error(problems: list[str], desc: str) -> DatasetIntegrityError:
    shown = "\n".join(f"  {problem}" for problem in problems[:SHOWN_PROBLEMS])
    more = f"\n  ... and {len(problems) - SHOWN_PROBLEMS} more" if len(problems) > SHOWN_PROBLEMS else ""
    return DatasetIntegrityError(
        f"{desc}: {len(problems)} image(s) cannot be used:\n{shown}{more}\n"
        f"Replace or remove these files (or supply the dataset again)."
    )


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
    shape = (size, size) if size is not None else _first_shape(paths, desc)
    tasks = [([str(p) for p in paths[i : i + CHUNK]], target, shape, fit) for i in range(0, len(paths), CHUNK)]
    out = np.empty((len(paths), *shape, 3), dtype=np.uint8)
    workers = decode_workers() if len(paths) >= SERIAL_BELOW else 1
    with tqdm(total=len(paths), desc=desc, unit="img", leave=False, disable=None) as bar:
        if workers == 1:
            problems = _fill(out, map(_decode_chunk, tasks), bar)
        else:
            context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
            with context.Pool(workers) as pool:
                problems = _fill(out, pool.imap(_decode_chunk, tasks), bar)
    if problems:
        raise _integrity_error(problems, desc)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def _fill(out: np.ndarray, chunks: Iterable[tuple[np.ndarray, list[str]]], bar: tqdm) -> list[str]:
    """Copy decoded chunks into ``out`` in order, advancing the progress bar; the problems of every chunk."""
    start, problems = 0, []
    for chunk, chunk_problems in chunks:
        out[start : start + len(chunk)] = chunk
        start += len(chunk)
        problems += chunk_problems
        bar.update(len(chunk))
    return problems
