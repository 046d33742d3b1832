#!/usr/bin/env bash
# The main job: train every suite of the paper, then render the reports.
#   ./run_all.sh            the paper's full setting (GPU strongly advised: hundreds of 200-epoch runs)
#   ./run_all.sh --quick    the CPU-scale experiment (benchmarks/quick.yaml: Table 1's methods and Table 4's ablation
#                           on one pair, 3 seeds, a shipped teacher; 24 minutes measured on 2 CPU cores)
#   ./run_all.sh [--quick] [cskd run options...]
#                           every further option goes to each `cskd run` (e.g. --executor local --gpus 4, --amp,
#                           --seeds 0 1, --results-dir DIR, --data-dir DIR; `cskd run --help` lists them);
#                           --results-dir and --profile also go to each `cskd report`
# Re-running resumes: finished runs are skipped, interrupted ones continue from their last checkpoint.
source "$(dirname "$0")/scripts/env.sh"
cd "$CSKD_ROOT"
suites=(table1 table2 table3 table4)
rerun_options=()
case "${1:-}" in
    # the quick report states how far this run moved from the committed one (the same run ids): its noise floor
    --quick) suites=(quick); rerun_options=(--rerun reference/results); shift ;;
    -h|--help) sed -n '2,10p' "$0" | cut -c3-; exit 0 ;;
esac
run_options=("$@")
report_options=()
while [ $# -gt 0 ]; do
    case "$1" in
        --results-dir|--profile) [ $# -ge 2 ] && report_options+=("$1" "$2"); shift ;;
        --results-dir=*|--profile=*) report_options+=("$1") ;;
    esac
    shift
done
status=0
for suite in "${suites[@]}"; do
    echo "== cskd run $suite ${run_options[*]}"
    cskd run "$suite" "${run_options[@]}" || status=1
    cskd report "$suite" "${report_options[@]}" "${rerun_options[@]}" || status=1
done
exit $status
