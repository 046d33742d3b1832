"""Stratified, deterministic subsets of a dataset (for quick runs and smoke tests)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cskd.data.errors import DatasetError

if TYPE_CHECKING:  # imported where images are chosen: ``cskd.data`` imports this module (its ``subset``) eagerly
    import torch

    from cskd.data.dataset import ImageDataset


def stratified_indices(labels: torch.Tensor, count: int, num_classes: int, rng: torch.Generator) -> torch.Tensor:
    """``count`` indices drawn without replacement, each class getting its share ``count * n_c / N`` of them.

    Shares are rounded by the largest-remainder rule (ties go to classes in a random order), so a balanced dataset
    gives every class the same number, +-1. Returned in increasing order.
    """
    import torch

    total = labels.numel()
    if not 1 <= count <= total:
        raise ValueError(f"a subset needs between 1 and {total} images, got {count}")
    sizes = torch.bincount(labels, minlength=num_classes)
    exact = sizes.double() * count / total
    quota = exact.floor().long()
    tie_order = torch.randperm(num_classes, generator=rng)
    remainder = exact - quota
    ranked = sorted(range(num_classes), key=lambda c: (-remainder[c].item(), tie_order[c].item()))
    for c in ranked[: count - int(quota.sum())]:
        quota[c] += 1
    chosen = []
    for c in range(num_classes):
        members = torch.nonzero(labels == c).flatten()
        chosen.append(members[torch.randperm(members.numel(), generator=rng)[: quota[c]]])
    return torch.cat(chosen).sort().values


def subset(ds: ImageDataset, train: int | None, test: int | None, seed: int) -> ImageDataset:
    """``train`` training and ``test`` test images (``None``: all of that split), stratified by class and fixed by
    ``seed``. The name records the subset, the checksum is that of the subset's content."""
    from cskd.data.dataset import Decoded, ImageDataset
    from cskd.data.seeds import generator

    if train is None and test is None:
        return ds
    splits = {}
    for split, count in (("train", train), ("test", test)):
        images, labels = getattr(ds, f"{split}_images"), getattr(ds, f"{split}_labels")
        if count is not None and not 1 <= count <= labels.numel():
            raise DatasetError(
                f"dataset {ds.name}: a {split} subset of {count} images is asked for, but it has {labels.numel()} "
                f"{split} images: use a {split}_subset between 1 and {labels.numel()}"
            )
        if count is not None:
            keep = stratified_indices(labels, count, ds.num_classes, generator(seed, "subset", split))
            images, labels = images[keep], labels[keep]
        splits[split] = (images, labels)
    decoded = Decoded(ds.classes, *splits["train"], *splits["test"])
    return ImageDataset.from_decoded(
        name=subset_name(ds.name, train, test, seed),
        source=f"{ds.source}; {subset_description(train, test, seed)}",
        decoded=decoded,
        augment=ds.augment,
        sha256=decoded.sha256(),
    )


def subset_name(name: str, train: int | None, test: int | None, seed: int) -> str:
    """The name of a subset of the dataset ``name``: ``cifar10-jpeg[train=2000,test=1000,seed=0]``."""
    return f"{name}[train={'all' if train is None else train},test={'all' if test is None else test},seed={seed}]"


def subset_description(train: int | None, test: int | None, seed: int) -> str:
    shown = ["all" if count is None else count for count in (train, test)]
    return f"stratified subset of {shown[0]} train / {shown[1]} test images, seed {seed}"
