"""The best epoch's weights of every run, kept beside its last checkpoint, so the table's number has a model behind it.

The report's default accuracy is the best epoch's (``best_top1``: the first main epoch reaching the highest test
top-1, as the official code reports). After each main epoch that becomes the best, the engine writes
``checkpoints/RUN_ID.best.pt`` = ``{run_id, epoch, test_top1, model}`` (tensors and plain values only: read back with
``torch.load(weights_only=True)``), after the epoch's checkpoint. A process stopped between the two writes leaves the
checkpoint one best epoch ahead; on resume the checkpoint's model *is* that epoch's, so :func:`repair` writes it then.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where weights are read or written: a path is known without torch
    from torch import nn

from cskd.engine.checkpoint import CheckpointError, save_atomic


def best_path(checkpoint: Path) -> Path:
    """``checkpoints/RUN_ID.best.pt`` beside ``checkpoints/RUN_ID.pt``."""
    return checkpoint.with_suffix(".best.pt")


def best_row(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first main-phase epoch row with the highest test top-1 (None before the first main epoch)."""
    main = [row for row in history if row["phase"] == "main"]
    return max(main, key=lambda row: row["test_top1"]) if main else None


def _save(checkpoint: Path, run_id: str, row: dict[str, Any], model: nn.Module) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"run_id": run_id, "epoch": int(row["epoch"]), "test_top1": float(row["test_top1"])}
    save_atomic({**meta, "model": state}, best_path(checkpoint))


def save_if_best(checkpoint: Path, run_id: str, history: list[dict[str, Any]], model: nn.Module) -> None:
    """After an epoch (the last row of ``history``): write ``model`` as the best weights if this epoch is the best."""
    best = best_row(history)
    if best is not None and best is history[-1]:
        _save(checkpoint, run_id, best, model)


def saved_epoch(checkpoint: Path) -> int | None:
    """The epoch of the best weights on disk (None when there are none or they cannot be read)."""
    try:
        return int(load_best(checkpoint)["epoch"])
    except CheckpointError:
        return None


def repair(checkpoint: Path, run_id: str, history: list[dict[str, Any]], model: nn.Module) -> None:
    """On resume: when the best weights on disk are not of the history's best epoch and that epoch is the last one
    (the process stopped between the two writes), write them from ``model``, which holds that epoch's weights."""
    best = best_row(history)
    if best is None or saved_epoch(checkpoint) == best["epoch"]:
        return
    if best is history[-1]:
        _save(checkpoint, run_id, best, model)


def load_best(checkpoint: Path, run_id: str | None = None) -> dict[str, Any]:
    """``{run_id, epoch, test_top1, model}`` of the best weights beside ``checkpoint``; raises
    :class:`CheckpointError` naming the file when missing, unreadable or of another run."""
    path = best_path(checkpoint)
    if not path.exists():
        raise CheckpointError(
            f"no best-epoch weights {path}: the run is unfinished, or was trained before cskd kept them (use the last "
            f"epoch's weights: --weights last)"
        )
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(f"best-epoch weights {path} are damaged ({type(error).__name__}: {error})") from None
    if not isinstance(state, dict) or "model" not in state or "epoch" not in state:
        raise CheckpointError(f"{path} is not a best-epoch weights file (expected run_id, epoch, test_top1, model)")
    if run_id is not None and state.get("run_id") != run_id:
        raise CheckpointError(f"best-epoch weights {path} belong to run {state.get('run_id')}, not {run_id}")
    return state
