"""Ship a trained teacher run as reference data: its weights, its runs.csv row and its epoch CSV.

    python scripts/ship_teacher.py SUITE RUN_ID OUT.pt [--results-dir results] [--reference-dir reference/results]

Writes OUT.pt holding ``{"model": state_dict, "run_id": RUN_ID}`` (the weights only: no optimiser state, so the file is
a few MB), copies the run's ``ok`` row and its ``epochs/RUN_ID.csv`` into ``REFERENCE_DIR/SUITE/``, and prints the
sha256 that a suite's ``teacher_checkpoints`` entry must give.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch

from cskd.data.files import file_digest
from cskd.locations import SuitePaths
from cskd.results import append_run_row, read_runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite")
    parser.add_argument("run_id")
    parser.add_argument("out", type=Path)
    parser.add_argument("--results-dir", type=Path, default=Path("results"))
    parser.add_argument("--reference-dir", type=Path, default=Path("reference/results"))
    args = parser.parse_args()

    source, target = SuitePaths(args.results_dir / args.suite), SuitePaths(args.reference_dir / args.suite)
    rows = read_runs(source.runs_csv)
    ok = rows[(rows["run_id"] == args.run_id) & (rows["status"] == "ok")]
    if ok.empty:
        raise SystemExit(f"error: {source.runs_csv} has no ok row for run {args.run_id}")
    state = torch.load(source.checkpoint(args.run_id), map_location="cpu", weights_only=False)
    if state.get("run_id") != args.run_id:
        raise SystemExit(f"error: {source.checkpoint(args.run_id)} belongs to run {state.get('run_id')}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": state["model"], "run_id": args.run_id}, args.out)

    target.epochs_csv(args.run_id).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source.epochs_csv(args.run_id), target.epochs_csv(args.run_id))
    already = read_runs(target.runs_csv)
    if not (already["run_id"] == args.run_id).any():
        append_run_row(target.runs_csv, {k: (None if v != v else v) for k, v in ok.iloc[-1].to_dict().items()})
    print(f"{args.out}: sha256 {file_digest(args.out, 'sha256')} (best top-1 {float(ok['best_top1'].iloc[-1]):.2f})")


if __name__ == "__main__":
    main()
