"""The data layer: dataset resolution and verification on synthetic official layouts, the real CIFAR-10 JPEG copy,
the device loader's augmentation statistics and determinism, and stratified subsets."""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
import tarfile
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cskd.data import (
    AugmentSpec,
    DatasetError,
    DatasetIntegrityError,
    DatasetNotFoundError,
    DeviceLoader,
    ImageDataset,
    UnknownDatasetError,
    cifar,
    cifar10_jpeg,
    dataset_input_size,
    dataset_status,
    load_dataset,
    resolve_data_dir,
    subset,
    tiny_imagenet,
)
from cskd.data.augment import CIFAR10_AUGMENT, CIFAR100_AUGMENT, TINY_IMAGENET_AUGMENT
from cskd.data.dataset import Decoded

# ---------------------------------------------------------------- synthetic official CIFAR releases


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def write_cifar(data_dir: Path, name: str, per_file: int = 6) -> dict[str, np.ndarray]:
    """The official python layout of ``name`` with ``per_file`` random images per batch file; the release table must
    then be patched with these files' checksums (:func:`patch_checksums`). Returns the data and labels written."""
    release = cifar.RELEASES[name]
    folder = data_dir / release.folder
    folder.mkdir(parents=True)
    num_classes = 10 if name == "cifar10" else 100
    rng = np.random.default_rng(0)
    written: dict[str, np.ndarray] = {}
    for file_name, _ in (*release.train_files, *release.test_files):
        data = rng.integers(0, 256, (per_file, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, num_classes, per_file)]
        batch = {b"data": data, release.labels_key: labels, b"batch_label": file_name.encode()}
        if name == "cifar100":
            batch[b"coarse_labels"] = [v // 5 for v in labels]
        (folder / file_name).write_bytes(pickle.dumps(batch))
        written[file_name] = (data, np.array(labels))
    class_names = [f"class{i:03d}".encode() for i in range(num_classes)]
    (folder / release.meta_file[0]).write_bytes(pickle.dumps({release.class_names_key: class_names}))
    return written


def patch_checksums(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path, name: str, archive: Path | None = None, archive_md5: str = ""
) -> None:
    """Substitute the checksums of the files written under ``data_dir`` (and of ``archive``, whose md5 may be given
    instead) for the official ones."""
    release = cifar.RELEASES[name]
    folder = data_dir / release.folder
    remote = release.archive
    if archive is not None:
        remote = dataclasses.replace(remote, size=archive.stat().st_size, md5=archive_md5 or md5(archive))
    real = dataclasses.replace(
        release,
        train_files=tuple((f, md5(folder / f)) for f, _ in release.train_files),
        test_files=tuple((f, md5(folder / f)) for f, _ in release.test_files),
        meta_file=(release.meta_file[0], md5(folder / release.meta_file[0])),
        archive=remote,
    )
    monkeypatch.setitem(cifar.RELEASES, name, real)


@pytest.mark.parametrize(("name", "augment"), [("cifar10", CIFAR10_AUGMENT), ("cifar100", CIFAR100_AUGMENT)])
def test_official_cifar_pickles_load_verified_and_cached(tmp_path, monkeypatch, name, augment):
    written = write_cifar(tmp_path, name)
    patch_checksums(monkeypatch, tmp_path, name)
    ds = load_dataset(name, tmp_path)
    release = cifar.RELEASES[name]
    train = [written[f] for f, _ in release.train_files]
    expected_train = np.concatenate([d for d, _ in train]).reshape(-1, 3, 32, 32)
    (test_data, test_labels) = written[release.test_files[0][0]]
    assert ds.name == name
    assert "md5-verified" in ds.source
    assert ds.classes[:2] == ["class000", "class001"] and ds.num_classes == (10 if name == "cifar10" else 100)
    assert ds.train_images.dtype == torch.uint8 and ds.train_labels.dtype == torch.int64
    assert torch.equal(ds.train_images, torch.from_numpy(expected_train))  # rows: 1024 red, 1024 green, 1024 blue
    assert torch.equal(ds.train_labels, torch.from_numpy(np.concatenate([lab for _, lab in train])))
    assert torch.equal(ds.test_images, torch.from_numpy(test_data.reshape(-1, 3, 32, 32)))
    assert torch.equal(ds.test_labels, torch.from_numpy(test_labels))
    assert ds.augment == augment and ds.input_size == (3, 32, 32)
    assert ds.sha256 == Decoded(ds.classes, ds.train_images, ds.train_labels, ds.test_images, ds.test_labels).sha256()
    assert len(list((tmp_path / ".cache").glob(f"{name}-*.pt"))) == 1

    def no_decode(self, located):
        raise AssertionError("a second load must come from the cache")

    monkeypatch.setattr(cifar.CifarSource, "decode", no_decode)
    again = load_dataset(name, tmp_path)
    assert again.sha256 == ds.sha256 and torch.equal(again.train_images, ds.train_images)


def test_corrupt_cifar_file_names_file_and_both_md5s(tmp_path, monkeypatch):
    write_cifar(tmp_path, "cifar10")
    patch_checksums(monkeypatch, tmp_path, "cifar10")
    load_dataset("cifar10", tmp_path)  # fills the cache: a corrupted file must still be caught afterwards
    target = tmp_path / "cifar-10-batches-py" / "data_batch_2"
    expected = md5(target)
    content = bytearray(target.read_bytes())
    content[-10] ^= 0xFF
    target.write_bytes(bytes(content))
    with pytest.raises(DatasetIntegrityError) as error:
        load_dataset("cifar10", tmp_path)
    message = str(error.value)
    assert str(target) in message and expected in message and md5(target) in message


def test_cifar_archive_is_verified_then_extracted(tmp_path, monkeypatch, capsys):
    source = tmp_path / "source"
    write_cifar(source, "cifar10")
    archive = tmp_path / "data" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as bundle:
        bundle.add(source / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    patch_checksums(monkeypatch, source, "cifar10", archive, archive_md5="0" * 32)
    with pytest.raises(DatasetIntegrityError, match=r"cifar-10-python\.tar\.gz"):
        load_dataset("cifar10", archive.parent)
    assert not (archive.parent / "cifar-10-batches-py").exists()

    patch_checksums(monkeypatch, source, "cifar10", archive)
    ds = load_dataset("cifar10", archive.parent)
    assert (archive.parent / "cifar-10-batches-py" / "data_batch_5").is_file()
    assert "extracting" in capsys.readouterr().err
    assert ds.train_images.shape == (30, 3, 32, 32) and ds.test_images.shape == (6, 3, 32, 32)


def test_unreadable_cache_is_replaced_by_a_fresh_decode(tmp_path, monkeypatch, capsys):
    write_cifar(tmp_path, "cifar10")
    patch_checksums(monkeypatch, tmp_path, "cifar10")
    first = load_dataset("cifar10", tmp_path)
    (cache,) = (tmp_path / ".cache").glob("cifar10-*.pt")
    cache.write_bytes(b"not a cache")
    again = load_dataset("cifar10", tmp_path)
    assert "unreadable decode cache" in capsys.readouterr().err
    assert again.sha256 == first.sha256 and cache.stat().st_size > 1000


# ---------------------------------------------------------------- errors and resolution


@pytest.mark.parametrize(
    ("name", "places", "hint"),
    [
        ("cifar10", ["cifar-10-batches-py", "cifar-10-python.tar.gz"], "https://www.cs.toronto.edu/~kriz/cifar-10"),
        ("cifar100", ["cifar-100-python", "cifar-100-python.tar.gz"], "https://www.cs.toronto.edu/~kriz/cifar-100"),
        ("cifar10-jpeg", ["cifar10-jpeg", "cifar10-jpeg.tar.gz"], "`cskd data fetch cifar10-jpeg`"),
        ("tiny-imagenet", ["tiny-imagenet-200", "tiny-imagenet-200.zip"], "tiny-imagenet-200.zip"),
        ("cub200", ["CUB_200_2011", "CUB_200_2011.tgz"], "https://data.caltech.edu/records/65de6-vp158"),
    ],
)
def test_missing_data_names_every_place_looked(tmp_path, name, places, hint):
    with pytest.raises(DatasetNotFoundError) as error:
        load_dataset(name, tmp_path)
    assert isinstance(error.value, FileNotFoundError)
    message = str(error.value)
    for place in places:
        assert str(tmp_path / place) in message
    assert hint in message
    assert not any(tmp_path.iterdir()), "a failed lookup must not create anything"


def test_missing_imagefolder_split_names_the_places(tmp_path):
    (tmp_path / "tree" / "train" / "a").mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError) as error:
        load_dataset(f"imagefolder:{tmp_path / 'tree'}", tmp_path)
    assert str(tmp_path / "tree" / "test") in str(error.value) and str(tmp_path / "tree" / "val") in str(error.value)


def test_unknown_dataset_lists_close_names():
    with pytest.raises(UnknownDatasetError, match="cifar10") as error:
        load_dataset("cifar-10")
    assert "imagefolder:PATH" in str(error.value)


def test_data_dir_resolution_order(tmp_path, monkeypatch):
    monkeypatch.setenv("CSKD_DATA", str(tmp_path / "env"))
    assert resolve_data_dir(None) == tmp_path / "env"
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("CSKD_DATA")
    monkeypatch.chdir(tmp_path)
    assert resolve_data_dir(None) == tmp_path / "data"


def test_dataset_status_reports_present_and_missing(tmp_path):
    write_cifar(tmp_path, "cifar100")
    status = {name: (present, where) for name, present, where in dataset_status(tmp_path)}
    assert set(status) == {"cifar10", "cifar100", "cifar10-jpeg", "tiny-imagenet", "cub200"}
    assert status["cifar100"] == (True, str(tmp_path / "cifar-100-python"))
    assert status["cifar10"][0] is False and "cifar-10-python.tar.gz" in status["cifar10"][1]


# ---------------------------------------------------------------- image trees


def save_image(path: Path, color: tuple[int, int, int], size: tuple[int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, quality=95)


TIN_COLORS = {"n0300": (200, 30, 30), "n0100": (30, 200, 30), "n0200": (30, 30, 200)}


def write_tiny_imagenet(data_dir: Path) -> dict[str, str]:
    """Official layout, 3 classes, 2 train and 2 val JPEGs (64x64, one colour per class); returns val file -> wnid."""
    root = data_dir / "tiny-imagenet-200"
    root.mkdir(parents=True)
    (root / "wnids.txt").write_text("\n".join(TIN_COLORS) + "\n")  # not sorted, as in the official file
    for wnid, color in TIN_COLORS.items():
        for i in range(2):
            save_image(root / "train" / wnid / "images" / f"{wnid}_{i}.JPEG", color, (64, 64))
        (root / "train" / wnid / f"{wnid}_boxes.txt").write_text("")
    annotations = {f"val_{i}.JPEG": wnid for i, wnid in enumerate([*TIN_COLORS, *reversed(TIN_COLORS)])}
    for file, wnid in annotations.items():
        save_image(root / "val" / "images" / file, TIN_COLORS[wnid], (64, 64))
    lines = [f"{file}\t{wnid}\t0\t0\t63\t63" for file, wnid in annotations.items()]
    (root / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return annotations


@pytest.fixture
def small_tiny_imagenet(monkeypatch):
    small = dataclasses.replace(tiny_imagenet.RELEASE, num_classes=3, train_per_class=2, val_per_class=2)
    monkeypatch.setattr(tiny_imagenet, "RELEASE", small)


def test_tiny_imagenet_labels_val_from_annotations_and_resizes_to_72(tmp_path, small_tiny_imagenet):
    annotations = write_tiny_imagenet(tmp_path)
    ds = load_dataset("tiny-imagenet", tmp_path)
    assert ds.classes == sorted(TIN_COLORS)
    assert ds.train_images.shape == (6, 3, 72, 72) and ds.test_images.shape == (6, 3, 72, 72)
    assert ds.train_labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert ds.test_labels.tolist() == [ds.classes.index(annotations[f]) for f in sorted(annotations)]
    for images, labels in ((ds.train_images, ds.train_labels), (ds.test_images, ds.test_labels)):
        for image, label in zip(images, labels, strict=True):
            color = torch.tensor(TIN_COLORS[ds.classes[label]], dtype=torch.float32)
            assert (image.float().mean(dim=(1, 2)) - color).abs().max() < 4
    assert ds.augment == TINY_IMAGENET_AUGMENT and ds.input_size == (3, 64, 64)
    assert dataset_input_size("tiny-imagenet") == (ds.input_size, ds.num_classes, ds.train_labels.numel())


def test_tiny_imagenet_incomplete_copy_is_reported(tmp_path, small_tiny_imagenet):
    write_tiny_imagenet(tmp_path)
    (tmp_path / "tiny-imagenet-200" / "train" / "n0200" / "images" / "n0200_1.JPEG").unlink()
    with pytest.raises(DatasetIntegrityError, match=r"expected 2 images per class, found n0200 1"):
        load_dataset("tiny-imagenet", tmp_path)


def test_tiny_imagenet_zip_with_val_sorted_into_class_folders(tmp_path, monkeypatch, small_tiny_imagenet):
    staging = tmp_path / "staging"
    annotations = write_tiny_imagenet(staging)
    val = staging / "tiny-imagenet-200" / "val"
    for file, wnid in annotations.items():
        (val / wnid).mkdir(exist_ok=True)
        (val / "images" / file).rename(val / wnid / file)
    (val / "val_annotations.txt").unlink()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    archive = data_dir / "tiny-imagenet-200.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted((staging / "tiny-imagenet-200").rglob("*")):
            bundle.write(path, path.relative_to(staging).as_posix())
    official = tiny_imagenet.RELEASE.archive
    assert official.md5 == "90528d7ca1a48142e341f4ef8d21d0de" and official.size == 248_100_043
    with pytest.raises(DatasetIntegrityError, match=r"tiny-imagenet-200\.zip is corrupt"):
        load_dataset("tiny-imagenet", data_dir)  # checked against the official md5 before extraction
    assert sorted(p.name for p in data_dir.iterdir()) == ["tiny-imagenet-200.zip"]
    ours = dataclasses.replace(official, size=archive.stat().st_size, md5=md5(archive))
    monkeypatch.setattr(tiny_imagenet, "RELEASE", dataclasses.replace(tiny_imagenet.RELEASE, archive=ours))
    ds = load_dataset("tiny-imagenet", data_dir)
    assert ds.test_labels.tolist() == [0, 0, 1, 1, 2, 2] and ds.test_images.shape == (6, 3, 72, 72)


def test_generic_imagefolder_uses_val_split_and_its_own_statistics(tmp_path):
    tree = tmp_path / "tree"
    for split, count in (("train", 3), ("val", 1)):
        for cls, color in (("cat", (255, 0, 0)), ("dog", (0, 0, 255))):
            for i in range(count):
                save_image(tree / split / cls / f"{i}.png", color, (16, 16))
    ds = load_dataset(f"imagefolder:{tree}", tmp_path)
    assert ds.name == f"imagefolder:{tree}" and ds.classes == ["cat", "dog"]
    assert ds.train_images.shape == (6, 3, 16, 16) and ds.test_labels.tolist() == [0, 1]
    assert ds.augment.mean == (0.5, 0.0, 0.5) and ds.augment.std[0] == 0.5
    assert (ds.augment.crop, ds.augment.pad) == (16, 2)
    assert dataset_input_size(f"imagefolder:{tree}") is None

    save_image(tree / "train" / "dog" / "odd.png", (0, 0, 255), (16, 12))
    with pytest.raises(DatasetIntegrityError, match=r"odd\.png is 16x12"):
        load_dataset(f"imagefolder:{tree}", tmp_path)


def test_cifar10_jpeg_archive_is_extracted_and_announced(tmp_path, monkeypatch, capsys):
    staging = tmp_path / "staging" / "cifar10-jpeg"
    for split in ("train", "test"):
        for cls, color in (("cat", (10, 20, 30)), ("dog", (40, 50, 60))):
            save_image(staging / split / cls / "0000.jpg", color, (32, 32))
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    archive = data_dir / "cifar10-jpeg.tar.gz"
    with tarfile.open(archive, "w:gz") as bundle:
        bundle.add(staging, arcname="cifar10-jpeg")
    copy = dataclasses.replace(
        cifar10_jpeg.CIFAR10_JPEG,
        classes=("cat", "dog"),
        train_per_class=1,
        test_per_class=1,
        archive_sha256=hashlib.sha256(archive.read_bytes()).hexdigest(),
    )
    monkeypatch.setattr(cifar10_jpeg, "CIFAR10_JPEG", copy)
    ds = load_dataset("cifar10-jpeg", data_dir)
    assert "extracting" in capsys.readouterr().err and (data_dir / "cifar10-jpeg" / "train" / "cat").is_dir()
    assert ds.train_images.shape == (2, 3, 32, 32) and ds.augment == CIFAR10_AUGMENT
    assert "JPEG copy" in ds.source


# ---------------------------------------------------------------- the real CIFAR-10 JPEG copy


@pytest.fixture(scope="session")
def cifar10_jpeg_copy(data_dir) -> ImageDataset:
    return load_dataset("cifar10-jpeg", data_dir)


def test_real_cifar10_jpeg_copy(cifar10_jpeg_copy, data_dir):
    ds = cifar10_jpeg_copy
    assert ds.name == "cifar10-jpeg"
    assert ds.classes == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    assert ds.train_images.shape == (50000, 3, 32, 32) and ds.test_images.shape == (10000, 3, 32, 32)
    assert ds.train_images.dtype == torch.uint8
    assert torch.bincount(ds.train_labels).tolist() == [5000] * 10
    assert torch.bincount(ds.test_labels).tolist() == [1000] * 10
    means = ds.train_images[:, :, ::2, ::2].float().mean(dim=(0, 2, 3)) / 255
    assert torch.allclose(means, torch.tensor([0.494, 0.483, 0.447]), atol=0.005)
    assert len(ds.sha256) == 64
    assert dataset_input_size("cifar10-jpeg") == (ds.input_size, ds.num_classes, ds.train_labels.numel())
    assert dataset_input_size("cifar10")[1:] == (10, 50000) and dataset_input_size("cifar100")[1:] == (100, 50000)
    assert ("cifar10-jpeg", True, str(resolve_data_dir(data_dir) / "cifar10-jpeg")) in dataset_status(data_dir)


# ---------------------------------------------------------------- the device loader

RAW = AugmentSpec(pad=4, crop=32, flip=True, mean=(0.0, 0.0, 0.0), std=(1 / 255, 1 / 255, 1 / 255))  # x * 1 + 0


def coordinate_images(count: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Channel 0 holds row + 1, channel 1 column + 1, channel 2 the label code ``label % 250 + 1`` (0 is padding)."""
    labels = torch.arange(count)
    steps = torch.arange(1, size + 1, dtype=torch.uint8)
    images = torch.empty(count, 3, size, size, dtype=torch.uint8)
    images[:, 0] = steps[:, None]
    images[:, 1] = steps[None, :]
    images[:, 2] = (labels % 250 + 1).to(torch.uint8)[:, None, None]
    return images, labels


def collect(loader: DeviceLoader, epoch: int, phase: str = "main") -> tuple[torch.Tensor, torch.Tensor]:
    batches = list(loader.epoch(epoch, phase))
    return torch.cat([x for x, _ in batches]), torch.cat([y for _, y in batches])


@pytest.mark.parametrize(("size", "pad", "crop"), [(32, 4, 32), (72, 0, 64)])
def test_random_crops_and_flips_are_uniform_and_exact(size, pad, crop):
    count = 3000
    images, labels = coordinate_images(count, size)
    spec = dataclasses.replace(RAW, pad=pad, crop=crop)
    x, y = collect(DeviceLoader(images, labels, batch_size=256, augment=spec, train=True, seed=0, device="cpu"), 1)
    assert x.shape == (count, 3, crop, crop) and sorted(y.tolist()) == list(range(count))
    centre = crop // 2
    flipped = x[:, 1, centre, centre - 4] > x[:, 1, centre, centre + 4]
    tops = (x[:, 0, centre, centre] - centre - 1 + pad).long()
    middle = x[:, 1, centre, centre]
    lefts = torch.where(flipped, middle - crop + centre + pad, middle - centre - 1 + pad).long()
    span = size + 2 * pad - crop
    for offsets in (tops, lefts):
        counts = Counter(offsets.tolist())
        assert sorted(counts) == list(range(span + 1))
        assert max(abs(n - count / (span + 1)) for n in counts.values()) < 0.25 * count / (span + 1)
    assert 0.45 < flipped.float().mean().item() < 0.55
    padded = torch.nn.functional.pad(images[0], (pad, pad, pad, pad)).float()
    for i in range(count):  # every output is exactly the padded image's window at the recovered offsets, mirrored
        window = padded[:, tops[i] : tops[i] + crop, lefts[i] : lefts[i] + crop].clone()
        window[2][window[2] > 0] = y[i] % 250 + 1
        expected = window.flip(-1) if flipped[i] else window
        assert torch.equal(x[i], expected), f"sample {i}"


def test_batches_depend_only_on_seed_phase_and_epoch():
    images, labels = coordinate_images(300, 32)

    def loader(seed: int) -> DeviceLoader:
        return DeviceLoader(images, labels, batch_size=64, augment=RAW, train=True, seed=seed, device="cpu")

    reference = collect(loader(7), 3)
    for same in (collect(loader(7), 3), collect(loader(7), 3)):
        assert torch.equal(same[0], reference[0]) and torch.equal(same[1], reference[1])
    for other in (collect(loader(7), 4), collect(loader(7), 3, "init"), collect(loader(8), 3)):
        assert not torch.equal(other[1], reference[1])


def test_eval_is_fixed_order_centre_crop_and_keeps_partial_batch():
    images, labels = coordinate_images(10, 72)
    spec = dataclasses.replace(RAW, pad=0, crop=64)
    loader = DeviceLoader(images, labels, batch_size=4, augment=spec, train=False, seed=0, device="cpu")
    batches = list(loader.epoch(5))
    assert len(loader) == 3 and [y.tolist() for _, y in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    x = torch.cat([b for b, _ in batches])
    assert x.shape == (10, 3, 64, 64)
    assert (x[:, 0, 0, 0] == 5).all() and (x[:, 1, 0, -1] == 68).all()  # offset (72 - 64) / 2 = 4, no flip
    assert torch.equal(x, torch.cat([b for b, _ in loader.epoch(6, "init")]))

    dropping = DeviceLoader(images, labels, batch_size=4, augment=spec, train=True, device="cpu", drop_last=True)
    assert len(dropping) == 2 and [y.numel() for _, y in dropping.epoch(1)] == [4, 4]


def test_normalisation_memory_format_and_no_augmentation():
    images = torch.full((5, 3, 32, 32), 128, dtype=torch.uint8)
    labels = torch.zeros(5, dtype=torch.int64)
    loader = DeviceLoader(
        images, labels, batch_size=8, augment=CIFAR10_AUGMENT, train=False, memory_format=torch.channels_last
    )
    x, _ = next(loader.epoch(0))
    expected = (128 / 255 - torch.tensor(CIFAR10_AUGMENT.mean)) / torch.tensor(CIFAR10_AUGMENT.std)
    assert x.dtype == torch.float32
    assert torch.allclose(x, expected.view(1, 3, 1, 1).expand_as(x), atol=1e-6)
    assert x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    raw, _ = next(DeviceLoader(images, labels, batch_size=8, augment=None, train=True).epoch(0))
    assert raw.shape == (5, 3, 32, 32) and torch.allclose(raw, torch.full_like(raw, 128 / 255))


def test_loader_rejects_a_crop_larger_than_the_images():
    images, labels = coordinate_images(4, 32)
    with pytest.raises(ValueError, match="cannot crop 64x64 from 32x32"):
        DeviceLoader(images, labels, batch_size=2, augment=TINY_IMAGENET_AUGMENT, train=False)


# ---------------------------------------------------------------- subsets


def synthetic_dataset(train_labels: list[int], test_labels: list[int], num_classes: int) -> ImageDataset:
    """Images filled with their own index, so a subset's images can be traced back."""

    def images(n: int) -> torch.Tensor:
        return torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 3, 4, 4).contiguous()

    train, test = torch.tensor(train_labels), torch.tensor(test_labels)
    decoded = Decoded([f"c{i}" for i in range(num_classes)], images(len(train)), train, images(len(test)), test)
    return ImageDataset.from_decoded("synthetic", "test", decoded, CIFAR10_AUGMENT, decoded.sha256())


def test_subset_is_class_balanced_deterministic_and_rechecksummed():
    ds = synthetic_dataset([i % 10 for i in range(200)], [i % 10 for i in range(60)], 10)
    small = subset(ds, 50, 20, seed=0)
    assert torch.bincount(small.train_labels, minlength=10).tolist() == [5] * 10
    assert torch.bincount(small.test_labels, minlength=10).tolist() == [2] * 10
    assert ((small.train_images[:, 0, 0, 0].long() % 10) == small.train_labels).all()  # images stay with labels
    assert small.name == "synthetic[train=50,test=20,seed=0]"
    assert small.sha256 != ds.sha256
    again = subset(ds, 50, 20, seed=0)
    assert torch.equal(again.train_images, small.train_images) and again.sha256 == small.sha256
    assert not torch.equal(subset(ds, 50, 20, seed=1).train_images, small.train_images)
    odd = subset(ds, 55, None, seed=0)
    assert sorted(torch.bincount(odd.train_labels).tolist()) == [5] * 5 + [6] * 5
    assert torch.equal(odd.test_images, ds.test_images) and odd.name.endswith("[train=55,test=all,seed=0]")
    assert subset(ds, None, None, seed=0) is ds
    with pytest.raises(DatasetError, match="between 1 and 200"):
        subset(ds, 201, None, seed=0)


def test_subset_keeps_class_proportions_of_an_imbalanced_set():
    ds = synthetic_dataset([0] * 30 + [1] * 10, [0, 1], 2)
    assert torch.bincount(subset(ds, 20, None, seed=3).train_labels).tolist() == [15, 5]


def test_every_unreadable_image_is_named_the_first_one_included(tmp_path):
    tree = tmp_path / "tree"
    for split in ("train", "test"):
        for cls, color in (("cat", (255, 0, 0)), ("dog", (0, 0, 255))):
            for i in range(3):
                save_image(tree / split / cls / f"{i}.jpg", color, (16, 16))
    first = tree / "train" / "cat" / "0.jpg"  # sorts first in its folder and in the split
    first.write_bytes(first.read_bytes()[:40])  # truncated
    later = tree / "train" / "dog" / "2.jpg"
    later.write_bytes(b"not an image at all")
    with pytest.raises(DatasetIntegrityError) as error:
        load_dataset(f"imagefolder:{tree}", tmp_path)
    message = str(error.value)
    assert "2 image(s) cannot be used" in message
    assert f"cannot decode image {first}" in message and f"cannot decode image {later}" in message
