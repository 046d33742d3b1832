"""The throughput benchmark (benchmarks/throughput.py) end to end in a tiny configuration, and its cost formula.

Correctness only: the output has both sides' throughput, an engine lever row, the hours estimate and a parseable
final ratio. Speed is not asserted (the machine is shared).
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cskd.cost import group_macs_per_image

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "throughput.py"
RATE = r"([0-9.]+) student-images/s"


def load_script():
    """benchmarks/throughput.py as a module; its parts (benchmarks/throughput_parts) are found beside it, as when it
    runs as a script."""
    if str(SCRIPT.parent) not in sys.path:
        sys.path.insert(0, str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location("throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_benchmark_reports_both_sides_and_ratio(data_dir: Path):
    command = [
        sys.executable,
        str(SCRIPT),
        "--tiny",
        "--steps", "2",
        "--methods", "kd,ab",
        "--batch-size", "8",
        "--threads", "1",
        "--levers", "inference_mode",
        "--device", "cpu",
        "--data-dir", str(data_dir),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()

    def rate(prefix: str) -> float:
        matches = [re.search(RATE, line) for line in lines if line.startswith(prefix)]
        assert len(matches) == 1 and matches[0], f"no single {prefix!r} line with a rate in:\n{done.stdout}"
        return float(matches[0].group(1))

    assert rate("(a) reference loop") > 0
    assert rate("(b) engine, 2 students") > 0
    lever = next(line for line in lines if "teacher under inference_mode" in line)
    assert float(re.search(r"([0-9.]+) img/s", lever).group(1)) > 0
    assert any(re.match(r"table1 \(cifar10\): [1-9]\d* runs", line.strip()) for line in lines)
    assert any(line.strip().startswith("table2 (cifar100)") and "CPU-hours" in line for line in lines)
    final = re.fullmatch(r"ratio: (\d+\.\d\d)", lines[-1])
    assert final, f"the last line is not 'ratio: X.XX': {lines[-1]!r}"
    assert float(final.group(1)) > 0


def test_group_cost_counts_the_teacher_once_per_epoch_and_init_students_only_in_init_epochs():
    # teacher 10 MACs, students 1 and 2 MACs, the first with a 2-epoch init stage, 3 main epochs:
    # main 3 * (10 + 3 * (1 + 2)) = 57; init epochs 1 and 2: 10 + 3 * 1 = 13 each
    assert group_macs_per_image(10, [1, 2], [2, 0], epochs=3) == 57 + 2 * 13


def test_unknown_method_is_refused_with_the_closest_names():
    script = load_script()
    args = script.build_parser().parse_args(["--methods", "kd,fitnett"])
    with pytest.raises(SystemExit, match=r"unknown method 'fitnett' .*fitnet"):
        script.resolve_arguments(args)


def test_cpu_levers_are_compared_side_by_side_with_ratios(capsys):
    """Issue 17: eager against compiled (fp32) and fp32 against bf16, as ratios of the rates of one run."""
    throughput = load_script()
    measured = {
        "+ torch.compile": {"images_per_second": 15.0},
        "+ bf16 autocast": {"images_per_second": 12.0},
        "+ torch.compile + bf16 autocast": {"images_per_second": 18.0},
    }
    throughput.print_side_by_side(["compile", "bf16", "compile_bf16"], measured, default_rate=10.0)
    shown = capsys.readouterr().out
    assert re.search(r"compiled / eager, fp32 +1\.50", shown)
    assert re.search(r"bf16 / fp32, eager +1\.20", shown)
    assert re.search(r"bf16 / fp32, compiled +1\.20", shown)  # 18 / 15
    throughput.print_side_by_side(["compile"], {"+ torch.compile": {"error": "failed"}}, default_rate=10.0)
    assert capsys.readouterr().out == ""  # a failed lever has no ratio
