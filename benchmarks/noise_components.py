"""Split the noise of a cell and of a paired difference into its parts (docs/noise.md, the power study's design).

Reads the runs of ``benchmarks/noise.yaml`` (one results folder at the suite's default threads, and optionally rerun
folders of some seeds at another thread count) and prints, per design (profile) and for the contrast ``A - B``:

* **seed**: the spread over seeds of a cell and of the paired difference d_s = A_s - B_s (same seed, so same
  initialisation and batches), for three read-outs of a run: the last epoch, the mean of the last ``k`` epochs, the
  best epoch;
* **rerun**: the same seed trained again with another floating-point rounding (a rerun folder): per run,
  var = mean((x_rerun - x)^2) / 2 over the rerun seeds;
* **test sample**: the binomial variance of one evaluation on the n test images, p (1 - p) / n, and for the paired
  difference on the same images var_i(c_A,i - c_B,i) / n from the per-image correctness of the final weights (needs
  the checkpoints, ``--per-image``);
* **selection**: the mean excess of the best epoch over the last (the optimism of reporting the best of several
  noisy evaluations);
* **cost and power**: CPU-seconds per seed of the contrast, the 95% half-width reached in one CPU-hour and the seeds
  needed for a half-width of 0.5 point.

    python benchmarks/noise_components.py RESULTS [--rerun RESULTS ...] [--contrast CSKD KD] [--last-k 2]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from scipy import stats

from cskd.results import read_runs


@dataclass(frozen=True)
class Readout:
    """One number per run, read from its epoch CSV."""

    name: str
    last_k: int = 1
    best: bool = False

    def of(self, epochs: pd.DataFrame) -> float:
        main = epochs[epochs["phase"] == "main"]
        if self.best:
            return float(main["test_top1"].max())
        return float(main["test_top1"].tail(self.last_k).mean())


def epochs_of(results: Path, suite: str, run_id: str) -> pd.DataFrame:
    return pd.read_csv(results / suite / "epochs" / f"{run_id}.csv")


def runs_by_cell(results: Path, suite: str) -> pd.DataFrame:
    """The ok student rows of ``suite`` in ``results``, one per (profile, method, seed)."""
    rows = read_runs(results / suite / "runs.csv")
    rows = rows[(rows["status"] == "ok") & (rows["kind"] == "student")]
    return rows.drop_duplicates(["profile", "method", "seed"], keep="last")


def sd(values: list[float]) -> float:
    """The sample standard deviation (ddof 1); nan below two values."""
    return statistics.stdev(values) if len(values) > 1 else math.nan


def half_width(values: list[float]) -> float:
    """The 95% t-interval half-width of the mean of ``values``."""
    n = len(values)
    return stats.t.ppf(0.975, n - 1) * sd(values) / math.sqrt(n) if n > 1 else math.nan


def per_image_correct(results: Path, suite: str, row: pd.Series, data_dir: Path | None):
    """The final weights' per-image correctness (bool tensor) on the run's test set."""
    import timm
    import torch

    import cskd.models  # noqa: F401  (registers the model families with timm)
    from cskd.data import DeviceLoader, load_dataset, subset

    key = (row["dataset"], int(row["train_size"]), int(row["test_size"]))
    cache = per_image_correct.__dict__.setdefault("data", {})
    if key not in cache:
        full = load_dataset(row["dataset"], data_dir)
        cache[key] = subset(full, key[1], key[2], seed=0)
    data = cache[key]
    spec = json.loads(row["student_model"])
    model = timm.create_model(spec["name"], num_classes=data.num_classes, **spec.get("kwargs", {}))
    state = torch.load(results / suite / "checkpoints" / f"{row['run_id']}.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state.get("model", state))
    model.eval()
    loader = DeviceLoader(data.test_images, data.test_labels, batch_size=500, augment=data.augment, train=False)
    correct = []
    with torch.no_grad():
        for x, y in loader.epoch(0):
            correct.append(model(x).argmax(1) == y)
    return torch.cat(correct)


def report(args: argparse.Namespace) -> None:
    a, b = args.contrast
    readouts = [Readout("last"), Readout(f"mean of last {args.last_k}", last_k=args.last_k), Readout("best", best=True)]
    runs = runs_by_cell(args.results, args.suite)
    for profile, design in runs.groupby("profile"):
        seeds = sorted(set(design[design["method"] == a]["seed"]) & set(design[design["method"] == b]["seed"]))
        cell = {(r["method"], r["seed"]): r for _, r in design.iterrows()}
        n_test = int(design["test_size"].iloc[0])
        print(
            f"\n== design {profile}: {len(seeds)} paired seeds, {design['train_size'].iloc[0]} training images, "
            f"{int(design['epochs'].iloc[0])} epochs, {n_test} test images"
        )
        for readout in readouts:
            value = {k: readout.of(epochs_of(args.results, args.suite, r["run_id"])) for k, r in cell.items()}
            line = []
            for method in (a, b):
                xs = [value[(method, s)] for s in seeds]
                line.append(f"{method} {statistics.mean(xs):.2f} sd {sd(xs):.2f}")
            d = [value[(a, s)] - value[(b, s)] for s in seeds]
            line.append(f"{a}-{b} {statistics.mean(d):+.2f} sd {sd(d):.2f} ±{half_width(d):.2f}")
            print(f"  seed spread, {readout.name:>16}: " + "; ".join(line))
        best_excess = [
            Readout("best", best=True).of(e) - Readout("last").of(e)
            for e in (epochs_of(args.results, args.suite, r["run_id"]) for r in cell.values())
        ]
        print(
            f"  selection: best epoch exceeds the last by {statistics.mean(best_excess):.2f} points on average "
            f"(max {max(best_excess):.2f})"
        )
        p = statistics.mean(Readout("last").of(epochs_of(args.results, args.suite, r["run_id"])) for r in cell.values())
        print(
            f"  test sample: one evaluation at {p:.1f}% on {n_test} images has binomial sd "
            f"{100 * math.sqrt(p / 100 * (1 - p / 100) / n_test):.2f} points"
        )
        for folder in args.rerun:
            again = runs_by_cell(folder, args.suite)
            again = again[again["profile"] == profile]
            for readout in readouts[:2]:
                deltas, d_deltas = [], []
                for seed in sorted(set(again["seed"])):
                    pair = {}
                    for method in (a, b):
                        rows = again[(again["method"] == method) & (again["seed"] == seed)]
                        if rows.empty or (method, seed) not in cell:
                            continue
                        x1 = readout.of(epochs_of(folder, args.suite, rows.iloc[0]["run_id"]))
                        x0 = readout.of(epochs_of(args.results, args.suite, cell[(method, seed)]["run_id"]))
                        deltas.append(x1 - x0)
                        pair[method] = x1 - x0
                    if len(pair) == 2:
                        d_deltas.append(pair[a] - pair[b])
                if deltas:
                    sd_run = math.sqrt(statistics.mean(x * x for x in deltas) / 2)
                    sd_d = math.sqrt(statistics.mean(x * x for x in d_deltas) / 2) if d_deltas else math.nan
                    changes = ", ".join(f"{x:+.2f}" for x in deltas)
                    print(
                        f"  rerun in {folder}, {readout.name}: changes {changes}; "
                        f"sd per run {sd_run:.2f}, of the difference {sd_d:.2f}"
                    )
        if args.per_image:
            var_d = []
            for seed in seeds:
                ca = per_image_correct(args.results, args.suite, cell[(a, seed)], args.data_dir).float()
                cb = per_image_correct(args.results, args.suite, cell[(b, seed)], args.data_dir).float()
                var_d.append(float((ca - cb).var()) / n_test)
            paired_sd = 100 * math.sqrt(statistics.mean(var_d))
            print(f"  test sample, paired: sd of {a}-{b} over the test images {paired_sd:.2f} points (final weights)")
        wall = design.groupby("seed")["wall_seconds"].max()  # a lockstep group's rows carry the group's wall time
        per_seed = float(wall.median()) * args.cpus
        d_last = [
            Readout("last").of(epochs_of(args.results, args.suite, cell[(m, s)]["run_id"]))
            for m in (a, b)
            for s in seeds
        ]
        d = [d_last[i] - d_last[i + len(seeds)] for i in range(len(seeds))]
        sd_d = sd(d)
        seeds_per_hour = 3600 / per_seed
        print(
            f"  cost: {per_seed / 60:.1f} CPU-minutes per seed of {a} and {b} (wall x {args.cpus} cores); "
            f"one CPU-hour buys {seeds_per_hour:.1f} seeds: 95% half-width about "
            f"{1.96 * sd_d / math.sqrt(seeds_per_hour):.2f} points (last epoch); "
            f"±0.5 needs about {(1.96 * sd_d / 0.5) ** 2:.0f} seeds (normal approximation)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="results folder of the noise suite")
    parser.add_argument("--rerun", type=Path, nargs="*", default=[], help="results folders of reruns of some seeds")
    parser.add_argument("--suite", default="noise")
    parser.add_argument("--contrast", nargs=2, default=["CSKD", "KD"], metavar=("A", "B"))
    parser.add_argument("--last-k", type=int, default=2)
    parser.add_argument("--cpus", type=int, default=2, help="cores the runs used (CPU-seconds = wall x cpus)")
    parser.add_argument("--per-image", action="store_true", help="evaluate the final checkpoints image by image")
    parser.add_argument("--data-dir", type=Path, default=None)
    report(parser.parse_args())


if __name__ == "__main__":
    main()
