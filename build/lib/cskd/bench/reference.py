"""The reference loop: one method per run, the way the public KD codebases (RepDistiller, mdistiller) train.

Written from a description of those codebases, not from their code: a torchvision ``DataLoader`` (shuffled,
configurable workers) over PIL images with per-sample transforms ``RandomCrop(crop, padding=pad)``,
``RandomHorizontalFlip``, ``ToTensor``, ``Normalize``; fp32, NCHW; every batch a teacher forward under ``no_grad``, a
student forward, the method's loss, backward and an SGD step, with a running loss meter read by ``.item()`` every step
(a host sync) as those codebases do. The loss is the suite's own method (:func:`cskd.methods.build_method`), so only
the loop differs from the engine.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from cskd.bench.config import BenchConfig
from cskd.bench.timing import Measurement, synchronize
from cskd.data import AugmentSpec, ImageDataset
from cskd.engine.recipe import Recipe
from cskd.methods import build_method
from cskd.models import create_model, extract_features, feature_spec


class PilImages(Dataset):
    """uint8 ``[N, 3, H, W]`` images served one PIL image at a time through ``transform`` (torchvision's CIFAR style:
    the arrays stay in memory, each sample becomes a PIL image when it is read)."""

    def __init__(self, images: Tensor, labels: Tensor, transform: transforms.Compose) -> None:
        self.images: np.ndarray = images.permute(0, 2, 3, 1).contiguous().numpy()  # HWC, as PIL wants
        self.labels: list[int] = labels.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self.transform(Image.fromarray(self.images[index])), self.labels[index]


def reference_transform(augment: AugmentSpec) -> transforms.Compose:
    """The per-sample training transform: the same augmentation as the engine's batched one."""
    steps = [transforms.RandomCrop(augment.crop, padding=augment.pad)]
    if augment.flip:
        steps.append(transforms.RandomHorizontalFlip())
    steps += [transforms.ToTensor(), transforms.Normalize(augment.mean, augment.std)]
    return transforms.Compose(steps)


def reference_loader(data: ImageDataset, batch_size: int, workers: int, seed: int) -> DataLoader:
    """A shuffled DataLoader over every training image of ``data``, with the reference transform."""
    dataset = PilImages(data.train_images, data.train_labels, reference_transform(data.augment))
    shuffle = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers, generator=shuffle)


def train_reference(
    config: BenchConfig, method_name: str, teacher: nn.Module, data: ImageDataset, workers: int, steps: int
) -> Measurement:
    """Train a fresh student with one method over ``data`` and time the batches after ``config.warmup``.

    ``data`` must hold ``(config.warmup + steps) * config.batch_size`` training images. The timed part starts when
    the warm-up steps are done (DataLoader start-up, model building and the first batches are not timed) and ends
    after the last step. ``teacher`` is on ``config.device`` in eval mode.
    """
    expected = (config.warmup + steps) * config.batch_size
    if data.train_images.shape[0] != expected:
        raise ValueError(f"the reference loop needs {expected} training images, got {data.train_images.shape[0]}")
    device = config.device
    torch.manual_seed(config.seed)
    student = create_model(config.student, num_classes=data.num_classes, **config.model_kwargs).to(device)
    teacher_spec = feature_spec(teacher, data.input_size)
    method = build_method(
        method_name, config.methods[method_name], feature_spec(student, data.input_size), teacher_spec
    )
    method = method.to(device)
    method.seed(config.seed)
    method.begin_epoch("main", 1)
    recipe = Recipe()  # the paper's SGD: lr 0.1, momentum 0.9, weight decay 1e-4
    trained = list(student.parameters()) + list(method.trainable_parameters())
    optimizer = torch.optim.SGD(trained, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)
    student.train()
    method.train()
    loss_sum = 0.0
    start = 0.0
    for step, (x, y) in enumerate(reference_loader(data, config.batch_size, workers, config.seed)):
        x, y = x.to(device), y.to(device)
        with torch.no_grad():
            teacher_features = extract_features(teacher, x, pre_relu=method.teacher_pre_relu)
        student_features = extract_features(student, x, pre_relu=method.student_pre_relu)
        loss = sum(method(student_features, teacher_features, y).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * y.shape[0]
        if step + 1 == config.warmup:
            synchronize(device)
            start = time.perf_counter()
    synchronize(device)
    seconds = time.perf_counter() - start
    if not np.isfinite(loss_sum):
        raise RuntimeError(f"reference loop, method {method_name}: the training loss is not finite ({loss_sum})")
    return Measurement(images=steps * config.batch_size, seconds=seconds)
