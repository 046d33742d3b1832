"""How a shuffled mini-batch splits into classes, for CSKD's per-class structure (docs/methods.md, "CSKD on other
architectures and batch sizes").

For a balanced training set (CIFAR-100: 100 classes x 500 images) and a batch of B images drawn as the loader draws
them (one random permutation per epoch, consecutive slices), this prints, per batch size:
  * classes present in a batch (the c of the paper variant's beta / c),
  * the share of samples alone in their class (their offset from the class center is zero: no intra signal),
  * for variant "code", the share of samples whose class has no correctly classified sample in the batch (the
    sample is then its own center) when each sample is classified correctly with probability p, independently,
both exactly (hypergeometric closed forms) and measured on simulated epochs. Run:
    python benchmarks/batch_class_statistics.py [--classes 100] [--per-class 500] [--batches 64 ...] [--epochs 3]
"""

from __future__ import annotations

import argparse
import math

import torch
from tabulate import tabulate

ACCURACIES = (0.2, 0.5, 0.9)


def others_distribution(classes: int, per_class: int, batch: int) -> list[float]:
    """P(K = k), K the number of *other* samples of a given sample's class among the batch's other B - 1 samples."""
    total = classes * per_class
    same, rest, draws = per_class - 1, total - per_class, batch - 1
    denominator = math.comb(total - 1, draws)
    return [math.comb(same, k) * math.comb(rest, draws - k) / denominator for k in range(min(same, draws) + 1)]


def exact(classes: int, per_class: int, batch: int) -> dict[str, float]:
    total = classes * per_class
    present = classes * (1 - math.comb(total - per_class, batch) / math.comb(total, batch))
    k = others_distribution(classes, per_class, batch)
    row = {"classes present": present, "alone in class": k[0]}
    for p in ACCURACIES:
        row[f"no correct (p={p})"] = sum(prob * (1 - p) ** (1 + n) for n, prob in enumerate(k))
    return row


def simulated(classes: int, per_class: int, batch: int, epochs: int, seed: int = 0) -> dict[str, float]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(classes).repeat_interleave(per_class)
    sums = {key: 0.0 for key in exact(classes, per_class, batch)}
    batches = samples = 0
    for _ in range(epochs):
        order = torch.randperm(labels.numel(), generator=g)
        for start in range(0, labels.numel() - batch + 1, batch):
            y = labels[order[start : start + batch]]
            _, inverse, counts = torch.unique(y, return_inverse=True, return_counts=True)
            sums["classes present"] += counts.numel()
            sums["alone in class"] += (counts[inverse] == 1).sum().item()
            for p in ACCURACIES:
                correct = (torch.rand(batch, generator=g) < p).float()
                any_correct = torch.zeros(counts.numel()).index_add(0, inverse, correct) > 0
                sums[f"no correct (p={p})"] += (~any_correct[inverse]).sum().item()
            batches += 1
            samples += batch
    return {key: value / (batches if key == "classes present" else samples) for key, value in sums.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--per-class", type=int, default=500)
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 64, 128, 256])
    parser.add_argument("--epochs", type=int, default=3, help="simulated epochs per batch size")
    args = parser.parse_args()
    rows = []
    for batch in args.batches:
        closed = exact(args.classes, args.per_class, batch)
        measured = simulated(args.classes, args.per_class, batch, args.epochs)
        rows.append([batch, *(f"{closed[k]:.3f} ({measured[k]:.3f})" for k in closed)])
    headers = ["batch", *exact(args.classes, args.per_class, 2)]
    print(f"{args.classes} classes x {args.per_class} images; exact (simulated over {args.epochs} epochs)")
    print(tabulate(rows, headers=headers))


if __name__ == "__main__":
    main()
