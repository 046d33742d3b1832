#!/usr/bin/env bash
# Measure what the CI regression check's tolerances must absorb (docs/testing.md, "The CI regression check"):
#   * the deterministic rerun: the ci suite trained again as the reference was (--deterministic, this machine's
#     thread count), which must reproduce the reference bitwise: every number of its epoch CSVs except the timings,
#     and top-1 / top-5 of runs.csv (it says which differ, if any);
#   * the rerun spread: the suite trained with one torch thread (OMP_NUM_THREADS=1) instead of this machine's (other
#     floating-point reduction orders), and with AVX2 kernels instead of the CPU's best (ATEN_CPU_CAPABILITY,
#     ONEDNN_MAX_CPU_ISA: the arithmetic of an older CPU): per cell, the difference of best top-1 and of every
#     structure metric (struct_* columns, docs/structure.md) to the deterministic rerun, absolute and relative to
#     |value|, and of the first-epoch loss terms; the tolerances of cskd/report/structure_check.py come from it;
#   * with SEED_SPREAD=1, the seed spread as well: seeds 1 and 2, with the reference's seed 0 (per cell: the range
#     of best top-1 and of each structure metric over the three seeds).
# Finished runs in SCRATCH_DIR are reused, so a second call only prints. Takes a few minutes per suite on 2 quiet
# cores. Usage: [SEED_SPREAD=1] scripts/measure_ci_spread.sh [SCRATCH_DIR]
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$CSKD_ROOT"
scratch="${1:-$(mktemp -d)}"
cskd run ci --results-dir "$scratch/rerun" --deterministic --no-progress
OMP_NUM_THREADS=1 cskd run ci --results-dir "$scratch/one-thread" --deterministic --no-progress
ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 cskd run ci --results-dir "$scratch/avx2" --deterministic --no-progress
if [ "${SEED_SPREAD:-0}" = 1 ]; then
    cskd run ci --results-dir "$scratch/seeds" --seeds 1 2 --deterministic --no-progress
fi
python - "$scratch" <<'PY'
import sys
from pathlib import Path

import pandas as pd

from cskd.report.trajectory import compare_trajectories
from cskd.results import read_runs
from cskd.runs_schema import STRUCTURE_COLUMNS

scratch = Path(sys.argv[1])
reference_dir = Path("reference/results/ci")
reference = read_runs(reference_dir / "runs.csv").set_index("run_id")
rerun = read_runs(scratch / "rerun/ci/runs.csv").set_index("run_id")

print("== deterministic rerun against the reference (bitwise) ==")
differences = []
for column in ["best_top1", "best_top5", "last_top1", "last_top5"]:
    for run_id in reference.index:
        if reference.at[run_id, column] != rerun.at[run_id, column]:
            differences.append(f"{run_id} {column}: {reference.at[run_id, column]} vs {rerun.at[run_id, column]}")
for run_id in reference.index:
    ours = pd.read_csv(reference_dir / "epochs" / f"{run_id}.csv").drop(columns="seconds")
    theirs = pd.read_csv(scratch / "rerun/ci/epochs" / f"{run_id}.csv").drop(columns="seconds")
    if not ours.equals(theirs):
        differences.append(f"{run_id}: epoch CSV differs")
    last = ours[ours["phase"] == "main"].iloc[-1]
    for column in STRUCTURE_COLUMNS:  # runs.csv's struct_* are the last epoch's values
        if not (pd.isna(last[column]) and pd.isna(rerun.at[run_id, column])) and last[column] != rerun.at[run_id, column]:
            differences.append(f"{run_id} {column}: reference's last epoch {last[column]} vs runs.csv {rerun.at[run_id, column]}")
print("identical (top-1/top-5 of runs.csv, every epoch CSV number but the timings)" if not differences else "\n".join(differences))

columns = ["best_top1", *STRUCTURE_COLUMNS]
for name in ["one-thread", "avx2"]:
    other = read_runs(scratch / name / "ci/runs.csv").set_index("run_id").loc[rerun.index]
    print(f"\n== {name} against the deterministic rerun, per cell ==")
    rows = []
    for run_id in rerun.index:
        row = {"method": rerun.at[run_id, "method"]}
        for column in columns:
            a, b = rerun.at[run_id, column], other.at[run_id, column]
            row[column] = f"{a:.4g} vs {b:.4g}: {abs(a - b):.3g} ({abs(a - b) / abs(a):.1%})" if pd.notna(a) else "—"
        rows.append(row)
    print(pd.DataFrame(rows).set_index("method").T.to_string())
    print("\nmax over cells: absolute, relative to |value| of the deterministic rerun")
    gap = (rerun[columns] - other[columns]).abs()
    relative = gap / rerun[columns].abs()
    print(pd.DataFrame({"absolute": gap.max(), "relative": relative.max()}).to_string(float_format=lambda v: f"{v:.3g}"))
    terms = compare_trajectories(reference.reset_index(), reference_dir, scratch / name / "ci", tolerance=1.0)
    worst = max(terms, key=lambda t: t.relative_difference or 0.0)
    print(f"first-epoch loss terms: max relative difference {worst.relative_difference:.2e} ({worst.name})")

if (scratch / "seeds/ci/runs.csv").exists():
    print("\n== seed spread (seeds 0-2, range over seeds per cell) ==")
    seeds = pd.concat([rerun.reset_index(), read_runs(scratch / "seeds/ci/runs.csv")])
    columns = ["best_top1", *STRUCTURE_COLUMNS]
    spread = seeds.groupby("method")[columns].agg(lambda v: v.max() - v.min())
    print(spread.T.to_string(float_format=lambda v: f"{v:.3g}"))
PY
