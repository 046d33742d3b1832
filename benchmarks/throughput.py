"""Throughput of a distillation sweep: the public KD codebases' loop against the suite's lockstep engine.

One process, one machine, one teacher/student pair, several methods (Table 1's six by default), a fixed number of
training steps each, measured two ways:

(a) the reference loop (throughput_parts/reference.py): one run per method, each with its own DataLoader over PIL images
    with per-sample transforms and its own teacher forward every batch, fp32, NCHW;
(b) the engine (throughput_parts/engine_runs.py): ``train_group`` with every method's student in lockstep on one teacher
    stream and the device-resident loader, timed as a whole call.

Both sides warm up before timing, use the same methods (the suite's implementations) and the same allocator settings
(the process's environment). On a machine shared with others, timings swing with their load, so the two sides are
measured in alternating rounds (a then b, b then a, ...); the reference side's figure sums each method's fastest run,
the engine's is its fastest round; every round is printed with the other processes' CPU load during it.

Printed: student-images per second of each side (steps * batch * methods / seconds), peak memory of each, the
allocator settings, the effect of each engine speed lever (on the CPU: eager against compiled and fp32 against bf16
side by side, with their ratios; bf16 only where the CPU has hardware bf16), an estimate of the compute-hours of
Tables 1 and 2 in full, and last ``ratio: X.XX`` (b over a).

    python benchmarks/throughput.py                  # the default: R101_0.5 -> R18_0.25, six methods
    python benchmarks/throughput.py --tiny           # a smoke test in seconds
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from throughput_parts.config import BenchConfig, table1_method_args
from throughput_parts.engine_runs import EngineVariant, lever_variants, time_engine
from throughput_parts.load import OtherLoad, describe_load
from throughput_parts.memory import PeakMemory, worker_peak_rss_mib
from throughput_parts.reference import train_reference
from throughput_parts.timing import Measurement

from cskd.cli.arguments import pick_device
from cskd.cost import estimate_suite, group_macs_per_image, model_facts
from cskd.data import ImageDataset, load_dataset, subset
from cskd.engine import speed
from cskd.engine.trainer import EngineOptions
from cskd.methods.base import UnknownMethodError, get_method
from cskd.suite import ModelRef
from cskd.usererrors import UserError

TABLE1_METHODS = ["kd", "fitnet", "kdgan", "ab", "cckd", "cskd"]
LEVERS = ["bf16", "channels_last", "compile", "compile_bf16", "inference_mode"]
#: levers measured on the CPU by default (issue 17): compile, and bf16 where the CPU computes it
CPU_LEVERS = ["compile", "bf16", "compile_bf16"]
#: side-by-side comparisons of the CPU levers: (label, numerator lever, denominator lever; None = engine defaults)
CPU_RATIOS = [
    ("compiled / eager, fp32", "compile", None),
    ("bf16 / fp32, eager", "bf16", None),
    ("bf16 / fp32, compiled", "compile_bf16", "compile"),
    ("compiled bf16 / eager fp32", "compile_bf16", None),
]
ALLOCATOR_VARIABLES = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"]
ESTIMATED_SUITES = ["table1", "table2"]
#: other processes' load (CPUs) above which a multi-threaded timing is flagged as unreliable
BUSY_CPUS = 0.25
#: timed steps of the DataLoader worker probe (after the warm-up steps)
PROBE_STEPS = 4

DEFAULTS: dict[str, Any] = {
    "teacher": "cifar_resnet101_w0_5",  # Table 1's R101_0.5
    "student": "cifar_resnet18_w0_25",  # Table 1's R18_0.25
    "width_multiplier": 1.0,
    "steps": 8,
    "warmup": 2,
    "batch_size": 128,
    "methods": ",".join(TABLE1_METHODS),
    "workers": "auto",
    "rounds": 2,
}
TINY: dict[str, Any] = {
    "teacher": "cifar_resnet18_w0_5",  # shallow, so that the smoke test stays fast on a busy machine
    "student": "cifar_resnet18_w0_25",
    "width_multiplier": 0.25,
    "steps": 2,
    "warmup": 1,
    "batch_size": 16,
    "methods": "kd,ab",
    "workers": "0",
    "rounds": 1,
}


def build_parser() -> argparse.ArgumentParser:
    def shown(preset: dict[str, Any]) -> str:
        return ", ".join(f"--{key.replace('_', '-')} {value}" for key, value in preset.items())

    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=f"Defaults: {shown(DEFAULTS)}. With --tiny: {shown(TINY)}. Options given explicitly win.",
    )
    parser.add_argument("--teacher", default=None, help="teacher model name")
    parser.add_argument("--student", default=None, help="student model name")
    parser.add_argument("--width-multiplier", type=float, default=None, help="thin both models by this factor")
    parser.add_argument("--steps", type=int, default=None, help="timed training steps per method")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps before timing, each side (>= 1)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--methods", default=None, help="comma-separated method names")
    parser.add_argument(
        "--workers",
        default=None,
        help="DataLoader workers of the reference loop, or 'auto': probe 0, 2 (and up to 8 where there are more "
        "cores) on the first method and keep the fastest",
    )
    parser.add_argument("--rounds", type=int, default=None, help="alternating measurement rounds; the fastest counts")
    parser.add_argument(
        "--levers",
        default="auto",
        help=f"engine variants to measure, comma-separated from {','.join(LEVERS)}; 'auto' = all on CUDA, on the "
        f"CPU {','.join(CPU_LEVERS)} (the bf16 ones only where the CPU has hardware bf16); 'none'",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads (default: torch's, one per core); 1 is far steadier on a machine other "
        "processes load, where threads that wait for each other lose their time slices",
    )
    parser.add_argument("--device", default="auto", help="auto (CUDA when present, else CPU), cpu, cuda or cuda:N")
    parser.add_argument("--dataset", default="cifar10-jpeg", help="dataset name (default: the CIFAR-10 JPEG copy)")
    parser.add_argument("--data-dir", type=Path, default=None, help="default: $CSKD_DATA, else ./data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tiny", action="store_true", help="a configuration small enough for a test (seconds)")
    parser.add_argument(
        "--json", type=Path, default=None, metavar="FILE", help="also write the measurements to FILE as JSON"
    )
    return parser


def resolve_arguments(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the options left unset from :data:`TINY` (with ``--tiny``) or :data:`DEFAULTS`, and check them."""
    for key, value in (TINY if args.tiny else DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    threads = 1 if args.threads is None else args.threads
    if min(args.steps, args.warmup, args.batch_size, args.rounds, threads) < 1:
        raise SystemExit(
            "error: --steps, --warmup, --batch-size, --rounds and --threads must be at least 1 "
            "(the warm-up also runs AB's initialisation stage outside the timing)"
        )
    if args.width_multiplier <= 0:
        raise SystemExit(f"error: --width-multiplier must be > 0, got {args.width_multiplier}")
    args.methods = [name.strip() for name in args.methods.split(",") if name.strip()]
    for name in args.methods:
        try:
            get_method(name)
        except UnknownMethodError as error:
            raise SystemExit(f"error: --methods: {error}") from None
    if not args.methods or len(set(args.methods)) != len(args.methods):
        raise SystemExit(f"error: --methods must name each method once, got {args.methods}")
    unknown_levers = sorted(set(chosen_levers(args.levers, torch.device("cuda"))) - set(LEVERS))
    if unknown_levers:
        raise SystemExit(f"error: --levers: unknown {unknown_levers}; choose from {', '.join(LEVERS)}, auto or none")
    if args.workers != "auto" and not args.workers.isdigit():
        raise SystemExit(f"error: --workers must be 'auto' or a number >= 0, got {args.workers!r}")
    return args


def chosen_levers(spec: str, device: torch.device) -> list[str]:
    if spec == "auto":
        if device.type == "cuda":
            return list(LEVERS)
        return [lever for lever in CPU_LEVERS if "bf16" not in lever or speed.cpu_bf16_flags()]
    return [] if spec == "none" else [lever.strip() for lever in spec.split(",") if lever.strip()]


def allocator_setting() -> str:
    shown = ", ".join(f"{name}={os.environ.get(name, 'unset')}" for name in ALLOCATOR_VARIABLES)
    note = "" if any(name in os.environ for name in ALLOCATOR_VARIABLES) else " (glibc defaults)"
    return f"{shown}{note}; both sides run in this process and share it"


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


def default_options(config: BenchConfig) -> EngineOptions:
    """The engine's own defaults (fp32, channels_last, eager, no_grad; ``cskd run`` compiles on the CPU, measured as a
    lever), without progress bars."""
    return EngineOptions(device=config.device, seed=config.seed, progress=False)


def measure_reference(
    config: BenchConfig, teacher: torch.nn.Module, data: ImageDataset, workers: int
) -> dict[str, Measurement]:
    """Every method in its own run, one after the other; each run carries its own others' load and the side's peak
    memory."""
    runs = {}
    with PeakMemory(config.device) as peak:
        for name in config.methods:
            with OtherLoad() as load:
                measured = train_reference(config, name, teacher, data, workers, config.steps)
            runs[name] = replace(measured, others_cpus=load.cpus)
    return {name: replace(m, memory=peak.describe()) for name, m in runs.items()}


def fastest_runs(rounds: list[dict[str, Measurement]]) -> Measurement:
    """The reference side over rounds: each method's fastest run (the runs are independent), summed."""
    best = [min((runs[name] for runs in rounds), key=lambda m: m.seconds) for name in rounds[0]]
    loads = [m.others_cpus for m in best if m.others_cpus is not None]
    return Measurement(
        images=sum(m.images for m in best),
        seconds=sum(m.seconds for m in best),
        memory=best[0].memory,
        others_cpus=max(loads) if loads else None,
    )


def measure_rounds(
    config: BenchConfig, data: ImageDataset, teacher: torch.nn.Module, workers: int, rounds: int
) -> tuple[Measurement, Measurement]:
    """Both sides in alternating rounds (a b, b a, ...), each round printed; the reference side's figure is each
    method's fastest run, the engine's its fastest round."""
    run_data = subset(data, (config.warmup + config.steps) * config.batch_size, data.num_classes, seed=config.seed)
    engine_defaults = EngineVariant("engine defaults", default_options(config))
    references: list[dict[str, Measurement]] = []
    engines: list[Measurement] = []
    for index in range(rounds):
        for side in "ab" if index % 2 == 0 else "ba":
            if side == "a":
                references.append(measure_reference(config, teacher, run_data, workers))
                shown = ", ".join(f"{name} {m.images_per_second:.1f}" for name, m in references[-1].items())
                print(f"round {index + 1} {rate_line('(a)', fastest_runs(references[-1:]))} [{shown}]", flush=True)
            else:
                engines.append(time_engine(config, data, teacher, engine_defaults))
                print(f"round {index + 1} {rate_line('(b)', engines[-1])}", flush=True)
    return fastest_runs(references), max(engines, key=lambda m: m.images_per_second)


def rate_line(label: str, measured: Measurement) -> str:
    line = (
        f"{label}: {measured.images_per_second:.1f} student-images/s "
        f"({measured.images} student-images in {measured.seconds:.1f} s); {describe_load(measured.others_cpus)}"
    )
    if measured.others_cpus is not None and measured.others_cpus > BUSY_CPUS and torch.get_num_threads() > 1:
        line += " -- UNRELIABLE: other processes competed with this run's threads; rerun when quiet or --threads 1"
    return line


def print_levers(
    config: BenchConfig,
    data: ImageDataset,
    teacher: torch.nn.Module,
    default_rate: float,
    levers: list[str],
) -> dict[str, dict[str, float | str]]:
    """Print each lever's rate; the same as a mapping (lever label -> images_per_second and relative, or error)."""
    measured_levers: dict[str, dict[str, float | str]] = {}
    print("engine speed levers (each a separate engine run, its compilation in the untimed warm-up, relative to the ")
    print("engine's defaults):")
    print(f"  {'engine defaults (fp32, channels_last, eager, no_grad)':<74} {default_rate:9.1f} img/s")
    for variant in lever_variants(default_options(config), levers):
        try:
            measured = time_engine(config, data, teacher, variant)
        except (RuntimeError, ValueError) as error:  # a lever the engine cannot apply here: report it, go on
            print(f"  {variant.label:<74} failed: {error}", flush=True)
            measured_levers[variant.label] = {"error": str(error)}
            continue
        rate = measured.images_per_second
        load = describe_load(measured.others_cpus)
        print(f"  {variant.label:<74} {rate:9.1f} img/s  x{rate / default_rate:.2f}  ({load})", flush=True)
        measured_levers[variant.label] = {"images_per_second": rate, "relative": rate / default_rate}
    print_side_by_side(levers, measured_levers, default_rate)
    return measured_levers


def print_side_by_side(levers: list[str], measured: dict[str, dict[str, float | str]], default_rate: float) -> None:
    """The CPU levers' ratios: eager against compiled (fp32), fp32 against bf16 (eager and compiled)."""
    labels = {variant.label: name for name in levers for variant in lever_variants(EngineOptions(), [name])[1:]}
    rates: dict[str | None, float] = {None: default_rate}
    for label, result in measured.items():
        if label in labels and "images_per_second" in result:
            rates[labels[label]] = float(result["images_per_second"])
    lines = [
        f"  {label:<30} {rates[top] / rates[bottom]:.2f}"
        for label, top, bottom in CPU_RATIOS
        if top in rates and bottom in rates
    ]
    if lines:
        print("side by side (ratios of the rates above, from one run; differences under ~10% are noise here):")
        print("\n".join(lines), flush=True)


def print_estimate(config: BenchConfig, data: ImageDataset, engine: Measurement) -> float:
    """Hours of Tables 1 and 2 in full at the engine's measured rate, in MACs per second of the measured group;
    returns that rate."""
    teacher, _ = model_facts(ModelRef(config.teacher, config.model_kwargs), data.num_classes, data.input_size)
    student, _ = model_facts(ModelRef(config.student, config.model_kwargs), data.num_classes, data.input_size)
    count = len(config.methods)
    per_image = group_macs_per_image(teacher, [student] * count, [0] * count, epochs=1)
    macs_per_second = per_image * config.steps * config.batch_size / engine.seconds
    unit = "GPU-hours" if config.device.type == "cuda" else "CPU-hours"
    print(
        f"{unit} of the paper's tables in full at the engine's best rate here ({macs_per_second / 1e9:.1f} GMAC/s on "
        "this group; teachers, CE baselines and init stages counted; method in cskd/cost.py):"
    )
    for name in ESTIMATED_SUITES:
        estimate = estimate_suite(name, macs_per_second, engine.images_per_second)
        print(
            f"  {name} ({estimate.dataset}): {estimate.runs} runs incl. {estimate.teacher_runs} teachers, "
            f"{estimate.run_epochs:,} run-epochs, {estimate.macs / 1e15:.1f} PMAC -> {estimate.hours:,.0f} {unit} "
            f"(plain run-epochs x images / student-images per s: {estimate.plain_hours:,.0f})"
        )
    return macs_per_second


def main(argv: list[str] | None = None) -> int:
    args = resolve_arguments(build_parser().parse_args(argv))
    try:
        device = pick_device(args.device)
    except UserError as error:
        raise SystemExit(f"error: {error}") from None
    if args.threads is not None:
        torch.set_num_threads(args.threads)
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
        f"{config.warmup} warm-up steps; {args.rounds} round(s)"
    )
    bf16 = ", ".join(speed.cpu_bf16_flags()) or "none"
    print(
        f"device: {device}, {torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs ({speed.cpu_model()}; "
        f"hardware bf16: {bf16}); torch {torch.__version__}"
    )
    print(f"allocator: {allocator_setting()}")
    print("timings on a shared machine are noisy: differences under ~10% mean nothing", flush=True)

    teacher = config.build_teacher(data)
    workers = pick_workers(config, args.workers, teacher, data)
    reference, engine = measure_rounds(config, data, teacher, workers, args.rounds)
    many = args.rounds > 1
    print(
        rate_line(f"(a) reference loop, one method per run, {workers} DataLoader workers", reference)
        + (f"; each method's fastest of {args.rounds} runs" if many else "")
    )
    print(f"    memory: {reference.memory}")
    if workers and device.type == "cpu":
        print(
            f"    each DataLoader worker process peaked at {worker_peak_rss_mib():,.0f} MiB RSS (shared pages included)"
        )
    print(
        rate_line(f"(b) engine, {len(config.methods)} students in lockstep on one teacher", engine)
        + (f"; fastest of {args.rounds} runs" if many else "")
    )
    print(f"    memory: {engine.memory}", flush=True)

    levers = chosen_levers(args.levers, device)
    measured_levers = print_levers(config, data, teacher, engine.images_per_second, levers) if levers else {}
    macs_per_second = print_estimate(config, data, engine)
    ratio = engine.images_per_second / reference.images_per_second
    if args.json is not None:
        write_json(args.json, config, reference, engine, measured_levers, macs_per_second, ratio)
    print(f"ratio: {ratio:.2f}", flush=True)
    return 0


def write_json(
    path: Path,
    config: BenchConfig,
    reference: Measurement,
    engine: Measurement,
    levers: dict[str, dict[str, float | str]],
    macs_per_second: float,
    ratio: float,
) -> None:
    """The measurements as JSON (``benchmarks/gpu_check.sh`` reads them; the dry-run's GPU rate comes from it)."""
    device = config.device
    result = {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "teacher": config.teacher,
        "student": config.student,
        "methods": list(config.methods),
        "batch_size": config.batch_size,
        "steps": config.steps,
        "reference_images_per_second": reference.images_per_second,
        "engine_images_per_second": engine.images_per_second,
        "engine_macs_per_second": macs_per_second,
        "ratio": ratio,
        "reference_memory": reference.memory,
        "engine_memory": engine.memory,
        "levers": levers,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    sys.exit(main())
