"""CUB-200-2011: the official layout on a small tree of real images, its checks and messages, and the fine-grained
input pipeline (random resized crop 224 and flip; centre 224 for test) against torchvision's own transforms."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from cub_layout import CubTree, write_cub_archive, write_cub_tree
from PIL import Image
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from cskd.data import DatasetIntegrityError, DatasetNotFoundError, DeviceLoader, cub, dataset_input_size, load_dataset
from cskd.data.augment import CUB_AUGMENT, AugmentSpec, ResizedCrop
from cskd.data.registry import get_source
from cskd.data.remote import RemoteArchive
from cskd.data.resized_crop import draw_boxes, resized_crops
from cskd.data.seeds import generator

# ---------------------------------------------------------------- the dataset source


@pytest.fixture
def tree(tmp_path, jpeg_images, monkeypatch) -> CubTree:
    """3 classes x (4 train + 2 test) real images in the official layout, the release facts patched to match."""
    written = write_cub_tree(tmp_path / "data", jpeg_images, num_classes=3, train=4, test=2)
    monkeypatch.setattr(cub, "RELEASE", written.release())
    return written


def reference_decode(path: Path) -> torch.Tensor:
    """torchvision's Resize(256) + CenterCrop(256) on the PIL image: the stored form of every CUB image."""
    image = Image.open(path).convert("RGB")
    image = v2.CenterCrop(256)(v2.Resize(256)(image))
    return torch.from_numpy(np.array(image)).permute(2, 0, 1)


def test_cub_tree_loads_with_the_official_split(tree):
    ds = load_dataset("cub200", tree.folder.parent)
    assert ds.name == "cub200" and "official train/test split" in ds.source
    assert ds.classes == ["001.airplane", "002.automobile", "003.bird"]
    assert ds.train_images.shape == (12, 3, 256, 256) and ds.test_images.shape == (6, 3, 256, 256)
    assert ds.train_images.dtype == torch.uint8
    assert ds.train_labels.tolist() == [label for _, label in tree.train] == [0] * 4 + [1] * 4 + [2] * 4
    assert ds.test_labels.tolist() == [label for _, label in tree.test] == [0, 0, 1, 1, 2, 2]
    for images, items in ((ds.train_images, tree.train), (ds.test_images, tree.test)):
        for image, (relative, _) in zip(images, items, strict=True):  # image-id order, stored exactly as torchvision
            assert torch.equal(image, reference_decode(tree.folder / "images" / relative)), relative
    assert ds.augment == CUB_AUGMENT and ds.input_size == (3, 224, 224)
    assert dataset_input_size("cub200") == ((3, 224, 224), 3, 12)
    assert len(list((tree.folder.parent / ".cache").glob("cub200-*.pt"))) == 1


def test_official_release_facts():
    release = cub.CubRelease()
    assert (release.num_classes, release.train_images, release.test_images) == (200, 5994, 5794)
    assert release.archive == RemoteArchive(
        file_name="CUB_200_2011.tgz",
        url="https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz",
        size=1_150_585_339,
        folder="CUB_200_2011",
        md5="97eceeb196236b17998738112f37df78",
    )
    assert get_source("cub200").archives == (release.archive,)


def test_missing_cub_names_both_places_and_the_fetch(tmp_path):
    with pytest.raises(DatasetNotFoundError) as error:
        load_dataset("cub200", tmp_path)
    message = str(error.value)
    assert str(tmp_path / "CUB_200_2011") in message and str(tmp_path / "CUB_200_2011.tgz") in message
    assert f"Fetch it: `cskd data fetch cub200` downloads {cub.RELEASE.archive.url} (1.15 GB)" in message
    assert not any(tmp_path.iterdir())


def use_archive(monkeypatch, tree: CubTree, size: int, md5: str) -> None:
    """The release of ``tree`` with an archive of ``size`` bytes and ``md5`` (the official URL and names)."""
    archive = dataclasses.replace(cub.RELEASE.archive, size=size, md5=md5)
    monkeypatch.setattr(cub, "RELEASE", dataclasses.replace(tree.release(), archive=archive))


def test_archive_is_size_and_md5_verified_then_extracted(tree, tmp_path, monkeypatch, capsys):
    data_dir = tmp_path / "fresh"
    data_dir.mkdir()
    archive = write_cub_archive(tree, data_dir / "CUB_200_2011.tgz")
    content = archive.read_bytes()
    actual = hashlib.md5(content).hexdigest()
    refused = (
        f"{archive} is corrupt: {len(content):,} bytes with md5 {actual}, expected {{size:,}} bytes with md5 {{md5}} "
        "(official checksum). Delete it and fetch it again: `cskd data fetch cub200`."
    )

    for size, md5 in ((len(content) + 1, actual), (len(content), "0" * 32)):  # a truncated download; other bytes
        use_archive(monkeypatch, tree, size, md5)
        with pytest.raises(DatasetIntegrityError) as error:
            load_dataset("cub200", data_dir)
        assert str(error.value) == refused.format(size=size, md5=md5)
        assert not (data_dir / "CUB_200_2011").exists(), "nothing is extracted from an unverified archive"

    use_archive(monkeypatch, tree, len(content), actual)
    ds = load_dataset("cub200", data_dir)
    assert "extracting" in capsys.readouterr().err
    assert (data_dir / "CUB_200_2011" / "images.txt").is_file() and not (data_dir / "attributes.txt").exists()
    assert ds.train_images.shape == (12, 3, 256, 256)


def test_damaged_archive_is_reported(tree, tmp_path, monkeypatch):
    data_dir = tmp_path / "fresh"
    data_dir.mkdir()
    archive = write_cub_archive(tree, data_dir / "CUB_200_2011.tgz")
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])  # cut in the middle of the stream
    content = archive.read_bytes()
    use_archive(monkeypatch, tree, len(content), hashlib.md5(content).hexdigest())  # checksums pass
    with pytest.raises(DatasetIntegrityError, match=rf"{archive} cannot be extracted .*the archive is damaged"):
        load_dataset("cub200", data_dir)
    assert not (data_dir / "CUB_200_2011").exists() and [p.name for p in data_dir.iterdir()] == [archive.name]


@pytest.mark.parametrize("missing", ["images.txt", "image_class_labels.txt", "train_test_split.txt", "classes.txt"])
def test_missing_metadata_file_is_named(tree, missing):
    (tree.folder / missing).unlink()
    with pytest.raises(DatasetNotFoundError) as error:
        load_dataset("cub200", tree.folder.parent)
    assert f"{tree.folder / missing}: missing" in str(error.value)
    assert str(error.value).endswith(
        f"Delete {tree.folder} (a modified copy, or one extracted incompletely by hand) and run `cskd data fetch "
        f"cub200`: it extracts CUB_200_2011.tgz again (or downloads it, when it is not in {tree.folder.parent})."
    )


def test_wrong_split_counts_are_reported(tree, monkeypatch):
    monkeypatch.setattr(cub, "RELEASE", dataclasses.replace(tree.release(), train_images=13, test_images=5))
    with pytest.raises(DatasetIntegrityError, match=r"12 train / 6 test, expected the official 13 / 5"):
        load_dataset("cub200", tree.folder.parent)


def test_wrong_class_count_is_reported(tree, monkeypatch):
    monkeypatch.setattr(cub, "RELEASE", dataclasses.replace(tree.release(), num_classes=200))
    with pytest.raises(DatasetIntegrityError, match=r"classes\.txt lists 3 classes, expected 200"):
        load_dataset("cub200", tree.folder.parent)


def test_missing_image_and_inconsistent_ids_are_reported(tree):
    relative = tree.test[0][0]
    (tree.folder / "images" / relative).unlink()
    with pytest.raises(
        DatasetIntegrityError, match=rf"1 image\(s\) listed in .*images\.txt do not exist: images/{relative}"
    ):
        load_dataset("cub200", tree.folder.parent)

    labels = tree.folder / "image_class_labels.txt"
    labels.write_text("\n".join(labels.read_text().splitlines()[:-1]) + "\n")
    with pytest.raises(
        DatasetIntegrityError, match=r"list different image ids \(missing from image_class_labels\.txt: \[18\]"
    ):
        load_dataset("cub200", tree.folder.parent)


def test_malformed_metadata_line_names_file_and_line(tree):
    split = tree.folder / "train_test_split.txt"
    lines = split.read_text().splitlines()
    lines[2] = "3"
    split.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetIntegrityError, match=r"train_test_split\.txt, line 3: expected <image id> <is training"):
        load_dataset("cub200", tree.folder.parent)
    lines[2] = "3 2"
    split.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetIntegrityError, match=r"image 3 has is_training_image '2', expected 1 or 0"):
        load_dataset("cub200", tree.folder.parent)


# ---------------------------------------------------------------- random resized crop boxes, against torchvision


def ks_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the empirical distribution functions."""
    points = torch.cat([a, b]).sort().values
    cdf_a = torch.searchsorted(a.sort().values, points, right=True) / a.numel()
    cdf_b = torch.searchsorted(b.sort().values, points, right=True) / b.numel()
    return (cdf_a - cdf_b).abs().max().item()


def box_features(boxes: torch.Tensor, height: int, width: int) -> dict[str, torch.Tensor]:
    top, left, h, w = boxes.double().unbind(1)
    return {
        "area": h * w / (height * width),
        "log_ratio": torch.log(w / h),
        "top": (top + 0.5) / (height - h + 1),
        "left": (left + 0.5) / (width - w + 1),
    }


@pytest.mark.parametrize(
    ("height", "width", "spec", "fallback"),
    [
        (256, 256, ResizedCrop(), None),  # CUB's stored square: every box fits within 10 attempts
        (200, 300, ResizedCrop(), None),  # landscape
        # about half the samples exhaust the 10 attempts: the central fallback, full width, height 64 / 1.5
        (64, 64, ResizedCrop(scale=(0.5, 1.0), ratio=(1.5, 3.0)), (10, 0, 43, 64)),
    ],
)
def test_crop_boxes_follow_torchvision_random_resized_crop(height, width, spec, fallback):
    count = 8000
    ours = draw_boxes(count, height, width, spec, generator(0, "boxes"))
    torch.manual_seed(0)
    image = torch.zeros(3, height, width)
    theirs = torch.tensor(
        [v2.RandomResizedCrop.get_params(image, list(spec.scale), list(spec.ratio)) for _ in range(count)]
    )
    assert ours.shape == (count, 4) and ours.dtype == torch.int64
    top, left, h, w = ours.unbind(1)
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= height).all() and (left + w <= width).all()
    assert (h > 0).all() and (w > 0).all()
    ours_f, theirs_f = box_features(ours, height, width), box_features(theirs, height, width)
    for name in ours_f:
        assert ks_distance(ours_f[name], theirs_f[name]) < 0.03, name  # p < 0.001 critical value is about 0.031
    if fallback is not None:

        def share(boxes: torch.Tensor) -> float:
            return (boxes == torch.tensor(fallback)).all(1).float().mean().item()

        assert 0.3 < share(theirs) < 0.8 and abs(share(ours) - share(theirs)) < 0.03


def test_crop_boxes_depend_only_on_the_generator():
    first = draw_boxes(500, 256, 256, ResizedCrop(), generator(3, "main", 1))
    assert torch.equal(first, draw_boxes(500, 256, 256, ResizedCrop(), generator(3, "main", 1)))
    assert not torch.equal(first, draw_boxes(500, 256, 256, ResizedCrop(), generator(3, "main", 2)))


@pytest.mark.parametrize("size", [224, 48, 13])
def test_resampling_equals_torchvision_resized_crop(size):
    gen = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (12, 3, 64, 80), dtype=torch.uint8, generator=gen)
    boxes = draw_boxes(12, 64, 80, ResizedCrop(), gen)
    boxes[0] = torch.tensor([0, 0, 64, 80])  # the whole image
    boxes[1] = torch.tensor([10, 20, 1, 1])  # a single pixel
    flips = torch.rand(12, generator=gen) < 0.5
    out = resized_crops(images, boxes, size, flips)
    assert out.shape == (12, 3, size, size) and out.dtype == torch.float32
    for image, (top, left, h, w), flip, got in zip(images, boxes.tolist(), flips, out, strict=True):
        expected = TF.resized_crop(image.float(), top, left, h, w, [size, size], antialias=True)
        expected = expected.flip(-1) if flip else expected
        assert torch.allclose(got, expected, atol=1e-3), (top, left, h, w)


# ---------------------------------------------------------------- the device loader with the CUB pipeline

RAW_CUB = dataclasses.replace(CUB_AUGMENT, crop=32, mean=(0.0, 0.0, 0.0), std=(1 / 255, 1 / 255, 1 / 255))


def test_loader_applies_the_drawn_resized_crops_to_whole_batches():
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (50, 3, 48, 48), dtype=torch.uint8, generator=gen)
    labels = torch.arange(50)
    loader = DeviceLoader(images, labels, batch_size=16, augment=RAW_CUB, train=True, seed=5, device="cpu")
    batches = list(loader.epoch(2))
    x, y = torch.cat([b for b, _ in batches]), torch.cat([t for _, t in batches])
    assert [b.shape[0] for b, _ in batches] == [16, 16, 16, 2] and x.shape == (50, 3, 32, 32)
    rng = generator(5, "main", 2)  # the documented order of draws: permutation, boxes, flips
    order = torch.randperm(50, generator=rng)
    boxes = draw_boxes(50, 48, 48, RAW_CUB.resized_crop, rng)
    flips = torch.rand(50, generator=rng) < 0.5
    assert torch.equal(y, order)
    assert torch.allclose(x, resized_crops(images[order], boxes, 32, flips), atol=1e-4)
    assert 10 < flips.sum() < 40 and len({tuple(b) for b in boxes.tolist()}) > 45
    again = torch.cat([b for b, _ in loader.epoch(2)])
    assert torch.equal(again, x)
    assert not torch.equal(torch.cat([b for b, _ in loader.epoch(3)]), x)
    assert not torch.equal(torch.cat([b for b, _ in loader.epoch(2, "init")]), x)


def test_loader_resized_crop_accepts_images_smaller_than_the_crop_for_training_only():
    images, labels = torch.zeros(4, 3, 16, 16, dtype=torch.uint8), torch.zeros(4, dtype=torch.int64)
    x, _ = next(DeviceLoader(images, labels, batch_size=4, augment=RAW_CUB, train=True).epoch(0))
    assert x.shape == (4, 3, 32, 32)
    with pytest.raises(ValueError, match="cannot crop 32x32 from 16x16"):
        DeviceLoader(images, labels, batch_size=4, augment=RAW_CUB, train=False)


def test_cub_evaluation_is_torchvision_resize_256_centre_crop_224(tree):
    ds = load_dataset("cub200", tree.folder.parent)
    loader = DeviceLoader(ds.test_images, ds.test_labels, batch_size=4, augment=CUB_AUGMENT, train=False)
    x = torch.cat([b for b, _ in loader.epoch(0)])
    mean, std = torch.tensor(CUB_AUGMENT.mean).view(3, 1, 1), torch.tensor(CUB_AUGMENT.std).view(3, 1, 1)
    for got, (relative, _) in zip(x, tree.test, strict=True):
        image = v2.CenterCrop(224)(v2.Resize(256)(Image.open(tree.folder / "images" / relative).convert("RGB")))
        pixels = torch.from_numpy(np.array(image)).permute(2, 0, 1).float()
        assert torch.allclose(got, (pixels / 255 - mean) / std, atol=1e-5), relative


def test_resized_crop_spec_is_validated():
    with pytest.raises(ValueError, match="takes no padding"):
        AugmentSpec(pad=4, crop=32, flip=True, mean=(0, 0, 0), std=(1, 1, 1), resized_crop=ResizedCrop())
    with pytest.raises(ValueError, match="scale"):
        ResizedCrop(scale=(0.5, 0.1))
    with pytest.raises(ValueError, match="ratio"):
        ResizedCrop(ratio=(0.0, 1.0))
    assert math.isclose(CUB_AUGMENT.resized_crop.ratio[1], 4 / 3)
