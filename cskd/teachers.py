"""The teacher a student distils from: its teacher run's checkpoint, or a checkpoint file the suite supplies (suite key
``teacher_checkpoints``, pinned by sha256), loaded and checked before anything distils from it.

A teacher run teaches only when its latest row is ``ok`` and its checkpoint is readable, its own and finite
(:func:`cskd.engine.trainer.load_trained_model`); a supplied file only when it exists, has the sha256 the suite names
(:meth:`cskd.run_status.RunStatuses.supplied_problem`) and fits the teacher's model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from cskd.data import DeviceLoader, ImageDataset
from cskd.engine.checkpoint import CheckpointError
from cskd.engine.trainer import EngineOptions, evaluate, load_trained_model
from cskd.run_data import RunData
from cskd.run_status import RunStatuses

if TYPE_CHECKING:
    from cskd.plan import RunSpec


def verify_supplied_teachers(runs: list[RunSpec], status: RunStatuses, data: RunData) -> None:
    """Raise :class:`CheckpointError` now, before any training, when a teacher checkpoint the suite supplies for one
    of ``runs`` not yet done is missing, not the file the suite names (sha256), damaged or not fitting its model."""
    statuses = status.statuses()
    checked = set()
    for run in runs:
        supplied = run.teacher_checkpoint
        if supplied is None or supplied.path in checked or statuses[run.run_id].state == "done":
            continue
        checked.add(supplied.path)
        _load_supplied(run, data.of(run).num_classes, EngineOptions(), status)


def load_teacher(
    run: RunSpec, data: ImageDataset, engine: EngineOptions, status: RunStatuses
) -> tuple[nn.Module, float | None]:
    """The trained teacher of ``run`` and its best top-1, from its run or a supplied checkpoint (then its top-1 on
    ``data``'s test split).

    Raises when it cannot teach: a teacher run whose latest row is not ``ok``, a checkpoint that is missing,
    damaged, of a diverged run or not fitting the model, a supplied file with the wrong sha256.
    """
    if run.teacher_checkpoint is not None:
        model = _load_supplied(run, data.num_classes, engine, status)
        return model, evaluate(model, _test_loader(data, engine), engine)["test_top1"]
    paths = status.store.paths
    with paths.lock(run.teacher_run):  # waits while another runner trains this teacher
        latest = status.store.latest().get(run.teacher_run)
    if latest is None or latest["status"] != "ok":
        state = "no row" if latest is None else f"its latest row: {latest['status']}: {latest['error']}"
        raise RuntimeError(f"teacher run {run.teacher_run} ({run.teacher}) has not finished successfully ({state})")
    model = load_trained_model(
        run.teacher_model.name,
        run.teacher_model.kwargs,
        data.num_classes,
        paths.checkpoint(run.teacher_run),
        engine,
        fix="run the sweep again: a finished teacher whose checkpoint cannot teach is trained again",
        run_id=run.teacher_run,
    )
    return model, float(latest["best_top1"])


def _load_supplied(run: RunSpec, num_classes: int, engine: EngineOptions, status: RunStatuses) -> nn.Module:
    supplied = run.teacher_checkpoint
    problem = status.supplied_problem(supplied)
    if problem:
        raise CheckpointError(problem)
    return load_trained_model(
        run.teacher_model.name,
        run.teacher_model.kwargs,
        num_classes,
        supplied.path,
        engine,
        fix="download it again (suite key teacher_checkpoints)",
    )


def _test_loader(data: ImageDataset, engine: EngineOptions) -> DeviceLoader:
    return DeviceLoader(
        data.test_images,
        data.test_labels,
        batch_size=256,
        augment=data.augment,
        train=False,
        seed=0,
        device=engine.device,
    )
