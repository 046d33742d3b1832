"""Experiment tracking: ``--log tensorboard`` and ``--log wandb`` write every run's per-epoch scalars as it trains.

Each epoch row the engine records (:mod:`cskd.engine.trainer`: ``train_loss``, every ``loss_<term>``, ``train_top1``,
``test_loss``, ``test_top1``, ``test_top5``, ``lr``, ``seconds``) is logged under ``<phase>/<column>`` (phase ``init``
or ``main``), with ``<phase>/images_per_second``, at step = the run's epoch count (init epochs first), so the curves of
a resumed run continue where they stopped. The run's resolved configuration (:func:`run_config`) is logged once as
text (TensorBoard) or as the run's config (W&B).

Files: ``RESULTS/SUITE/logs/tensorboard/RUN_ID/`` (``tensorboard --logdir RESULTS/SUITE/logs/tensorboard``) and
``RESULTS/SUITE/logs/wandb/`` (offline unless ``WANDB_MODE`` says otherwise; ``wandb sync`` uploads them).

Both backends are optional dependencies (``pip install 'cskd[tensorboard]'`` or ``'cskd[wandb]'``), imported only
here and only when asked for.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

#: backend -> the module it needs and the extra that installs it
BACKENDS: dict[str, tuple[str, str]] = {"tensorboard": ("tensorboard", "tensorboard"), "wandb": ("wandb", "wandb")}
#: epoch-row columns that are not scalars to plot
NOT_SCALARS = ("epoch", "phase")


class Tracker(Protocol):
    def log_epoch(self, row: dict[str, Any], step: int, images_per_second: float | None) -> None: ...

    def close(self) -> None: ...


def backend_problem(names: Sequence[str]) -> str:
    """Why ``--log NAMES`` cannot be honoured ("" when it can): an unknown backend or one whose package is missing."""
    for name in names:
        if name not in BACKENDS:
            return f"--log {name}: unknown backend; use one of {', '.join(BACKENDS)}"
        module, extra = BACKENDS[name]
        if importlib.util.find_spec(module) is None:
            return f"--log {name}: the {module} package is not installed; pip install 'cskd[{extra}]' (or {module})"
    return ""


def scalars(row: dict[str, Any], images_per_second: float | None) -> dict[str, float]:
    """The scalars of one epoch row, named ``<phase>/<column>``."""
    phase = row["phase"]
    values = {f"{phase}/{k}": float(v) for k, v in row.items() if k not in NOT_SCALARS and v is not None}
    if images_per_second is not None:
        values[f"{phase}/images_per_second"] = float(images_per_second)
    return values


def run_config(run: Any) -> dict[str, Any]:
    """A run's resolved configuration (a :class:`cskd.plan.RunSpec`) as plain JSON values."""
    return json.loads(json.dumps(dataclasses.asdict(run), default=str))


class TensorBoardTracker:
    def __init__(self, log_dir: Path, run_id: str, config: dict[str, Any]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(log_dir / "tensorboard" / run_id))
        self.writer.add_text("config", f"```json\n{json.dumps(config, indent=2, sort_keys=True)}\n```", 0)

    def log_epoch(self, row: dict[str, Any], step: int, images_per_second: float | None) -> None:
        for tag, value in scalars(row, images_per_second).items():
            self.writer.add_scalar(tag, value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandbTracker:
    def __init__(self, log_dir: Path, run_id: str, config: dict[str, Any]) -> None:
        import wandb

        folder = log_dir / "wandb"
        folder.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "cskd"),
            id=run_id,
            name=run_id,
            resume="allow",
            dir=str(folder),
            mode=os.environ.get("WANDB_MODE", "offline"),
            config=config,
            reinit="create_new",
        )

    def log_epoch(self, row: dict[str, Any], step: int, images_per_second: float | None) -> None:
        self.run.log(scalars(row, images_per_second), step=step)

    def close(self) -> None:
        self.run.finish()


class Trackers:
    """The trackers of one run (none, one or both backends), used as one."""

    def __init__(self, names: Sequence[str], log_dir: Path | None, run_id: str, config: dict[str, Any]) -> None:
        kinds = {"tensorboard": TensorBoardTracker, "wandb": WandbTracker}
        if names and log_dir is None:
            raise ValueError("tracking needs the run's log folder (StudentJob.log_dir)")
        self.trackers: list[Tracker] = [kinds[name](log_dir, run_id, config) for name in names]  # type: ignore[arg-type]

    def log_epoch(self, row: dict[str, Any], step: int, images_per_second: float | None) -> None:
        for tracker in self.trackers:
            tracker.log_epoch(row, step, images_per_second)

    def close(self) -> None:
        for tracker in self.trackers:
            tracker.close()
