"""The training recipe as data: optimiser, batch size, epochs and the multi-step learning-rate schedule."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import typing
from dataclasses import dataclass, field
from typing import Any

from cskd.data import get_source
from cskd.limits import MAX_EPOCHS, short_repr
from cskd.typecheck import type_problem

#: a batch larger than any dataset cskd knows (Tiny ImageNet has 100,000 training images)
MAX_BATCH_SIZE = 1 << 17


class RecipeError(ValueError):
    """A bad recipe value; ``key`` names the field, the message says what is expected."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """The resolved annotation of each field of dataclass ``cls``, found once (planning makes a recipe per run)."""
    return typing.get_type_hints(cls)


@dataclass(frozen=True)
class Recipe:
    """SGD with momentum and a multi-step schedule (docs/paper.md section 2).

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
        """Raise :class:`RecipeError` for the first field of the wrong type or out of range."""
        hints = field_types(type(self))
        for item in dataclasses.fields(self):
            problem = type_problem(getattr(self, item.name), hints[item.name])
            if problem:
                raise RecipeError(item.name, problem)
        checks = (
            ("epochs", 1 <= self.epochs <= MAX_EPOCHS, f"must be between 1 and {MAX_EPOCHS}"),
            ("batch_size", 1 <= self.batch_size <= MAX_BATCH_SIZE, f"must be between 1 and {MAX_BATCH_SIZE}"),
            ("lr", self.lr > 0, "must be > 0"),
            ("momentum", 0 <= self.momentum < 1, "must be in [0, 1)"),
            ("weight_decay", self.weight_decay >= 0, "must be >= 0"),
            ("milestones", all(m >= 1 for m in self.milestones), "must be epochs >= 1"),
            ("milestones", all(a < b for a, b in itertools.pairwise(self.milestones)), "must be increasing"),
            (
                "milestones",
                all(m <= self.epochs for m in self.milestones),
                f"must be at most epochs ({self.epochs}): a milestone m lowers the rate after epoch m",
            ),
            ("lr_factor", self.lr_factor > 0, "must be > 0"),
        )
        for key, ok, problem in checks:
            if not ok:
                raise RecipeError(key, f"{problem}, got {short_repr(getattr(self, key))}")

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
        """A recipe from a mapping (YAML); raises :class:`RecipeError` naming the first bad or unknown key."""
        known = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key not in known:
                raise RecipeError(str(key), f"unknown recipe key (known: {', '.join(known)})")
        values = dict(values)
        if isinstance(values.get("milestones"), list):
            values["milestones"] = tuple(values["milestones"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["milestones"] = list(self.milestones)
        return values


#: the paper's CIFAR recipe (docs/paper.md section 2): CIFAR-100 restates none, so it takes CIFAR-10's (the official
#: code's); a dataset trained otherwise in the paper declares the changes (``recipe_changes`` of its source)
CIFAR_RECIPE = Recipe()


def default_recipe(dataset: str) -> Recipe:
    """The paper's recipe for ``dataset``: CIFAR's with the changes its source declares
    (:attr:`cskd.data.source.DatasetSource.recipe_changes`: Tiny ImageNet's batch, weight decay and milestones).
    Raises ``UnknownDatasetError`` naming the close names of an unknown dataset."""
    return dataclasses.replace(CIFAR_RECIPE, **get_source(dataset).recipe_changes)
