"""GPU readiness in one command: every path of the engine on CUDA, end to end, in at most 8 minutes on one GPU.

Steps, each a separate process with its own time limit, each recorded with what it measured and whether it passed:

1. ``suite_fp32``: a tiny suite with every registered method (a teacher, the CE baseline and one student per method,
   init stages included) trained by ``cskd run`` on CUDA; passes when every run is recorded ``ok`` with a positive
   top-1 (two epochs on a small subset show that every path runs, not how well a method learns).
2. ``suite_bf16``: the same with ``--amp`` (bf16 autocast).
3. ``throughput``: ``benchmarks/throughput.py`` with every engine lever; passes when it prints its ratio; records the
   images per second, each lever's effect and the engine's MACs per second (the dry-run's GPU rate, see
   cskd/bench/estimate.py).
4. ``local_executor``: the tiny suite's CE and KD over two seeds (four lockstep groups, two at a time) through
   ``cskd run --executor local --gpus N`` over every visible GPU; passes when every run is ``ok`` and the jobs ran
   on as many GPUs as could be busy at once (two, or one on a one-GPU machine).

The JSON (default ``results/gpu_check.json``) holds the machine, each step and ``passed`` (all steps passed). Without
CUDA the check fails at once and says so; ``--device cpu`` runs the same steps on the CPU with smaller settings (bf16
skipped: autocast is CUDA only) to check the script itself, and is never a GPU result.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
#: seconds each step may take on a GPU: 8 minutes in all, with start-up to spare
GPU_LIMITS = {"suite_fp32": 150, "suite_bf16": 90, "throughput": 120, "local_executor": 90}
#: on the CPU (a check of the script on a small machine), much longer
CPU_LIMITS = {"suite_fp32": 1800, "suite_bf16": 0, "throughput": 900, "local_executor": 1800}


def tiny_suite(device_type: str) -> dict[str, Any]:
    """Every registered method on a thin teacher/student pair; on the CPU smaller still, init stages one epoch."""
    from cskd.methods.base import get_method, method_names

    methods = {name: {"method": name} for name in method_names()}
    cpu = device_type == "cpu"
    if cpu:  # each init stage (FitNet's hint_epochs, AB's init_epochs, ...) one epoch
        for name in methods:
            epochs = {o.name: 1 for o in get_method(name).options() if o.name.endswith("epochs")}
            if epochs:
                methods[name]["args"] = epochs
    return {
        "name": "gpu_check",
        "description": "benchmarks/gpu_check.py: every method, end to end",
        "dataset": "cifar10-jpeg",
        "train_subset": 300 if cpu else 2000,
        "test_subset": 200 if cpu else 1000,
        "recipe": {"epochs": 1 if cpu else 2, "batch_size": 100 if cpu else 128, "lr": 0.05, "milestones": [1]},
        "models": {  # students 8 channels wide at the stem (thinner ones hit a torch CPU bug, tests/test_executors.py)
            "T": {"model": "cifar_resnet18_w0_25"},
            "S": {"model": "cifar_resnet18_w0_25", "kwargs": {"width_multiplier": 0.5}},
        },
        "pairs": [["T", "S"]],
        "methods": methods,
        "seeds": [0],
    }


def run_step(name: str, command: list[str], limit: int, log_dir: Path) -> dict[str, Any]:
    """Run one step; its exit code, seconds, output tail and log file."""
    start = time.perf_counter()
    log = log_dir / f"{name}.log"
    print(f"== {name}: {' '.join(command)}", flush=True)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=limit, cwd=REPO)
        output, code = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as error:
        output = (error.stdout or b"").decode(errors="replace") + (error.stderr or b"").decode(errors="replace")
        code = None
    log.write_text(output)
    seconds = round(time.perf_counter() - start, 1)
    result = {"exit_code": code, "seconds": seconds, "log": str(log), "output_tail": output[-2000:]}
    if code is None:
        result["error"] = f"did not finish within {limit} s"
    print(f"   exit {code} after {seconds} s; log {log}", flush=True)
    return result


def check_rows(results: Path, expected: int) -> tuple[bool, dict[str, Any]]:
    """Whether ``expected`` runs are recorded ``ok`` with a positive top-1; each run's figures."""
    from cskd.results import read_runs

    rows = read_runs(results / "gpu_check" / "runs.csv")
    runs = {
        f"{row.method} {row.student}": {
            "status": row.status,
            "best_top1": row.best_top1,
            "wall_seconds": row.wall_seconds,
            "device": row.device,
            "error": row.error,
        }
        for row in rows.itertuples()
    }
    ok = rows[(rows["status"] == "ok") & (rows["best_top1"] > 0)]
    return len(rows) == expected and len(ok) == expected and rows["run_id"].is_unique, runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda", help="cpu: check the script itself")
    parser.add_argument("--out", type=Path, default=REPO / "results" / "gpu_check.json", help="the JSON to write")
    parser.add_argument("--data-dir", type=Path, default=None, help="where cifar10-jpeg/ is (default: $CSKD_DATA)")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {
        "device_type": args.device,
        "torch": torch.__version__,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "steps": {},
        "passed": False,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.device == "cuda" and not torch.cuda.is_available():
        report["error"] = (
            "CUDA is not available (torch.cuda.is_available() is False): this check needs a GPU; "
            "`benchmarks/gpu_check.sh --device cpu` checks the script itself on the CPU"
        )
        args.out.write_text(json.dumps(report, indent=1))
        print(f"error: {report['error']}\nwrote {args.out}")
        return 2
    gpus = torch.cuda.device_count() if args.device == "cuda" else 2
    if args.device == "cuda":
        report |= {"gpu": torch.cuda.get_device_name(0), "gpus": gpus, "cuda": torch.version.cuda}
    limits = GPU_LIMITS if args.device == "cuda" else CPU_LIMITS
    work = Path(tempfile.mkdtemp(prefix="cskd-gpu-check-"))
    suite = tiny_suite(args.device)
    suite_path = work / "gpu_check.yaml"
    suite_path.write_text(yaml.safe_dump(suite))
    expected = 2 + len(suite["methods"]) - 1  # teacher, CE, one student per other method
    data = ["--data-dir", str(args.data_dir)] if args.data_dir else []
    cskd = [sys.executable, "-m", "cskd", "run", str(suite_path), "--device", args.device, "--no-progress", *data]

    variants = {"suite_fp32": [], "suite_bf16": ["--amp"]}
    for name, extra in variants.items():
        if args.device == "cpu" and extra:
            report["steps"][name] = {"passed": None, "note": "bf16 autocast is CUDA only: not run on the CPU"}
            continue
        results = work / name
        step = run_step(name, [*cskd, "--results-dir", str(results), *extra], limits[name], work)
        passed, runs = check_rows(results, expected) if step["exit_code"] is not None else (False, {})
        report["steps"][name] = step | {"passed": passed and step["exit_code"] == 0, "runs": runs}

    measured = work / "throughput.json"
    throughput = [sys.executable, str(REPO / "benchmarks" / "throughput.py"), "--device", args.device, *data]
    throughput += ["--json", str(measured)] + (["--tiny", "--levers", "none"] if args.device == "cpu" else [])
    step = run_step("throughput", throughput, limits["throughput"], work)
    figures = json.loads(measured.read_text()) if measured.exists() else {}
    report["steps"]["throughput"] = step | {"passed": step["exit_code"] == 0 and bool(figures)}
    report["throughput"] = figures

    results = work / "local_executor"
    local_suite = work / "local" / "gpu_check.yaml"
    local_suite.parent.mkdir()
    kd_ce = {name: entry for name, entry in suite["methods"].items() if name in ("ce", "kd")}
    local_suite.write_text(yaml.safe_dump(suite | {"methods": kd_ce, "seeds": [0, 1]}))
    local = [*cskd, "--results-dir", str(results), "--executor", "local", "--gpus", str(gpus)]
    local[local.index(str(suite_path))] = str(local_suite)
    step = run_step("local_executor", local, limits["local_executor"], work)
    passed, runs = check_rows(results, 5) if step["exit_code"] is not None else (False, {})
    jobs = [json.loads(p.read_text()) for p in (results / "gpu_check" / "jobs").glob("*.json")]
    slots = sorted({job.get("slot", "") for job in jobs})
    spread = len(slots) == min(gpus, 2)
    report["steps"]["local_executor"] = step | {
        "passed": passed and spread and step["exit_code"] == 0,
        "slots": slots,
        "runs": runs,
    }

    report["passed"] = all(step["passed"] is not False for step in report["steps"].values())
    report["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    report["work_dir"] = str(work)
    args.out.write_text(json.dumps(report, indent=1, default=str))
    for name, step in report["steps"].items():
        verdict = {True: "passed", False: "FAILED", None: "skipped"}[step["passed"]]
        print(f"{name}: {verdict}" + (f" ({step['note']})" if "note" in step else ""))
    print(f"{'PASSED' if report['passed'] else 'FAILED'}; wrote {args.out}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
