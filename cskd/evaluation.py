"""``cskd eval`` and ``cskd export``: a trained run's weights, evaluated on a dataset or written out as a plain model.

A run is found by its id in ``RESULTS/*/runs.csv`` (its latest row must be ``ok``), then resolved to its
:class:`~cskd.plan.RunSpec` by expanding its suite (the row's, or ``--suite``, with the same ``--set`` overrides it
ran with) under the row's profile and dataset: the model, its arguments and the data path (dataset, subset,
normalisation) are then exactly the training run's. Its weights are the best epoch's (``checkpoints/RUN_ID.best.pt``,
:mod:`cskd.engine.best_weights`: the number the table shows) or the last epoch's (``checkpoints/RUN_ID.pt``).

An exported model is ``NAME.safetensors`` (a plain state dict) and ``NAME.json``: what builds it with timm
(:data:`EXPORT_FORMAT`; docs/models.md shows loading it with timm alone).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from cskd.data import ImageDataset
from cskd.engine import best_weights, checkpoint
from cskd.engine.checkpoint import CheckpointError
from cskd.engine.trainer import EngineOptions, evaluate, evaluation_loader, prepare_model
from cskd.locations import SuitePaths
from cskd.models import create_model, model_names
from cskd.plan import Plan, RunSpec, expand
from cskd.results import latest_rows, read_runs
from cskd.suite import SuiteError, load_suite

if TYPE_CHECKING:
    from cskd.zoo import FetchedTeacher

WEIGHTS = ("best", "last")
#: version of the exported JSON's layout
EXPORT_FORMAT = 1


class EvaluationError(ValueError):
    """A run or checkpoint that cannot be evaluated or exported; the message names it and the fix."""


@dataclass(frozen=True)
class FoundRun:
    spec: RunSpec
    row: dict[str, Any]  # its latest runs.csv row
    results: Path  # RESULTS/SUITE, the folder holding its runs.csv and checkpoints
    plan: Plan  # the plan it was found in (its suite and profile)

    @property
    def checkpoint(self) -> Path:
        return SuitePaths(self.results).checkpoint(self.spec.run_id)


def find_run(run_id: str, results_dir: Path, suite: str | None = None, overrides: tuple[str, ...] = ()) -> FoundRun:
    """The finished run ``run_id`` of the results in ``results_dir``, resolved to its configuration."""
    files = [paths.runs_csv for paths in SuitePaths.every(results_dir)]
    found = [(f, row) for f in files if (row := latest_rows(read_runs(f)).get(run_id)) is not None]
    if not found:
        where = ", ".join(str(f) for f in files) or f"no runs.csv under {results_dir}"
        raise EvaluationError(f"no run {run_id} in {where} (run ids are in runs.csv and `cskd status SUITE`)")
    runs_csv, row = found[-1]
    if row["status"] != "ok":
        raise EvaluationError(f"run {run_id} is not finished ok in {runs_csv} (status {row['status']}): {row['error']}")
    name = suite or row["suite"]
    try:
        plan = expand(load_suite(name, overrides), row["profile"], dataset=row["dataset"])
        spec = next((r for r in plan.runs if r.run_id == run_id), None)
    except SuiteError as error:
        raise EvaluationError(f"run {run_id}: cannot load its suite: {error} (pass --suite PATH)") from None
    if spec is None:
        raise EvaluationError(
            f"run {run_id} ({runs_csv}) is not a run of suite {name} as it now reads (profile {row['profile']}, "
            f"dataset {row['dataset']}): pass the suite file it ran with as --suite, and the --set it ran with"
        )
    return FoundRun(spec, row, runs_csv.parent, plan)


def run_weights(found: FoundRun, which: str) -> tuple[dict[str, torch.Tensor], int]:
    """The state dict of ``found``'s best or last epoch, and that epoch (main-phase, 1-based)."""
    if which == "best":
        state = best_weights.load_best(found.checkpoint, found.spec.run_id)
        recorded = found.row.get("best_epoch")
        if recorded is not None and int(recorded) != int(state["epoch"]):
            raise CheckpointError(
                f"best-epoch weights {best_weights.best_path(found.checkpoint)} are of epoch {state['epoch']}, but "
                f"runs.csv records best epoch {recorded} for run {found.spec.run_id}: use --weights last, or train "
                f"the run again"
            )
        return state["model"], int(state["epoch"])
    return read_weights(found.checkpoint), int(found.row["epochs"])


def build(
    name: str, kwargs: dict[str, Any], num_classes: int, weights: dict[str, torch.Tensor], where: Path
) -> nn.Module:
    """Model ``name`` with ``weights`` loaded (every key, exact shapes); an error names ``where``."""
    model = create_model(name, num_classes=num_classes, **kwargs)
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        detail = " ".join(str(error).split())[:300]
        raise CheckpointError(
            f"{where} does not fit model {name} {kwargs or ''} with {num_classes} classes: {detail}"
        ) from None
    return model


@dataclass(frozen=True)
class Evaluation:
    top1: float
    top5: float
    loss: float
    images: int
    images_per_second: float

    def describe(self) -> str:
        return (
            f"top-1 {self.top1:.2f}  top-5 {self.top5:.2f}  loss {self.loss:.4f}  on {self.images} test images  "
            f"({self.images_per_second:.0f} images/s)"
        )


def evaluate_model(model: nn.Module, data: ImageDataset, options: EngineOptions, batch_size: int = 256) -> Evaluation:
    """Test top-1/top-5 (%), mean cross-entropy and speed of ``model`` on ``data``'s test split, through the loader
    and evaluation of training (:func:`cskd.engine.trainer.evaluate`)."""
    loader = evaluation_loader(data, options, batch_size, seed=0)
    model = prepare_model(model, options)
    start = time.perf_counter()
    metrics = evaluate(model, loader, options)
    if options.device.type == "cuda":
        torch.cuda.synchronize(options.device)
    seconds = time.perf_counter() - start
    images = len(data.test_labels)
    return Evaluation(metrics["test_top1"], metrics["test_top5"], metrics["test_loss"], images, images / seconds)


def export_run(found: FoundRun, data: ImageDataset, which: str, out_dir: Path, fmt: str = "safetensors") -> list[Path]:
    """Write ``found``'s student as ``OUT/RUN_ID.safetensors`` (or ``.pt``, a weights-only torch file) and
    ``OUT/RUN_ID.json``; return both paths."""
    weights, epoch = run_weights(found, which)
    spec = found.spec
    build(spec.student_model.name, spec.student_model.kwargs, data.num_classes, weights, found.checkpoint)
    tensors = {k: v.detach().cpu().contiguous() for k, v in weights.items()}
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{spec.run_id}.{'safetensors' if fmt == 'safetensors' else 'pt'}"
    if fmt == "safetensors":
        from safetensors.torch import save_file

        save_file(tensors, str(target))
    else:
        torch.save(tensors, target)
    accuracy = found.row["best_top1"] if which == "best" else found.row["last_top1"]
    description = {
        "format": EXPORT_FORMAT,
        "weights": target.name,
        "timm_name": spec.student_model.name,
        "kwargs": spec.student_model.kwargs,
        "num_classes": data.num_classes,
        "classes": data.classes,
        "input_size": [int(data.test_images.shape[1]), data.augment.crop, data.augment.crop],
        "mean": list(data.augment.mean),
        "std": list(data.augment.std),
        "pixels": "RGB scaled to [0, 1], then (x - mean) / std per channel",
        "registers_with": "cskd.models" if spec.student_model.name in model_names() else "timm",
        "run": {
            "run_id": spec.run_id,
            "suite": spec.suite,
            "profile": spec.profile,
            "label": spec.student,
            "teacher": spec.teacher,
            "method": spec.method.label,
            "seed": spec.seed,
            "dataset": data.name,
            "epoch": epoch,
            "which": which,
            "test_top1": accuracy,
        },
    }
    sidecar = out_dir / f"{spec.run_id}.json"
    sidecar.write_text(json.dumps(description, indent=2) + "\n")
    return [target, sidecar]


def read_export(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """An exported model's description (``PATH.json`` beside it) and weights."""
    sidecar = path.with_suffix(".json")
    if not sidecar.exists():
        raise EvaluationError(f"{path}: no {sidecar.name} beside it (written by cskd export); pass --model instead")
    description = json.loads(sidecar.read_text())
    return description, read_weights(path)


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a safetensors file, a bare weights-only torch file or a cskd training checkpoint."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(f"{path} is damaged or not a checkpoint ({type(error).__name__}: {error})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a state dict")
    return checkpoint.model_state(state)


def run_data(found: FoundRun, data_dir: Path | None, dataset: str | None, test_subset: int | None) -> ImageDataset:
    """The data of ``found`` as its training loaded it (:meth:`cskd.run_data.RunData.of`: dataset, subset,
    normalisation), or on another ``dataset`` (its whole test split, or ``test_subset`` images) with the run's
    normalisation."""
    import dataclasses

    from cskd.run_data import RunData

    spec = found.spec
    if dataset is not None and dataset != spec.dataset:
        spec = dataclasses.replace(spec, dataset=dataset, train_subset=None, test_subset=None)
    if test_subset is not None:
        spec = dataclasses.replace(spec, test_subset=test_subset)
    return RunData(data_dir).of(spec)


def evaluate_teacher(
    fetched: FetchedTeacher, dataset: str, data_dir: Path | str | None, device: torch.device
) -> dict[str, Any]:
    """Top-1/top-5 and loss of a converted teacher on ``dataset``'s test split (:func:`cskd.evaluation.evaluate_model`,
    the data path of training, the dataset's own normalisation as the benchmark's teachers were trained with)."""
    from cskd.data import load_dataset

    data = load_dataset(dataset, data_dir)
    model = build(fetched.teacher.model, {}, data.num_classes, read_weights(fetched.path), fetched.path)
    result = evaluate_model(model, data, EngineOptions(device=device))
    return {"dataset": data.name, "top1": result.top1, "top5": result.top5, "loss": result.loss}
