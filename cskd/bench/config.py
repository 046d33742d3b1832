"""What one throughput measurement trains, shared by the reference loop and the engine runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from cskd.data import ImageDataset
from cskd.models import create_model
from cskd.suite import load_suite

#: Overrides that make a Table 1 method's timed steps its main-phase steps. FitNet's hint stage is replaced by the
#: one-stage joint form (CE + KD + hint, RepDistiller's FitNet). AB cannot drop its initialisation stage (it needs at
#: least one epoch), so it gets one, which the engine runs during the untimed warm-up epoch; the reference loop times
#: main-phase steps only and never calls ``forward_init``.
MAIN_PHASE_ARGS: dict[str, dict[str, Any]] = {"fitnet": {"schedule": "joint"}, "ab": {"init_epochs": 1}}


@dataclass(frozen=True)
class BenchConfig:
    """One teacher/student pair, the distillation methods (name -> arguments), the batch size and the step counts."""

    teacher: str
    student: str
    methods: dict[str, dict[str, Any]]
    batch_size: int
    steps: int
    warmup: int
    device: torch.device
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    @property
    def timed_images(self) -> int:
        """Student-images of the timed part: every method trains ``steps`` batches."""
        return self.steps * self.batch_size * len(self.methods)

    def build_teacher(self, data: ImageDataset) -> torch.nn.Module:
        """The teacher, randomly initialised from ``seed`` (throughput does not depend on its weights), in eval mode."""
        torch.manual_seed(self.seed)
        return create_model(self.teacher, num_classes=data.num_classes, **self.model_kwargs).eval()


def table1_method_args(names: list[str]) -> dict[str, dict[str, Any]]:
    """Each method's arguments in Table 1's suite (benchmarks/table1.yaml), with :data:`MAIN_PHASE_ARGS` on top.

    A method that Table 1 does not use takes its defaults.
    """
    suite_args = {entry.name: dict(entry.args) for entry in load_suite("table1").methods}
    return {name: {**suite_args.get(name, {}), **MAIN_PHASE_ARGS.get(name, {})} for name in names}
