"""The training recipe as data: optimiser, batch size, epochs and the multi-step learning-rate schedule."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Recipe:
    """SGD with momentum and a multi-step schedule (paper.md section 2).

    The learning rate of 1-based epoch ``e`` is ``lr * lr_factor ** k`` with ``k`` the number of milestones ``m < e``:
    milestone 80 means epochs 1-80 use ``lr`` and epoch 81 onwards ``lr * lr_factor`` (PyTorch's MultiStepLR).
    ``reset_momentum_each_epoch`` reproduces the official CSKD code, which re-creates its optimiser every epoch.
    """

    epochs: int = 200
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    nesterov: bool = False
    milestones: tuple[int, ...] = field(default=(80, 120, 160))
    lr_factor: float = 0.1
    reset_momentum_each_epoch: bool = False

    def __post_init__(self) -> None:
        problems = []
        if self.epochs < 1:
            problems.append(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            problems.append(f"batch_size must be >= 1, got {self.batch_size}")
        if self.lr <= 0:
            problems.append(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.momentum < 1:
            problems.append(f"momentum must be in [0, 1), got {self.momentum}")
        if self.weight_decay < 0:
            problems.append(f"weight_decay must be >= 0, got {self.weight_decay}")
        if list(self.milestones) != sorted(self.milestones):
            problems.append(f"milestones must be increasing, got {list(self.milestones)}")
        if problems:
            raise ValueError("bad recipe: " + "; ".join(problems))

    def lr_at(self, epoch: int) -> float:
        """Learning rate of 1-based ``epoch``."""
        drops = sum(1 for m in self.milestones if m < epoch)
        return self.lr * self.lr_factor**drops

    def scaled_to(self, epochs: int) -> Recipe:
        """The same recipe over ``epochs`` epochs, milestones moved proportionally (for CPU-scale profiles)."""
        milestones = tuple(
            sorted({max(1, round(m * epochs / self.epochs)) for m in self.milestones if m < self.epochs})
        )
        return dataclasses.replace(self, epochs=epochs, milestones=milestones)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Recipe:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown recipe keys {unknown}; known: {sorted(known)}")
        values = dict(values)
        if "milestones" in values:
            values["milestones"] = tuple(int(m) for m in values["milestones"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["milestones"] = list(self.milestones)
        return values


#: the paper's recipes (paper.md section 2); CIFAR-100 restates none, so it takes CIFAR-10's (the official code's)
CIFAR_RECIPE = Recipe()
TINY_IMAGENET_RECIPE = Recipe(batch_size=200, weight_decay=5e-4, milestones=(50, 100, 150))


def default_recipe(dataset: str) -> Recipe:
    """The paper's recipe for ``dataset``: Tiny ImageNet's for tiny-imagenet, CIFAR's for everything else."""
    return TINY_IMAGENET_RECIPE if dataset.startswith("tiny-imagenet") else CIFAR_RECIPE
