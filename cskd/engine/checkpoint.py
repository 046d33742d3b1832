"""Checkpoint files: written atomically (a temporary file in the same directory, then moved into place), read back
with errors that name the file and what to do, and verified before a trained model is used as a teacher."""

from __future__ import annotations

import math
import os
import pickle
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where a file is read or written: the run status checks for one without torch
    import torch

#: what to do about a damaged checkpoint of a run, the default advice
RESTART_RUN = "delete it to train this run again from scratch"
#: how to use a file that needs more than plain data, given only when its source is trusted
TRUSTED_CONVERSION = (
    "if it comes from a source you trust, convert it once with `cskd convert-checkpoint --trust-pickle` "
    "(docs/results.md, Checkpoints)"
)


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used (damaged, foreign, diverged, or not fitting its model); the message names the
    file and what to do."""


def save_atomic(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` with ``torch.save`` so that ``path`` always holds a complete checkpoint or none."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            torch.save(state, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def load(path: Path, fix: str = RESTART_RUN) -> dict[str, Any] | None:
    """The checkpoint at ``path``, or None when there is none; an unreadable file raises :class:`CheckpointError`
    naming it and ``fix``.

    A checkpoint is read as data (``torch.load(weights_only=True)``: tensors, numbers, strings and containers of
    them), never as a pickle that could run code: a file that needs more raises, naming the object it holds.
    """
    if not path.exists():
        return None
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "GLOBAL" not in str(error):  # not a refused object: a damaged file
            raise CheckpointError(
                f"checkpoint {path} is damaged or not a checkpoint ({_short(error)}): {fix}"
            ) from None
        advice = "; ".join(part for part in (fix, TRUSTED_CONVERSION) if part)
        raise CheckpointError(
            f"checkpoint {path} is not plain data: it holds {_unsafe_object(error)}, which only a pickle that runs "
            f"code could rebuild, and cskd reads checkpoints as tensors and plain containers only: {advice}"
        ) from None
    except Exception as error:  # torch raises RuntimeError, EOFError, UnpicklingError, ... for a truncated file
        raise CheckpointError(f"checkpoint {path} is damaged or not a checkpoint ({_short(error)}): {fix}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, not a state dict: {fix}")
    return state


def _unsafe_object(error: Exception) -> str:
    """The global a weights-only load refused, as torch names it (``posix.system``), from its error message."""
    match = re.search(r"GLOBAL ([\w.]+)", str(error))
    return f"the object {match.group(1)}" if match else "an object other than tensors and plain containers"


def _short(error: Exception, limit: int = 300) -> str:
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text if len(text) <= limit else text[:limit] + " ..."


def diverged(history: list[dict[str, Any]]) -> str:
    """Why a run whose per-epoch ``history`` this is has diverged ("" when every epoch's training loss is finite)."""
    for row in history:
        if not math.isfinite(row["train_loss"]):
            return f"training loss is not finite ({row['train_loss']}) in {row['phase']} epoch {row['epoch']}"
    return ""


def model_state(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The model weights of a training checkpoint, or the checkpoint itself when it is a bare state dict."""
    return state.get("model", state)


def load_teacher_state(path: Path, fix: str, run_id: str | None = None) -> dict[str, torch.Tensor]:
    """The model weights at ``path``, verified fit to teach: readable, written by run ``run_id`` (when given), from a
    run that never diverged, and every weight finite. Raises :class:`CheckpointError` naming the file and ``fix``."""
    import torch

    state = load(path, fix)
    if state is None:
        raise CheckpointError(f"checkpoint {path} does not exist: {fix}")
    if run_id is not None and state.get("run_id") != run_id:
        raise CheckpointError(f"checkpoint {path} belongs to run {state.get('run_id')}, not {run_id}: {fix}")
    problem = diverged(state.get("history", []))
    if problem:
        raise CheckpointError(f"checkpoint {path} is of a run that diverged ({problem}): it cannot teach")
    weights = model_state(state)
    bad = [
        name
        for name, value in weights.items()
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not value.isfinite().all()
    ]
    if bad:
        raise CheckpointError(f"checkpoint {path} holds non-finite weights ({', '.join(bad[:3])}): it cannot teach")
    return weights
