"""The images of the CIFAR-10 JPEG copy that the CPU-scale suites use, shipped with cskd.

The ci, quick and smoke-profile suites train on stratified subsets (``cskd.data.subset``, seed 0) of ``cifar10-jpeg``.
With one seed, the subsets of every size are nested (each class's images are a prefix of one permutation drawn from
the same generator), so the largest one, 6,000 train and 2,000 test images (Table 1's smoke profile), holds every
smaller one.
``cskd/data/shipped_images/cifar10-jpeg-subset.tar.gz`` carries exactly those files, with their original JPEG bytes and
names (``cifar10-jpeg/train/<class>/NNNN.jpg``), packed by :mod:`cskd.data.tarstream`; its sha256 is
:data:`~cskd.data.cifar10_jpeg.SHIPPED_SUBSET`'s and ``cifar10-jpeg-subset.sha256`` lists every file's
(``sha256sum -c`` format). ``scripts/make_shipped_subset.py`` rebuilds both from the full copy.

:func:`load_subset` is how the runs get their data: from the full copy when it is in the data directory, else, for a
subset the shipped files hold, from them. Decoding the same bytes gives the same pixels, so the dataset's name, its
content sha256 (runs.csv's ``data_sha256``) and every run id are those of the full copy.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

from cskd.data import cifar10_jpeg
from cskd.data.augment import CIFAR10_AUGMENT
from cskd.data.errors import DatasetIntegrityError
from cskd.data.files import resolve_data_dir
from cskd.data.registry import load_dataset

if TYPE_CHECKING:  # the images are read with torch, numpy and PIL; whether they are shipped is known without them
    import numpy as np

    from cskd.data.dataset import ImageDataset

SPLITS = ("train", "test")


def subset_members(split: str, count: int, seed: int) -> tuple[list[str], list[int]]:
    """Archive names (``cifar10-jpeg/train/cat/0042.jpg``) and labels of the ``count`` images of ``split`` that
    :func:`cskd.data.subset.subset` picks with ``seed`` from the full copy, in its order.

    The full copy lists each split class by class and, within a class, by file name ``0000.jpg``, ``0001.jpg``, ...:
    image ``i`` is file ``i mod n`` of class ``i div n`` (``n`` images per class), so the labels are known without it.
    """
    import torch

    from cskd.data.seeds import generator
    from cskd.data.subset import stratified_indices

    copy = cifar10_jpeg.CIFAR10_JPEG
    per_class = copy.train_per_class if split == "train" else copy.test_per_class
    labels = torch.arange(len(copy.classes)).repeat_interleave(per_class)
    keep = stratified_indices(labels, count, len(copy.classes), generator(seed, "subset", split)).tolist()
    names = [f"{copy.folder}/{split}/{copy.classes[i // per_class]}/{i % per_class:04d}.jpg" for i in keep]
    return names, [i // per_class for i in keep]


def covers(train: int | None, test: int | None, seed: int) -> bool:
    """Whether the shipped files hold the subset (``None``: the whole split, never shipped)."""
    shipped = cifar10_jpeg.SHIPPED_SUBSET
    if seed != shipped.seed or train is None or test is None:
        return False
    return train <= shipped.train and test <= shipped.test


def shipped_detail(name: str, train: int | None, test: int | None, seed: int = 0) -> str:
    """Where the subset ``(train, test, seed)`` of ``name`` comes from when the shipped files hold it ("" otherwise)."""
    shipped = cifar10_jpeg.SHIPPED_SUBSET
    if name != cifar10_jpeg.Cifar10JpegSource.name or not covers(train, test, seed) or not shipped.archive.is_file():
        return ""
    return f"{shipped.archive} (the images of its subsets shipped with cskd; the full copy is not needed)"


def read_members(archive: Path, sha256: str) -> dict[str, bytes]:
    """Every file of the shipped archive by name, after checking the archive's sha256."""
    data = archive.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise DatasetIntegrityError(
            f"{archive} is damaged: sha256 {actual}, expected {sha256}. Restore it from the repository "
            f"(`git checkout -- {archive.name}` in its folder) or reinstall cskd."
        )
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as bundle:
        return {m.name: bundle.extractfile(m).read() for m in bundle.getmembers() if m.isfile()}


def decode_jpeg(data: bytes) -> np.ndarray:
    """One image as uint8 ``[H, W, 3]``, decoded as :func:`cskd.data.decode.decode_images` decodes a file."""
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def load_shipped(train: int, test: int, seed: int) -> ImageDataset:
    """The subset ``(train, test, seed)`` of ``cifar10-jpeg`` read from the shipped files (see :func:`covers`)."""
    import numpy as np
    import torch

    from cskd.data.dataset import Decoded, ImageDataset
    from cskd.data.subset import subset_description, subset_name

    shipped = cifar10_jpeg.SHIPPED_SUBSET
    members = read_members(shipped.archive, shipped.sha256)
    tensors = []
    for split, count in zip(SPLITS, (train, test), strict=True):
        names, labels = subset_members(split, count, seed)
        missing = [name for name in names if name not in members]
        if missing:
            raise DatasetIntegrityError(
                f"{shipped.archive} lacks {len(missing)} image(s) of the {split} subset "
                f"({', '.join(missing[:3])}, ...): rebuild it with scripts/make_shipped_subset.py"
            )
        pixels = np.stack([decode_jpeg(members[name]) for name in names])
        tensors += [torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous(), torch.tensor(labels)]
    decoded = Decoded(list(cifar10_jpeg.CIFAR10_JPEG.classes), *tensors)
    return ImageDataset.from_decoded(
        name=subset_name(cifar10_jpeg.Cifar10JpegSource.name, train, test, seed),
        source=(
            f"{cifar10_jpeg.DESCRIPTION}, the images shipped with cskd ({shipped.archive.name}); "
            f"{subset_description(train, test, seed)}"
        ),
        decoded=decoded,
        augment=CIFAR10_AUGMENT,
        sha256=decoded.sha256(),
    )


def load_subset(
    name: str, data_dir: Path | str | None, train: int | None, test: int | None, seed: int = 0
) -> ImageDataset:
    """``subset(load_dataset(name, data_dir), train, test, seed)``; for ``cifar10-jpeg`` without its full copy in the
    data directory, the same images from the shipped files when they hold the subset."""
    from cskd.data.subset import subset

    full_copy = cifar10_jpeg.Cifar10JpegSource().full_copy_present(resolve_data_dir(data_dir))
    if shipped_detail(name, train, test, seed) and not full_copy:
        return load_shipped(train, test, seed)
    return subset(load_dataset(name, data_dir), train, test, seed)
