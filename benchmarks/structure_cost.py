"""What the category-structure metrics (docs/structure.md) cost a run: measured on the CI suite's setting.

One process, one machine: the CI suite's data (CIFAR-10 JPEG, 2000 train / 1000 test images: a test set half the
size of the training set, twice CIFAR's share, so the evaluation weighs more than in a full run), its student
(R18_0.125) and its teacher's architecture (R34_0.25), a KD student trained one epoch with ``train_group`` (its
wall time includes the test pass with the metrics). Then, in alternating rounds on the trained student, the plain
test pass (``evaluate``: accuracy only) against the test pass with every metric (``evaluate_with_structure``), and the
teacher's test forward that a lockstep group does once. Printed: each round, the overhead per epoch, and
``ratio: X.XXX`` = (per-epoch overhead + the teacher's forward spread over the run's epochs) / (run time without the
metrics), for the CI suite's 3 epochs.

    python benchmarks/structure_cost.py [--device cuda] [--rounds 3] [--epochs 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from cskd.data import DeviceLoader, load_dataset, subset
from cskd.engine.recipe import Recipe
from cskd.engine.structure_eval import evaluate_with_structure, forward_test_set
from cskd.engine.trainer import EngineOptions, StudentJob, autocast, evaluate, prepare_model, train_group
from cskd.models import create_model


def timed(function) -> float:
    start = time.perf_counter()
    function()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the run the teacher's forward is spread over")
    args = parser.parse_args()
    device = torch.device(args.device)
    data = subset(load_dataset("cifar10-jpeg"), 2000, 1000, seed=0)
    options = EngineOptions(device=device, progress=False)
    recipe = Recipe(epochs=1, batch_size=128, lr=0.1, milestones=())
    torch.manual_seed(0)
    teacher = prepare_model(create_model("cifar_resnet34_w0_25", num_classes=10), options).eval()
    with tempfile.TemporaryDirectory() as folder:
        job = StudentJob(
            run_id="kd",
            model="cifar_resnet18_w0_25",
            model_kwargs={"width_multiplier": 0.5},
            method="kd",
            checkpoint=Path(folder) / "kd.pt",
            epochs_csv=Path(folder) / "kd.csv",
        )
        (outcome,) = train_group([job], data, recipe, options, teacher)
        student = create_model("cifar_resnet18_w0_25", num_classes=10, width_multiplier=0.5)
        student.load_state_dict(torch.load(job.checkpoint, weights_only=False)["model"])
    student = prepare_model(student, options)
    memory_format = torch.channels_last if options.channels_last else None
    test = DeviceLoader(
        data.test_images, data.test_labels, batch_size=256, augment=data.augment, train=False, device=device,
        memory_format=memory_format,
    )  # fmt: skip
    context = lambda: autocast(options)  # noqa: E731
    teacher_test = forward_test_set(teacher, test, context)
    plain, full, teacher_pass = [], [], []
    for round_ in range(args.rounds):
        order = [("plain", plain), ("full", full)] if round_ % 2 == 0 else [("full", full), ("plain", plain)]
        for name, times in order:
            if name == "plain":
                times.append(timed(lambda: evaluate(student, test, options)))
            else:
                times.append(timed(lambda: evaluate_with_structure(student, test, context, teacher_test)))
        teacher_pass.append(timed(lambda: forward_test_set(teacher, test, context)))
        print(
            f"round {round_ + 1}: plain {plain[-1]:.3f}s, with metrics {full[-1]:.3f}s, teacher {teacher_pass[-1]:.3f}s"
        )
    overhead = max(min(full) - min(plain), 0.0)
    epoch = outcome.wall_seconds - overhead  # one epoch of training and a plain test pass
    fraction = (overhead + min(teacher_pass) / args.epochs) / epoch
    print(f"device {device}; one epoch without the metrics {epoch:.2f}s; metrics add {overhead:.3f}s per epoch")
    print(f"teacher test forward (once per group) {min(teacher_pass):.3f}s, spread over {args.epochs} epochs")
    print(f"ratio: {fraction:.3f}  (share of a {args.epochs}-epoch run's time spent on the structure metrics)")


if __name__ == "__main__":
    main()
