"""The training loop: one or several students trained in lockstep on one teacher stream.

Students that share a teacher, a dataset, a recipe and a seed see exactly the same batches, so one teacher forward
per batch can feed every student's method. Each student keeps its own model, method, optimiser, checkpoint and
epoch CSV, and its trajectory is the one it would have trained alone: its initial weights come from
``torch.manual_seed(seed)`` right before it is built, its batches from a loader seeded by (seed, phase, epoch), and a
method's own randomness from the method's generator. Training a teacher (or a CE baseline) is the group of one student
with method ``ce`` and no teacher.

Order within the run: the methods' initialisation stages (``init`` phase, as many epochs as each method asks, at the
method's ``init_lr`` or else the recipe's base learning rate), then the recipe's ``main`` epochs. Before each epoch a
method hears ``begin_epoch(phase, epoch)``; once built it gets the training labels (``bind_training_set``), and a
method that keeps per-sample state receives each batch's sample indices from the loader. A checkpoint (model, method
state dict with its buffers, the method's generator, optimisers) is written atomically after every epoch; a restarted
group skips what each student has finished and resumes each from its last checkpoint.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from tqdm import tqdm

from cskd.data import DeviceLoader, ImageDataset
from cskd.engine import best_weights, checkpoint, speed
from cskd.engine.progress import EpochLog
from cskd.engine.recipe import Recipe
from cskd.engine.structure_eval import NetworkOutputs, evaluate_with_structure, final_structure, forward_test_set
from cskd.features import Features, FeatureSpec
from cskd.methods import build_method
from cskd.results import EPOCH_COLUMNS
from cskd.stopping import check_stop
from cskd.tracking import Trackers


# cskd.models is imported on first use: importing it registers every family with timm, which imports torchvision and
# torch._dynamo (seconds), and `cskd status` and `cskd run --dry-run` import this module without building a model.
def create_model(name: str, num_classes: int, **kwargs: Any) -> nn.Module:
    """:func:`cskd.models.create_model`."""
    from cskd import models

    return models.create_model(name, num_classes=num_classes, **kwargs)


def extract_features(model: nn.Module, x: Tensor, *, pre_relu: bool = False) -> Features:
    """:func:`cskd.models.extract_features`."""
    from cskd import models

    return models.extract_features(model, x, pre_relu=pre_relu)


def feature_spec(model: nn.Module, input_size: tuple[int, int, int]) -> FeatureSpec:
    """:func:`cskd.models.feature_spec`."""
    from cskd import models

    return models.feature_spec(model, input_size)


def count_parameters(model: nn.Module) -> int:
    """:func:`cskd.models.count_parameters`."""
    from cskd import models

    return models.count_parameters(model)


@dataclass(frozen=True)
class StudentJob:
    """One model to train: what it is and where its files go."""

    run_id: str
    model: str
    method: str
    checkpoint: Path
    epochs_csv: Path
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    method_args: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    config: dict[str, Any] = field(default_factory=dict)  # the resolved run configuration, for trackers (issue 21)
    log_dir: Path | None = None  # where --log trackers write (cskd.tracking)


@dataclass(frozen=True)
class EngineOptions:
    """How to train (not what): device and the speed levers, each recorded with the run."""

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    seed: int = 0
    amp: bool = False  # bf16 autocast (CUDA, or a CPU with AMX/AVX512-BF16); enters the run id (cskd.engine.speed)
    channels_last: bool = True  # on every device: measured faster on CUDA and on CPU (docs/performance.md)
    compile: bool = False  # torch.compile forward and backward (the CLI's CPU default: cskd.engine.speed)
    deterministic: bool = False  # deterministic algorithms only (bitwise repeatable on CPU; slower on CUDA)
    progress: bool = True
    log: tuple[str, ...] = ()  # experiment trackers: tensorboard, wandb (cskd.tracking)


@dataclass
class RunOutcome:
    """What the runner records of a trained (or failed) student."""

    run_id: str
    status: str
    error: str = ""
    best_top1: float | None = None
    best_top5: float | None = None
    best_epoch: int | None = None
    last_top1: float | None = None
    last_top5: float | None = None
    epochs: int = 0
    init_epochs: int = 0
    wall_seconds: float = 0.0
    images_per_second: float | None = None
    student_params: int | None = None
    lockstep: int = 1
    structure: dict[str, float | None] = field(default_factory=dict)  # last main epoch's cskd.structure metrics
    compiled: bool = False  # trained through torch.compile (False: eager, asked for or after a failed compile)


def apply_global_flags(options: EngineOptions) -> None:
    """Set torch's process-wide flags that ``options`` asks for: deterministic algorithms (cuBLAS's workspace, no
    cuDNN autotuning). Flags are only ever switched on, so a process that asked for determinism keeps it."""
    if options.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def autocast(options: EngineOptions) -> AbstractContextManager:
    return speed.autocast(options.amp, options.device)


def channels_last_hangs_on_cpu(model: nn.Module) -> bool:
    """Whether ``model`` has a 1x1 strided convolution from fewer than 16 channels.

    torch 2.14.1's CPU backward of such a convolution in channels_last never returns or crashes the process (seen: 4 ->
    8 channels, stride 2, batches of 64 at 32x32, e.g. the shortcut of ``cifar_resnet18_w0_25`` at
    ``width_multiplier: 0.25``, hangs; 8 -> 16, 9 -> 16 and 12 -> 24 channels segfault or abort on an Intel Xeon with
    AMX at batch sizes such as 3, 7 and 25, e.g. the same model at ``width_multiplier: 0.5``; 16 channels and more
    did not), so a group holding one trains in NCHW on the CPU.
    """
    return any(
        isinstance(m, nn.Conv2d) and m.in_channels < 16 and m.kernel_size == (1, 1) and m.stride != (1, 1)
        for m in model.modules()
    )


def cpu_safe_options(
    options: EngineOptions, jobs: list[StudentJob], num_classes: int, teacher: nn.Module | None
) -> EngineOptions:
    """``options`` with channels_last off when a network of the group would hang in it on the CPU."""
    if not options.channels_last or options.device.type != "cpu":
        return options
    networks = [teacher] if teacher is not None else []
    with torch.device("meta"):
        for job in jobs:
            try:
                networks.append(create_model(job.model, num_classes=num_classes, **job.model_kwargs))
            except Exception:  # a bad model fails its own run when it is built for real
                continue
    if any(channels_last_hangs_on_cpu(net) for net in networks):
        return replace(options, channels_last=False)
    return options


def prepare_model(model: nn.Module, options: EngineOptions) -> nn.Module:
    model = model.to(options.device)
    if options.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def load_trained_model(
    name: str,
    kwargs: dict[str, Any],
    num_classes: int,
    path: Path,
    options: EngineOptions,
    *,
    fix: str = "train the teacher again or supply an intact copy of the file",
    run_id: str | None = None,
) -> nn.Module:
    """A teacher rebuilt from a training checkpoint (or a bare state dict) written for it, in eval mode.

    Raises :class:`~cskd.engine.checkpoint.CheckpointError` naming the file (and ``fix``) when it is damaged, of
    another run than ``run_id``, of a diverged run, or written for another architecture, width or class count.
    """
    weights = checkpoint.load_teacher_state(path, fix, run_id)
    model = create_model(name, num_classes=num_classes, **kwargs)
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        detail = " ".join(str(error).split())
        raise checkpoint.CheckpointError(
            f"checkpoint {path} does not fit model {name} {kwargs or ''} with {num_classes} classes: it was written "
            f"for another model, width or dataset; {fix} ({detail[:300]}{' ...' if len(detail) > 300 else ''})"
        ) from None
    return prepare_model(model, options).eval()


class _Student:
    """The live training state of one student: model, method, optimisers, history and timing."""

    def __init__(
        self,
        job: StudentJob,
        teacher_spec: FeatureSpec | None,
        data: ImageDataset,
        recipe: Recipe,
        options: EngineOptions,
    ) -> None:
        self.job = job
        self.recipe = recipe
        self.options = options
        seed_everything(options.seed)
        self.model = prepare_model(create_model(job.model, num_classes=data.num_classes, **job.model_kwargs), options)
        spec = feature_spec(self.model, data.input_size)
        self.method = build_method(job.method, job.method_args, spec, teacher_spec).to(options.device)
        self.method.seed(options.seed)
        self.method.bind_training_set(data.train_labels)
        self.params = count_parameters(self.model)
        trained = list(self.model.parameters()) + list(self.method.trainable_parameters())
        self.optimizer = self._sgd(trained)
        self.init_optimizer = self._sgd(trained) if self.method.init_epochs else None
        self.history: list[dict[str, Any]] = []
        self.done = 0  # epochs completed, init epochs first
        self.wall_seconds = 0.0
        self.train_images = 0
        self.error = ""
        # pre-ReLU features come from hooks that a compiled graph does not rerun: such a student trains eagerly
        compiled = options.compile and not self.method.student_pre_relu
        self.extract = speed.CompiledOrEager(self._extractor(), compiled, f"{job.label or job.method} student")
        self._resume()
        best_weights.repair(self.job.checkpoint, self.job.run_id, self.history, self.model)  # hook (issue 21)
        self.trackers = Trackers(options.log, job.log_dir, job.run_id, job.config) if options.log else None

    def _sgd(self, params: list[nn.Parameter]) -> torch.optim.SGD:
        r = self.recipe
        return torch.optim.SGD(params, lr=r.lr, momentum=r.momentum, weight_decay=r.weight_decay, nesterov=r.nesterov)

    def _extractor(self) -> Callable[[Tensor], Features]:
        from cskd.models import extract_features as features_of  # the function itself, for torch.compile to trace

        pre_relu = self.method.student_pre_relu

        def extract(x: Tensor) -> Features:
            return features_of(self.model, x, pre_relu=pre_relu)

        return extract

    @property
    def total_epochs(self) -> int:
        return self.method.init_epochs + self.recipe.epochs

    @property
    def alive(self) -> bool:
        return not self.error and self.done < self.total_epochs

    def needs(self, phase: str, epoch: int) -> bool:
        if phase == "init":
            return epoch <= self.method.init_epochs and epoch > self.done
        return self.method.init_epochs + epoch > self.done

    def _state(self) -> dict[str, Any]:
        return {
            "run_id": self.job.run_id,
            "model": self.model.state_dict(),
            "method": self.method.state_dict(),
            "method_rng": self.method.rng.get_state(),
            "optimizer": self.optimizer.state_dict(),
            "init_optimizer": self.init_optimizer.state_dict() if self.init_optimizer else None,
            "history": self.history,
            "done": self.done,
            "wall_seconds": self.wall_seconds,
            "train_images": self.train_images,
        }

    def _resume(self) -> None:
        state = checkpoint.load(self.job.checkpoint)
        if state is None:
            return
        if state.get("run_id") != self.job.run_id:
            raise ValueError(
                f"checkpoint {self.job.checkpoint} belongs to another configuration (run {state.get('run_id')}, "
                f"this is {self.job.run_id}): choose another output directory or delete it to start over"
            )
        self.model.load_state_dict(state["model"])
        self.method.load_state_dict(state["method"])
        self.method.rng.set_state(state["method_rng"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.init_optimizer is not None:
            self.init_optimizer.load_state_dict(state["init_optimizer"])
        self.history = state["history"]
        self.done = state["done"]
        self.wall_seconds = state["wall_seconds"]
        self.train_images = state["train_images"]
        problem = checkpoint.diverged(self.history)
        if problem:  # a diverged run stays failed: resuming would go on from its non-finite weights
            self.error = (
                f"{problem} (recorded in {self.job.checkpoint}; the run stays failed: change its configuration, or "
                f"delete the checkpoint to train it again from scratch)"
            )

    def begin_epoch(self, phase: str, epoch: int) -> torch.optim.SGD:
        """Put the student in training mode and return the optimiser of this phase with this epoch's lr set."""
        self.model.train()
        self.method.train()
        self.method.begin_epoch(phase, epoch)
        optimizer = self.init_optimizer if phase == "init" else self.optimizer
        if phase == "main":
            lr = self.recipe.lr_at(epoch)
        else:
            lr = self.recipe.lr if self.method.init_lr is None else self.method.init_lr
        for group in optimizer.param_groups:
            group["lr"] = lr
        if self.recipe.reset_momentum_each_epoch:
            optimizer.state.clear()
        self._epoch = _EpochSums(phase=phase, lr=lr, device=self.options.device)
        self._optimizer = optimizer
        return optimizer

    def step(self, x: Tensor, y: Tensor, teacher: Features | None, phase: str, index: Tensor | None) -> None:
        extra = {"indices": index} if self.method.needs_sample_indices else {}

        def forward_backward(extract: Callable[[Tensor], Features]) -> tuple[Tensor, dict[str, Tensor], Features]:
            with autocast(self.options):
                features = extract(x)
                if phase == "init":
                    terms = self.method.forward_init(features, teacher, y, **extra)
                else:
                    terms = self.method(features, teacher, y, **extra)
            loss = torch.stack([t.float() for t in terms.values()]).sum()
            self._optimizer.zero_grad(set_to_none=True)
            loss.backward()
            return loss, terms, features

        loss, terms, features = self.extract.run(forward_backward, keep=[self.model, self.method])
        self._optimizer.step()
        self._epoch.add(loss.detach(), terms, features.logits.detach(), y)

    def end_epoch(self, phase: str, epoch: int, metrics: dict[str, float], seconds: float, images: int) -> None:
        row = self._epoch.row(epoch) | metrics | {"seconds": seconds}
        self.wall_seconds += seconds
        self.train_images += images
        self.done += 1
        self.history.append(row)
        self.error = checkpoint.diverged([row])
        checkpoint.save_atomic(self._state(), self.job.checkpoint)  # with the diverged epoch, so a resume sees it
        best_weights.save_if_best(self.job.checkpoint, self.job.run_id, self.history, self.model)  # hook (issue 21)
        _write_epochs_csv(self.history, self.job.epochs_csv)
        if self.trackers is not None:  # hook (issue 21): --log tensorboard|wandb
            self.trackers.log_epoch(row, self.done, images / seconds if seconds else None)

    def outcome(self, lockstep: int) -> RunOutcome:
        main = [r for r in self.history if r["phase"] == "main"]
        error = self.error
        if not error and self.done != self.total_epochs:
            error = f"stopped after {self.done} of {self.total_epochs} epochs"
        outcome = RunOutcome(
            run_id=self.job.run_id,
            status="failed" if error else "ok",
            error=error,
            epochs=self.recipe.epochs,
            init_epochs=self.method.init_epochs,
            wall_seconds=self.wall_seconds,
            images_per_second=self.train_images / self.wall_seconds if self.wall_seconds else None,
            student_params=self.params,
            lockstep=lockstep,
            compiled=self.extract.compiled is not None,
            structure=final_structure(self.history),  # issue 23 hook: structure metrics of the last main epoch
        )
        if main:
            best = max(main, key=lambda r: r["test_top1"])  # first epoch reaching the maximum
            outcome.best_top1, outcome.best_top5, outcome.best_epoch = (
                best["test_top1"],
                best["test_top5"],
                best["epoch"],
            )
            outcome.last_top1, outcome.last_top5 = main[-1]["test_top1"], main[-1]["test_top5"]
        return outcome


class _EpochSums:
    """Running sums of one training epoch, kept on the device so the step never waits for the host."""

    def __init__(self, phase: str, lr: float, device: torch.device) -> None:
        self.phase, self.lr = phase, lr
        self.loss = torch.zeros((), device=device)
        self.correct = torch.zeros((), device=device, dtype=torch.long)
        self.terms: dict[str, Tensor] = {}
        self.samples = 0

    def add(self, loss: Tensor, terms: dict[str, Tensor], logits: Tensor, labels: Tensor) -> None:
        n = labels.shape[0]
        self.samples += n
        self.loss += loss.float() * n
        self.correct += (logits.argmax(dim=1) == labels).sum()
        for name, value in terms.items():
            self.terms[name] = self.terms.get(name, 0) + value.detach().float() * n

    def row(self, epoch: int) -> dict[str, Any]:
        n = max(self.samples, 1)
        row: dict[str, Any] = {
            "epoch": epoch,
            "phase": self.phase,
            "lr": self.lr,
            "train_loss": self.loss.item() / n,
            "train_top1": 100.0 * self.correct.item() / n,
        }
        row |= {f"loss_{name}": value.item() / n for name, value in self.terms.items()}
        return row


@torch.no_grad()
def evaluate(model: nn.Module, loader: DeviceLoader, options: EngineOptions) -> dict[str, float]:
    """Test loss (mean cross-entropy), top-1 and top-5 accuracy (%) of ``model`` over ``loader``."""
    model.eval()
    loss = torch.zeros((), device=options.device)
    top1 = torch.zeros((), device=options.device, dtype=torch.long)
    top5 = torch.zeros((), device=options.device, dtype=torch.long)
    samples = 0
    for x, y in loader.epoch(0):
        with autocast(options):
            logits = model(x).float()
        loss += nn.functional.cross_entropy(logits, y, reduction="sum")
        ranked = logits.topk(min(5, logits.shape[1]), dim=1).indices
        hits = ranked == y[:, None]
        top1 += hits[:, 0].sum()
        top5 += hits.any(dim=1).sum()
        samples += y.shape[0]
    return {
        "test_loss": loss.item() / samples,
        "test_top1": 100.0 * top1.item() / samples,
        "test_top5": 100.0 * top5.item() / samples,
    }


def _write_epochs_csv(history: list[dict[str, Any]], path: Path) -> None:
    extra = sorted({k for row in history for k in row} - set(EPOCH_COLUMNS))
    frame = pd.DataFrame(history, columns=[*EPOCH_COLUMNS, *extra])
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".csv.tmp")
    frame.to_csv(temp, index=False)
    temp.replace(path)


def evaluation_loader(data: ImageDataset, options: EngineOptions, batch_size: int, seed: int) -> DeviceLoader:
    """The fixed-order loader of ``data``'s test split on ``options``' device and memory format, as training
    evaluates it (also used to evaluate or recompute a trained run)."""
    memory_format = torch.channels_last if options.channels_last else None
    return DeviceLoader(
        data.test_images,
        data.test_labels,
        batch_size=batch_size,
        augment=data.augment,
        train=False,
        seed=seed,
        device=options.device,
        memory_format=memory_format,
    )


def train_group(
    jobs: list[StudentJob],
    data: ImageDataset,
    recipe: Recipe,
    options: EngineOptions,
    teacher: nn.Module | None = None,
    log: EpochLog | None = None,
) -> list[RunOutcome]:
    """Train every job in lockstep on one stream of batches (one teacher forward per batch) and report each; one
    line per epoch goes to stdout (``log``: the sweep's, for its group number and ETAs; :mod:`cskd.engine.progress`).

    A job that fails (bad arguments, a non-finite loss, an exception in its step) is recorded as failed and dropped;
    the others go on. Interrupting the process (Ctrl-C, a kill) loses at most the epoch in progress.
    """
    apply_global_flags(options)
    speed.check_amp(options.amp, options.device)  # before anything trains
    if teacher is not None:
        teacher = teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
    options = cpu_safe_options(options, jobs, data.num_classes, teacher)
    if teacher is not None and not options.channels_last:
        teacher = teacher.to(memory_format=torch.contiguous_format)
    teacher_spec = feature_spec(teacher, data.input_size) if teacher is not None else None
    students: list[_Student] = []
    failed: list[RunOutcome] = []
    for job in jobs:
        try:
            students.append(_Student(job, teacher_spec, data, recipe, options))
        except Exception as error:  # a bad method argument fails this run only
            failed.append(RunOutcome(run_id=job.run_id, status="failed", error=f"{type(error).__name__}: {error}"))
    teacher_compiled = options.compile and not any(s.method.teacher_pre_relu for s in students)  # hooks, as above
    teacher_forward = (
        speed.CompiledOrEager(partial(extract_features, teacher), teacher_compiled, "the teacher")
        if teacher is not None
        else None
    )

    memory_format = torch.channels_last if options.channels_last else None
    train = DeviceLoader(
        data.train_images,
        data.train_labels,
        batch_size=recipe.batch_size,
        augment=data.augment,
        train=True,
        seed=options.seed,
        device=options.device,
        memory_format=memory_format,
    )
    test = evaluation_loader(data, options, max(recipe.batch_size, 256), options.seed)
    # issue 23 hook: the teacher's test-set embeddings and logits, once per group, for the structure metrics
    teacher_test = (
        forward_test_set(teacher, test, lambda: autocast(options))
        if teacher is not None and any(s.alive for s in students)
        else None
    )
    init_epochs = max((s.method.init_epochs for s in students), default=0)
    schedule = [("init", e) for e in range(1, init_epochs + 1)] + [("main", e) for e in range(1, recipe.epochs + 1)]
    todo = [(p, e) for p, e in schedule if any(s.alive and s.needs(p, e) for s in students)]
    log = log or EpochLog(epochs=len(todo))
    log.epochs = len(todo)
    for phase, epoch in todo:
        active = [s for s in students if s.alive and s.needs(phase, epoch)]
        check_stop()  # issue 22 hook: nothing new starts once a stop was asked for (cskd/stopping.py)
        if active:
            _train_epoch(active, teacher_forward, train, test, phase, epoch, recipe, options, log, teacher_test)
    lockstep = len(students)
    for student in students:  # hook (issue 21)
        if student.trackers is not None:
            student.trackers.close()
    return failed + [s.outcome(lockstep) for s in students]


def _train_epoch(
    active: list[_Student],
    teacher: speed.CompiledOrEager | None,
    train: DeviceLoader,
    test: DeviceLoader,
    phase: str,
    epoch: int,
    recipe: Recipe,
    options: EngineOptions,
    log: EpochLog,
    teacher_test: NetworkOutputs | None = None,
) -> None:
    start = time.perf_counter()
    for student in active:
        student.begin_epoch(phase, epoch)
    needs_teacher = teacher is not None and any(s.method.uses_teacher for s in active)
    pre_relu = any(s.method.teacher_pre_relu for s in active)
    with_indices = any(s.method.needs_sample_indices for s in active)
    total = recipe.epochs if phase == "main" else max(s.method.init_epochs for s in active)
    names = ",".join(s.job.label or s.job.method for s in active)
    bar = tqdm(
        train.epoch(epoch, phase, with_indices=with_indices),
        total=len(train),
        desc=f"{phase} {epoch}/{total} [{names}]",
        disable=not options.progress,
        leave=False,
        unit="batch",
        postfix=log.bar_text(),
    )
    images = 0
    for x, y, *index in bar:
        check_stop()  # issue 22 hook: SIGTERM/SIGINT stop here, between steps (cskd/stopping.py)
        images += y.shape[0]
        teacher_features = None
        if needs_teacher:
            with torch.no_grad(), autocast(options):
                teacher_features = teacher.run(lambda forward, batch=x: forward(batch, pre_relu=pre_relu), keep=[])
        for student in [s for s in active if not s.error]:
            try:
                student.step(x, y, teacher_features, phase, index[0] if index else None)
            except Exception as error:
                student.error = f"{type(error).__name__} in {phase} epoch {epoch}: {error}"
    bar.close()
    survivors = [s for s in active if not s.error]
    # the test pass also records the structure metrics (cskd/engine/structure_eval.py)
    evaluations = {
        id(s): evaluate_with_structure(s.model, test, lambda: autocast(options), teacher_test) for s in survivors
    }
    seconds = time.perf_counter() - start
    for student in survivors:
        student.end_epoch(phase, epoch, evaluations[id(student)], seconds / len(active), images)
    log.epoch_done(
        phase,
        epoch,
        total,
        sorted({s.history[-1]["lr"] for s in survivors}),
        [(s.job.label or s.job.method, s.history[-1]["test_top1"], s.history[-1]["train_loss"]) for s in survivors],
        images,
        seconds,
    )
