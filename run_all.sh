#!/usr/bin/env bash
# The main job: train every suite of the paper, then render the reports.
#   ./run_all.sh            the paper's full setting (GPU strongly advised: hundreds of 200-epoch runs)
#   ./run_all.sh --quick    the CPU-scale experiment (benchmarks/quick.yaml: Table 1's methods and Table 4's ablation
#                           on one pair, 3 seeds, a shipped teacher; 27 minutes measured on 2 CPU cores)
# Re-running resumes: finished runs are skipped, interrupted ones continue from their last checkpoint.
source "$(dirname "$0")/scripts/env.sh"
cd "$CSKD_ROOT"
suites=(table1 table2 table3 table4)
case "${1:-}" in
    "") ;;
    --quick) suites=(quick) ;;
    *) echo "usage: ./run_all.sh [--quick]"; exit 2 ;;
esac
extract_cifar10_jpeg
status=0
for suite in "${suites[@]}"; do
    echo "== cskd run $suite"
    cskd run "$suite" || status=1
    cskd report "$suite" || status=1
done
exit $status
