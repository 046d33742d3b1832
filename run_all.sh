#!/usr/bin/env bash
# The main job: train every suite of the paper, then render the reports.
#   ./run_all.sh            the paper's full setting (GPU strongly advised: hundreds of 200-epoch runs)
#   ./run_all.sh --quick    the CPU-scale experiment (benchmarks/quick.yaml: Table 1's methods and Table 4's ablation
#                           on one pair, 3 seeds, a shipped teacher; about 30 minutes on 2 CPU cores)
# Re-running resumes: finished runs are skipped, interrupted ones continue from their last checkpoint.
source "$(dirname "$0")/scripts/env.sh"
cd "$CSKD_ROOT"
suites=(table1 table2 table3 table4)
run_args=()
case "${1:-}" in
    "") ;;
    --quick)
        suites=(quick)
        # Without a GPU: one single-threaded worker per core (two 1-thread processes train about 1.3x faster than
        # one 2-thread process here), each lockstep group cut to at most 5 runs so the workers get jobs of similar
        # length (docs/quick.md, "Time").
        if ! python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
            run_args=(--executor local --gpus "$(nproc)" --lockstep-size 5)
        fi
        ;;
    *) echo "usage: ./run_all.sh [--quick]"; exit 2 ;;
esac
extract_cifar10_jpeg
status=0
for suite in "${suites[@]}"; do
    echo "== cskd run $suite ${run_args[*]}"
    cskd run "$suite" "${run_args[@]}" || status=1
    cskd report "$suite" || status=1
done
exit $status
