"""The data of a plan's runs, each dataset loaded once and shared by every run (and group) that trains on it.

A run trains on its dataset's subset (``train_subset``/``test_subset``, drawn with seed 0 from the full copy, or from
the images shipped with cskd without it: :func:`cskd.data.load_subset`), normalised as its suite says
(``normalization``: the dataset's own statistics, or another's: :func:`cskd.data.augment.normalized_as`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from cskd.data import ImageDataset, load_subset
from cskd.data.augment import normalized_as

if TYPE_CHECKING:
    from cskd.plan import RunSpec


class RunData:
    """The datasets of runs, read from ``data_dir`` (default: ``$CSKD_DATA``, else ``./data``) once each."""

    def __init__(self, data_dir: Path | None) -> None:
        self.data_dir = data_dir
        self._loaded: dict[tuple, ImageDataset] = {}

    def of(self, run: RunSpec) -> ImageDataset:
        """The data ``run`` trains and is tested on."""
        key = (run.dataset, run.normalization, run.train_subset, run.test_subset)
        if key not in self._loaded:
            data = load_subset(run.dataset, self.data_dir, run.train_subset, run.test_subset, seed=0)
            if run.normalization != "dataset":
                augment = normalized_as(data.augment, run.normalization)
                source = f"{data.source}; normalised with mean {augment.mean}, std {augment.std} ({run.normalization})"
                data = dataclasses.replace(data, augment=augment, source=source)
            self._loaded[key] = data
        return self._loaded[key]

    def load_all(self, runs: list[RunSpec]) -> None:
        """Load the data of every one of ``runs`` now, so that missing data fail before any training."""
        for run in runs:
            self.of(run)
