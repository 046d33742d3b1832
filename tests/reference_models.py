"""Facts pinned from the reference definitions that cskd's ``crd_*`` models and ``cifar_inception_v3`` follow.

``tests/data/reference_models.json`` holds, per model, what instantiating the reference definition gave (at the
commit recorded in the file): its state-dict names and shapes in order, its parameter count, and, with the synthetic
weights and input made below from those names and shapes alone, its logits and the sum and sum of squares of every
feature map of its ``is_feat`` list (plain and ``preact=True``; RepDistiller only). The tests convert the same
synthetic weights to our layout and compare: the reference code itself is not part of cskd.

Regenerate (needs checkouts of the reference repositories; nothing of them is copied into cskd)::

    PYTHONPATH=. python tests/reference_models.py --repdistiller PATH --huyvnphan PATH
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import subprocess
import sys
from pathlib import Path

import torch
from torch import Tensor

PINNED = Path(__file__).parent / "data" / "reference_models.json"
#: our model -> (repository, module of the reference definition, constructor); RepDistiller's are in CONVERSIONS
HUYVNPHAN = {"cifar_inception_v3": ("huyvnphan/PyTorch_CIFAR10", "cifar10_models.inception", "inception_v3")}


def hash_uniform(count: int, seed: int) -> Tensor:
    """``count`` deterministic numbers in [0, 1) (float64), the same on every platform and torch version:
    ``frac(sin(12.9898 * i + 78.233 * seed) * 43758.5453)`` for ``i = 1 .. count``."""
    i = torch.arange(1, count + 1, dtype=torch.float64)
    return torch.frac(torch.sin(12.9898 * i + 78.233 * seed).abs() * 43758.5453)


def synthetic_tensor(key: str, shape: list[int], seed: int) -> Tensor:
    """A tensor for state-dict entry ``key``: BatchNorm statistics near (0, 1), gains near 1, biases near 0, weights
    uniform with variance ``1 / (3 * fan_in)`` so that activations stay of order one through deep networks."""
    if key.endswith("num_batches_tracked"):
        return torch.zeros(shape, dtype=torch.long)
    u = hash_uniform(math.prod(shape), seed).reshape(shape)
    centred = 2 * u - 1
    if key.endswith("running_var"):
        value = 1 + 0.5 * u
    elif key.endswith("running_mean") or key.endswith("bias"):
        value = 0.1 * centred
    elif len(shape) == 1:  # a BatchNorm gain
        value = 1 + 0.2 * centred
    else:
        value = centred / math.sqrt(math.prod(shape[1:]))
    return value.float()


def synthetic_state(entries: list[list]) -> dict[str, Tensor]:
    """A state dict with the given ``[name, shape]`` entries, filled by :func:`synthetic_tensor` (seed = position)."""
    return {key: synthetic_tensor(key, shape, seed) for seed, (key, shape) in enumerate(entries)}


def synthetic_input(batch: int = 2) -> Tensor:
    """A fixed ``[batch, 3, 32, 32]`` input of order one."""
    return (2 * hash_uniform(batch * 3 * 32 * 32, seed=-1).reshape(batch, 3, 32, 32) - 1).float() * 1.5


def map_stats(maps: list[Tensor]) -> list[dict]:
    return [
        {"shape": list(m.shape), "sum": m.double().sum().item(), "sum_sq": m.double().pow(2).sum().item()} for m in maps
    ]


def load_pinned() -> dict:
    return json.loads(PINNED.read_text())


def _describe(model: torch.nn.Module, repository: str, commit: str, reference: str) -> dict:
    entries = [[key, list(tensor.shape)] for key, tensor in model.state_dict().items()]
    model.load_state_dict(synthetic_state(entries))
    model.eval()
    return {
        "repository": repository,
        "commit": commit,
        "reference": reference,
        "num_classes": model.state_dict()[entries[-1][0]].shape[0],
        "parameters": sum(p.numel() for p in model.parameters()),
        "state": entries,
    }


def _pin_repdistiller(path: Path) -> dict:
    from cskd.models.convert import CONVERSIONS

    commit = _commit(path)
    sys.path.insert(0, str(path))
    model_dict = importlib.import_module("models").model_dict
    pinned = {}
    x = synthetic_input()
    for ours, conversion in CONVERSIONS.items():
        model = model_dict[conversion.reference](num_classes=100)
        entry = _describe(model, "HobbitLong/RepDistiller", commit, conversion.reference)
        with torch.no_grad():
            feats, logits = model(x, is_feat=True)
            preact, _ = model(x, is_feat=True, preact=True)
        entry["logits"] = logits.tolist()
        entry["features"] = map_stats([f for f in feats if f.dim() == 4])
        entry["preact"] = map_stats([f for f in preact if f.dim() == 4])
        entry["embedding"] = map_stats([feats[-1]])[0]
        pinned[ours] = entry
    sys.path.remove(str(path))
    return pinned


def _pin_huyvnphan(path: Path) -> dict:
    commit = _commit(path)
    sys.path.insert(0, str(path))
    pinned = {}
    for ours, (repository, module, constructor) in HUYVNPHAN.items():
        model = getattr(importlib.import_module(module), constructor)()
        entry = _describe(model, repository, commit, f"{module}.{constructor}")
        with torch.no_grad():
            entry["logits"] = model(synthetic_input()).tolist()
        pinned[ours] = entry
    sys.path.remove(str(path))
    return pinned


def _commit(path: Path) -> str:
    result = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else "unknown (not a git checkout)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repdistiller", type=Path, required=True, help="checkout of HobbitLong/RepDistiller")
    parser.add_argument("--huyvnphan", type=Path, required=True, help="checkout of huyvnphan/PyTorch_CIFAR10")
    args = parser.parse_args()
    pinned = {"torch": torch.__version__, **_pin_repdistiller(args.repdistiller), **_pin_huyvnphan(args.huyvnphan)}
    PINNED.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{json.dumps(key)}: {json.dumps(value)}" for key, value in sorted(pinned.items())]
    PINNED.write_text("{\n" + ",\n".join(lines) + "\n}\n")  # one line per model
    print(f"wrote {PINNED} ({len(pinned) - 1} models)")


if __name__ == "__main__":
    main()
