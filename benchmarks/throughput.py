"""Throughput of a distillation sweep: the public KD codebases' loop against the suite's lockstep engine.

One process, one machine, one teacher/student pair, several methods (Table 1's six by default), a fixed number of
training steps each, measured two ways:

(a) the reference loop (cskd/bench/reference.py): one run per method, each with its own DataLoader over PIL images
    with per-sample transforms and its own teacher forward every batch, fp32, NCHW;
(b) the engine (cskd/bench/engine_runs.py): ``train_group`` with every method's student in lockstep on one teacher
    stream and the device-resident loader, timed as a whole call.

Both sides warm up before timing, use the same methods (the suite's implementations) and the same allocator settings
(the process's environment). Printed: student-images per second of each side (steps * batch * methods / seconds),
peak memory of each, the allocator settings, on CUDA the effect of each engine speed lever, an estimate of the
compute-hours of Tables 1 and 2 in full, and last ``ratio: X.XX`` (b over a). Timings on a shared machine are noisy.

    python benchmarks/throughput.py                  # the default: R101_0.5 -> R18_0.25, six methods
    python benchmarks/throughput.py --tiny           # a smoke test in seconds
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import torch

from cskd.bench.config import BenchConfig, table1_method_args
from cskd.bench.engine_runs import EngineVariant, lever_variants, time_engine
from cskd.bench.estimate import estimate_suite, group_macs_per_image, model_facts
from cskd.bench.memory import PeakMemory, worker_peak_rss_mib
from cskd.bench.reference import train_reference
from cskd.bench.timing import Measurement
from cskd.cli import pick_device
from cskd.data import ImageDataset, load_dataset, subset
from cskd.engine.trainer import EngineOptions
from cskd.methods.base import get_method
from cskd.suite import ModelRef

TABLE1_METHODS = ["kd", "fitnet", "kdgan", "ab", "cckd", "cskd"]
LEVERS = ["bf16", "channels_last", "compile", "inference_mode"]
ALLOCATOR_VARIABLES = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"]
ESTIMATED_SUITES = ["table1", "table2"]
#: steps of the DataLoader worker probe (after the warm-up steps)
PROBE_STEPS = 5

DEFAULTS: dict[str, Any] = {
    "width_multiplier": 1.0,
    "steps": 20,
    "warmup": 3,
    "batch_size": 128,
    "methods": ",".join(TABLE1_METHODS),
    "workers": "auto",
}
TINY: dict[str, Any] = {
    "width_multiplier": 0.25,
    "steps": 2,
    "warmup": 1,
    "batch_size": 16,
    "methods": "kd,ab",
    "workers": "0",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Defaults: "
        + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in DEFAULTS.items())
        + "; --tiny: "
        + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in TINY.items())
        + " (flags given explicitly win).",
    )
    parser.add_argument("--teacher", default="cifar_resnet101_w0_5", help="teacher model (default: Table 1's R101_0.5)")
    parser.add_argument("--student", default="cifar_resnet18_w0_25", help="student model (default: Table 1's R18_0.25)")
    parser.add_argument("--width-multiplier", type=float, default=None, help="thin both models by this factor")
    parser.add_argument("--steps", type=int, default=None, help="timed training steps per method")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps before timing, each side (>= 1)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--methods", default=None, help="comma-separated method names (default: Table 1's six)")
    parser.add_argument(
        "--workers",
        default=None,
        help="DataLoader workers of the reference loop, or 'auto': probe 0, 2 (and up to 8 where there are more "
        "cores) on the first method and keep the fastest",
    )
    parser.add_argument(
        "--levers",
        default="auto",
        help="engine variants to measure, comma-separated from " + ",".join(LEVERS) + "; 'auto' = all on CUDA, none "
        "on the CPU (where the engine ignores bf16 and channels_last); 'none'",
    )
    parser.add_argument("--device", default="auto", help="auto (CUDA when present, else CPU), cpu, cuda or cuda:N")
    parser.add_argument("--dataset", default="cifar10-jpeg", help="dataset name (default: the CIFAR-10 JPEG copy)")
    parser.add_argument("--data-dir", type=Path, default=None, help="default: $CSKD_DATA, else ./data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tiny", action="store_true", help="a configuration small enough for a test (seconds)")
    return parser


def resolve_arguments(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the options left unset from :data:`TINY` (with ``--tiny``) or :data:`DEFAULTS`, and check them."""
    preset = TINY if args.tiny else DEFAULTS
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.steps < 1 or args.warmup < 1 or args.batch_size < 1:
        raise SystemExit(
            "error: --steps, --warmup and --batch-size must be at least 1 (the warm-up also runs AB's "
            "initialisation stage outside the timing)"
        )
    if args.width_multiplier <= 0:
        raise SystemExit(f"error: --width-multiplier must be > 0, got {args.width_multiplier}")
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for name in args.methods:
        get_method(name)  # an unknown name raises with the closest names
    if len(set(args.methods)) != len(args.methods):
        raise SystemExit(f"error: --methods lists a method twice: {args.methods}")
    if args.workers != "auto" and not (args.workers.isdigit()):
        raise SystemExit(f"error: --workers must be 'auto' or a number >= 0, got {args.workers!r}")
    return args


def chosen_levers(spec: str, device: torch.device) -> list[str]:
    if spec == "auto":
        return list(LEVERS) if device.type == "cuda" else []
    if spec == "none":
        return []
    return [lever.strip() for lever in spec.split(",") if lever.strip()]


def allocator_setting() -> str:
    shown = [f"{name}={os.environ.get(name, 'unset')}" for name in ALLOCATOR_VARIABLES]
    note = "" if any(name in os.environ for name in ALLOCATOR_VARIABLES) else " (glibc defaults)"
    return ", ".join(shown) + note + "; both sides run in this process and share it"


def pick_workers(config: BenchConfig, spec: str, teacher: torch.nn.Module, data: ImageDataset) -> int:
    """``spec`` as a number, or for 'auto' the fastest worker count of the reference loop on the first method."""
    if spec != "auto":
        return int(spec)
    candidates = sorted({0, 2, min(8, os.cpu_count() or 1)})
    probe_data = subset(data, (config.warmup + PROBE_STEPS) * config.batch_size, data.num_classes, seed=config.seed)
    method = next(iter(config.methods))
    rates = {
        workers: train_reference(config, method, teacher, probe_data, workers, PROBE_STEPS).images_per_second
        for workers in candidates
    }
    best = max(rates, key=rates.__getitem__)
    shown = ", ".join(f"{workers} workers {rate:.1f} img/s" for workers, rate in rates.items())
    print(f"reference DataLoader workers: probed on {method} over {PROBE_STEPS} steps: {shown}; using {best}")
    return best


def measure_reference(
    config: BenchConfig, teacher: torch.nn.Module, data: ImageDataset, workers: int
) -> tuple[Measurement, dict[str, Measurement]]:
    """Every method in its own reference run, one after the other; the side's rate is total images over total time."""
    run_data = subset(data, (config.warmup + config.steps) * config.batch_size, data.num_classes, seed=config.seed)
    with PeakMemory(config.device) as peak:
        runs = {
            name: train_reference(config, name, teacher, run_data, workers, config.steps) for name in config.methods
        }
    total = Measurement(
        images=sum(m.images for m in runs.values()),
        seconds=sum(m.seconds for m in runs.values()),
        memory=peak.describe(),
    )
    return total, runs


def print_side(label: str, measured: Measurement) -> None:
    print(
        f"{label}: {measured.images_per_second:.1f} student-images/s "
        f"({measured.images} student-images in {measured.seconds:.1f} s); {measured.memory}",
        flush=True,
    )


def print_levers(
    config: BenchConfig, data: ImageDataset, default: EngineOptions, default_rate: float, levers: list[str]
) -> None:
    print("engine speed levers (each a separate engine run; relative to the engine's defaults):")
    if config.device.type != "cuda":
        print("  note: on the CPU the engine applies neither bf16 autocast nor channels_last, so those rows equal it")
    print(
        f"  {'engine defaults (bf16 autocast, channels_last on CUDA; eager; no_grad)':<72} {default_rate:10.1f} img/s"
    )
    for variant in lever_variants(default, levers):
        rate = time_engine(config, data, variant).images_per_second
        print(f"  {variant.label:<72} {rate:10.1f} img/s  x{rate / default_rate:.2f}", flush=True)


def print_estimate(config: BenchConfig, data: ImageDataset, engine: Measurement) -> None:
    """Hours of Tables 1 and 2 in full at the engine's measured rate, in MACs per second of this group."""
    teacher, _ = model_facts(ModelRef(config.teacher, config.model_kwargs), data.num_classes, data.input_size)
    student, _ = model_facts(ModelRef(config.student, config.model_kwargs), data.num_classes, data.input_size)
    count = len(config.methods)
    per_image = group_macs_per_image(teacher, [student] * count, [0] * count, epochs=1)
    macs_per_second = per_image * config.steps * config.batch_size / engine.seconds
    unit = "GPU-hours" if config.device.type == "cuda" else "CPU-hours"
    print(
        f"{unit} of the paper's tables in full at this engine rate ({macs_per_second / 1e9:.1f} GMAC/s on this group; "
        "teachers, CE baselines and init stages counted; see cskd/bench/estimate.py):"
    )
    for name in ESTIMATED_SUITES:
        estimate = estimate_suite(name, macs_per_second, engine.images_per_second)
        print(
            f"  {name} ({estimate.dataset}): {estimate.runs} runs incl. {estimate.teacher_runs} teachers, "
            f"{estimate.run_epochs:,} run-epochs, {estimate.macs / 1e15:.1f} PMAC -> {estimate.hours:,.0f} {unit} "
            f"(plain run-epochs x images / student-images per s: {estimate.plain_hours:,.0f})",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    args = resolve_arguments(build_parser().parse_args(argv))
    device = pick_device(args.device)
    data = load_dataset(args.dataset, args.data_dir)
    config = BenchConfig(
        teacher=args.teacher,
        student=args.student,
        methods=table1_method_args(args.methods),
        batch_size=args.batch_size,
        steps=args.steps,
        warmup=args.warmup,
        device=device,
        model_kwargs={} if args.width_multiplier == 1.0 else {"width_multiplier": args.width_multiplier},
        seed=args.seed,
    )
    print(
        f"throughput: {config.teacher} -> {config.student} (width x{args.width_multiplier:g}) on {data.name}, "
        f"methods {', '.join(config.methods)}; batch {config.batch_size}, {config.steps} timed steps per method after "
        f"{config.warmup} warm-up steps"
    )
    print(
        f"device: {device}, {torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs; torch {torch.__version__}"
    )
    print(f"allocator: {allocator_setting()}")
    print("timings on a shared machine are noisy (differences under ~10% are not meaningful)", flush=True)

    teacher = config.build_teacher(data).to(device)
    workers = pick_workers(config, args.workers, teacher, data)
    reference, runs = measure_reference(config, teacher, data, workers)
    del teacher
    shown = ", ".join(f"{name} {m.images_per_second:.1f}" for name, m in runs.items())
    print(f"(a) reference loop, img/s per method run ({workers} DataLoader workers): {shown}")
    if workers and device.type == "cpu":
        print(
            f"    each DataLoader worker process peaked at {worker_peak_rss_mib():,.0f} MiB RSS (shared pages included)"
        )
    print_side("(a) reference loop, one method per run", reference)

    default = EngineOptions(device=device, seed=config.seed, progress=False)
    engine = time_engine(config, data, EngineVariant("engine defaults", default))
    print_side(f"(b) engine, {len(config.methods)} students in lockstep", engine)

    levers = chosen_levers(args.levers, device)
    if levers:
        print_levers(config, data, default, engine.images_per_second, levers)
    print_estimate(config, data, engine)
    print(f"ratio: {engine.images_per_second / reference.images_per_second:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
