"""How fast the planning commands answer: each one run as a fresh ``python -m cskd`` process, side by side.

    python benchmarks/planning_speed.py [--repeats 3] [--goal 1.5]

For ``cskd list models``, ``list suites``, ``status quick``, ``run table1 --dry-run`` and ``run cpu_teacher
--dry-run`` it prints the best of ``--repeats`` runs in wall seconds and in user CPU seconds (the CPU time the
process and its children spent, from ``getrusage``: on a machine shared with other work the wall time measures the
others too), and whether each meets the goal (issue 18: at most 1.5 s). Two reference processes are timed beside
them: a bare interpreter and ``import torch``, the floor of any command that trains. Exit status 1 when a command
fails or misses the goal in user time.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "cskd list models": ["-m", "cskd", "list", "models"],
    "cskd list suites": ["-m", "cskd", "list", "suites"],
    "cskd status quick": ["-m", "cskd", "status", "quick"],
    "cskd run table1 --dry-run": ["-m", "cskd", "run", "table1", "--dry-run"],
    "cskd run cpu_teacher --dry-run": ["-m", "cskd", "run", "cpu_teacher", "--dry-run"],
}
REFERENCES = {
    "python (bare interpreter)": ["-c", "pass"],
    "python -c 'import torch'": ["-c", "import torch"],
}


def timed(arguments: list[str]) -> tuple[float, float, int]:
    """(wall seconds, user CPU seconds, exit status) of one ``python ARGUMENTS`` process run from the checkout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *arguments], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True
    )
    wall = time.perf_counter() - start
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - before, done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each command; the best is reported")
    parser.add_argument("--goal", type=float, default=1.5, help="seconds each planning command may take")
    args = parser.parse_args()

    print(f"{'command':34s} {'wall s':>8s} {'user s':>8s}  verdict (goal {args.goal:.1f} s, best of {args.repeats})")
    failed = False
    for label, arguments in {**REFERENCES, **COMMANDS}.items():
        runs = [timed(arguments) for _ in range(args.repeats)]
        wall = min(run[0] for run in runs)
        user = min(run[1] for run in runs)
        status = max(run[2] for run in runs)
        if label in REFERENCES:
            verdict = "reference"
        elif status != 0:
            verdict, failed = f"FAILED (exit {status})", True
        elif user <= args.goal:
            verdict = "pass" if wall <= args.goal else "pass in user time (wall includes other load)"
        else:
            verdict, failed = "FAIL", True
        print(f"{label:34s} {wall:8.2f} {user:8.2f}  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
