#!/usr/bin/env bash
# The main job: train every suite of the paper, then render the reports.
#   ./run_all.sh            the paper's full setting (GPU strongly advised: hundreds of 200-epoch runs)
#   ./run_all.sh --quick    the CPU-scale profile (Table 1's methods on one pair, on the real CIFAR-10 JPEG copy)
# Re-running resumes: finished runs are skipped, interrupted ones continue from their last checkpoint.
source "$(dirname "$0")/scripts/env.sh"
cd "$CSKD_ROOT"
profile=()
suites=(table1 table2 table3 table4)
case "${1:-}" in
    "") ;;
    --quick) profile=(--profile quick); suites=(table1) ;;
    *) echo "usage: ./run_all.sh [--quick]"; exit 2 ;;
esac
extract_cifar10_jpeg
status=0
for suite in "${suites[@]}"; do
    echo "== cskd run $suite ${profile[*]}"
    cskd run "$suite" "${profile[@]}" || status=1
    cskd report "$suite" "${profile[@]}" || status=1
done
exit $status
