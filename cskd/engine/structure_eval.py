"""The engine's test pass with the category-structure metrics (cskd/structure.py, docs/structure.md).

One forward of the student over the test set gives the accuracy of :func:`cskd.engine.trainer.evaluate` and the pooled
embeddings and logits the structure metrics need; the teacher's embeddings and logits of the same test images are
computed once per lockstep group (:func:`forward_test_set`) and reused for every student and epoch. The metrics are
computed on the device, in float64.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from cskd.data import DeviceLoader
from cskd.structure import STRUCTURE_COLUMNS, structure_metrics


@dataclass(frozen=True)
class NetworkOutputs:
    """A network's pooled embeddings ``[N, D]`` and logits ``[N, K]`` over the test set, with its labels ``[N]``."""

    embedding: Tensor
    logits: Tensor
    labels: Tensor


@torch.no_grad()
def forward_test_set(
    model: nn.Module, loader: DeviceLoader, autocast: Callable[[], AbstractContextManager[None]]
) -> NetworkOutputs:
    """``model``'s embeddings and logits (float32) over one pass of the test ``loader`` (in its fixed order)."""
    from cskd import models  # here, not at the top: importing it imports timm (seconds; cskd.engine.trainer)

    was_training = model.training
    model.eval()
    embeddings, logits, labels = [], [], []
    for x, y in loader.epoch(0):
        with autocast():
            features = models.extract_features(model, x)
        embeddings.append(features.embedding.float())
        logits.append(features.logits.float())
        labels.append(y)
    model.train(was_training)
    return NetworkOutputs(torch.cat(embeddings), torch.cat(logits), torch.cat(labels))


def evaluate_with_structure(
    model: nn.Module,
    loader: DeviceLoader,
    autocast: Callable[[], AbstractContextManager[None]],
    teacher: NetworkOutputs | None,
) -> dict[str, float]:
    """Test loss (mean cross-entropy), top-1 and top-5 (%) and every structure metric (NaN where undefined; the
    teacher comparisons NaN without ``teacher``) of ``model`` over ``loader``."""
    student = forward_test_set(model, loader, autocast)
    if teacher is not None and not torch.equal(teacher.labels, student.labels):
        raise RuntimeError("the teacher's test pass saw other labels than the student's: the test loader is not fixed")
    ranked = student.logits.topk(min(5, student.logits.shape[1]), dim=1).indices
    hits = ranked == student.labels[:, None]
    samples = student.labels.shape[0]
    metrics = {
        "test_loss": float(nn.functional.cross_entropy(student.logits, student.labels, reduction="sum")) / samples,
        "test_top1": 100.0 * float(hits[:, 0].sum()) / samples,
        "test_top5": 100.0 * float(hits.any(dim=1).sum()) / samples,
    }
    structure = structure_metrics(
        student.embedding,
        student.logits,
        student.labels,
        None if teacher is None else teacher.embedding,
        None if teacher is None else teacher.logits,
    )
    return metrics | structure


def final_structure(history: list[dict[str, float]]) -> dict[str, float | None]:
    """The structure metrics of the last main epoch in ``history`` (None where undefined or not recorded)."""
    main = [row for row in history if row.get("phase") == "main"]
    last = main[-1] if main else {}
    values = {column: last.get(column) for column in STRUCTURE_COLUMNS}
    return {column: None if value is None or value != value else float(value) for column, value in values.items()}
