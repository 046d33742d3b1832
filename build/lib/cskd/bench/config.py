"""What one throughput measurement trains, shared by the reference loop and the engine runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from cskd.data import DeviceLoader, ImageDataset, subset
from cskd.models import create_model
from cskd.suite import load_suite

#: Overrides that make a Table 1 method's timed steps its main-phase steps. FitNet's hint stage is replaced by the
#: one-stage joint form (CE + KD + hint, RepDistiller's FitNet). AB cannot drop its initialisation stage (it needs at
#: least one epoch), so it gets one, which the engine runs during the untimed warm-up epoch; the reference loop times
#: main-phase steps only and never calls ``forward_init``.
MAIN_PHASE_ARGS: dict[str, dict[str, Any]] = {"fitnet": {"schedule": "joint"}, "ab": {"init_epochs": 1}}

#: training batches whose statistics the random teacher's BatchNorm layers take
CALIBRATION_BATCHES = 2


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

    def build_teacher(self, data: ImageDataset) -> nn.Module:
        """The teacher on ``device`` in eval mode: random weights from ``seed`` (throughput does not depend on them)
        with BatchNorm statistics measured on :data:`CALIBRATION_BATCHES` batches of training images.

        Without the calibration a deep random ResNet's eval-mode activations grow block after block (R101_0.5's
        logits overflow), and a loss on them is not finite; with it, outputs have a trained network's scale.
        """
        torch.manual_seed(self.seed)
        model = create_model(self.teacher, num_classes=data.num_classes, **self.model_kwargs).to(self.device)
        count = min(CALIBRATION_BATCHES * self.batch_size, data.train_images.shape[0])
        sample = subset(data, count, data.num_classes, seed=self.seed)
        batches = DeviceLoader(
            sample.train_images,
            sample.train_labels,
            batch_size=self.batch_size,
            augment=data.augment,
            train=False,
            device=self.device,
        )
        norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        momenta = [m.momentum for m in norms]
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # a plain average over the calibration batches
        model.train()
        with torch.no_grad():
            for x, _ in batches.epoch(0):
                model(x)
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum
        return model.eval()


def table1_method_args(names: list[str]) -> dict[str, dict[str, Any]]:
    """Each method's arguments in Table 1's suite (benchmarks/table1.yaml), with :data:`MAIN_PHASE_ARGS` on top.

    A method that Table 1 does not use takes its defaults.
    """
    suite_args = {entry.name: dict(entry.args) for entry in load_suite("table1").methods}
    return {name: {**suite_args.get(name, {}), **MAIN_PHASE_ARGS.get(name, {})} for name in names}
