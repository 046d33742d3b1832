"""Timed runs of the suite's engine: every method's student in lockstep on one teacher stream (``train_group``).

A measurement is two ``train_group`` calls on the same jobs (the same checkpoint files, in a temporary directory):

1. warm-up, untimed: epoch 1 over ``warmup * batch`` training images. A method's initialisation stage (AB's one
   epoch, see ``config.MAIN_PHASE_ARGS``) runs here too, so the timed epoch is main-phase steps only.
2. timed as a whole call: epoch 2 over ``steps * batch`` training images, with everything ``train_group`` does around
   it: building the teacher's feature spec and the students, resuming each from its epoch-1 checkpoint, the device
   loader, the epoch, the per-epoch evaluation (on a test subset of one image per class, so it is negligible), the
   checkpoints and the epoch CSVs.
"""

from __future__ import annotations

import copy
import dataclasses
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from cskd.data import ImageDataset, subset
from cskd.engine import trainer
from cskd.engine.recipe import Recipe
from cskd.engine.trainer import EngineOptions, StudentJob, prepare_model, train_group
from cskd.features import Features
from throughput_parts.config import BenchConfig
from throughput_parts.load import OtherLoad
from throughput_parts.memory import PeakMemory
from throughput_parts.timing import Measurement, synchronize


@dataclass(frozen=True)
class EngineVariant:
    """Engine options to measure, and whether the teacher's forward runs under ``torch.inference_mode``."""

    label: str
    options: EngineOptions
    teacher_inference_mode: bool = False


def lever_variants(default: EngineOptions, levers: list[str]) -> list[EngineVariant]:
    """The engine's default options with one speed lever flipped per variant, plus every lever off.

    bf16: bf16 autocast on (the engine's default is fp32); channels_last: NCHW kept; compile: ``torch.compile`` of
    the feature extraction on; compile_bf16: both; inference_mode: the teacher's forward under
    ``torch.inference_mode``, not ``no_grad``.
    """
    flipped = {
        "bf16": ("+ bf16 autocast", dataclasses.replace(default, amp=True), False),
        "channels_last": ("NCHW (channels_last off)", dataclasses.replace(default, channels_last=False), False),
        "compile": ("+ torch.compile", dataclasses.replace(default, compile=True), False),
        "compile_bf16": (
            "+ torch.compile + bf16 autocast",
            dataclasses.replace(default, compile=True, amp=True),
            False,
        ),
        "inference_mode": ("+ teacher under inference_mode", default, True),
    }
    unknown = sorted(set(levers) - set(flipped))
    if unknown:
        raise ValueError(f"unknown lever(s) {unknown}: choose from {sorted(flipped)}")
    off = dataclasses.replace(default, amp=False, channels_last=False, compile=False)
    return [EngineVariant("all levers off (fp32, NCHW, eager, no_grad)", off)] + [
        EngineVariant(*flipped[name]) for name in levers
    ]


def time_engine(config: BenchConfig, data: ImageDataset, teacher: nn.Module, variant: EngineVariant) -> Measurement:
    """Warm up, then time one whole ``train_group`` call of ``config.steps`` batches for every method at once.

    ``teacher`` (from :meth:`BenchConfig.build_teacher`) is copied, so each variant prepares its own.
    """
    options = variant.options
    warm = subset(data, config.warmup * config.batch_size, data.num_classes, seed=config.seed)
    timed = subset(data, config.steps * config.batch_size, data.num_classes, seed=config.seed)
    teacher = prepare_model(copy.deepcopy(teacher), options)
    patch = teacher_under_inference_mode(teacher) if variant.teacher_inference_mode else nullcontext()
    folder = tempfile.TemporaryDirectory(prefix="cskd-throughput-")
    with folder, patch, PeakMemory(options.device) as peak, OtherLoad() as load:
        jobs = _jobs(config, Path(folder.name))
        _checked(
            train_group(jobs, warm, Recipe(epochs=1, batch_size=config.batch_size, milestones=()), options, teacher)
        )
        synchronize(options.device)
        start = time.perf_counter()
        outcomes = train_group(
            jobs, timed, Recipe(epochs=2, batch_size=config.batch_size, milestones=()), options, teacher
        )
        synchronize(options.device)
        seconds = time.perf_counter() - start
    _checked(outcomes)
    return Measurement(config.timed_images, seconds, memory=peak.describe(), others_cpus=load.cpus)


def _jobs(config: BenchConfig, folder: Path) -> list[StudentJob]:
    return [
        StudentJob(
            run_id=f"throughput-{name}",
            model=config.student,
            method=name,
            checkpoint=folder / f"{name}.pt",
            epochs_csv=folder / f"{name}.csv",
            model_kwargs=config.model_kwargs,
            method_args=args,
            label=name,
        )
        for name, args in config.methods.items()
    ]


def _checked(outcomes: list[trainer.RunOutcome]) -> None:
    failed = [f"{o.run_id}: {o.error}" for o in outcomes if o.status != "ok"]
    if failed:
        raise RuntimeError("the engine failed a student: " + "; ".join(failed))


@contextmanager
def teacher_under_inference_mode(teacher: nn.Module) -> Iterator[None]:
    """Within the block, the engine's forward of ``teacher`` runs under ``torch.inference_mode``.

    The engine has no switch for this (it runs the teacher under ``no_grad``), so the engine module's
    ``extract_features`` is replaced for the block by one that treats ``teacher`` differently. Inference tensors
    cannot be saved for a backward pass, which a loss such as an MSE to the teacher's logits does, so the teacher's
    features are cloned out of inference mode afterwards; that copy is part of the lever's cost.
    """
    original = trainer.extract_features

    def extract(model: nn.Module, x: Tensor, *, pre_relu: bool = False) -> Features:
        if model is not teacher:
            return original(model, x, pre_relu=pre_relu)
        with torch.inference_mode():
            features = original(model, x, pre_relu=pre_relu)
        return Features(
            stages=[t.clone() for t in features.stages],
            embedding=features.embedding.clone(),
            logits=features.logits.clone(),
            pre_relu=[t.clone() for t in features.pre_relu] if features.pre_relu is not None else None,
        )

    trainer.extract_features = extract
    try:
        yield
    finally:
        trainer.extract_features = original
