#!/usr/bin/env bash
# The test command: lint, the unit and end-to-end tests, then the accuracy regression of the CI suite on real data.
#   ./run_tests.sh           everything (what CI runs)
#   ./run_tests.sh --fast    lint and tests only (no regression sweep)
#   ./run_tests.sh -- ARGS   extra pytest arguments (e.g. -- -k cskd)
source "$(dirname "$0")/scripts/env.sh"
# The regression check's tolerances (how they were measured: docs/testing.md, "The CI regression check"):
# accuracy cells in points, loss terms as a relative difference. tests/test_regression_check.py reads them from here.
CI_ACCURACY_TOLERANCE=5.0
CI_LOSS_TOLERANCE=0.1
cd "$CSKD_ROOT"
fast=0
pytest_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --fast) fast=1 ;;
        --) shift; pytest_args=("$@"); break ;;
        *) echo "unknown option $1 (use --fast, or -- PYTEST_ARGS)"; exit 2 ;;
    esac
    shift
done
echo "== ruff"
ruff check cskd tests benchmarks
ruff format --check cskd tests benchmarks
echo "== pytest"
python -m pytest -q "${pytest_args[@]}"
if [ "$fast" = 0 ]; then
    echo "== regression: benchmarks/ci.yaml against reference/results/ci (accuracy cells and first-epoch loss terms)"
    regression_dir="$(mktemp -d)"
    # two torch threads, as the reference was made with: the thread count changes reduction orders (docs/testing.md)
    OMP_NUM_THREADS=2 cskd run ci --results-dir "$regression_dir" --deterministic --no-progress
    cskd check "$regression_dir/ci/runs.csv" --against reference/results/ci/runs.csv \
        --tolerance "$CI_ACCURACY_TOLERANCE" --loss-tolerance "$CI_LOSS_TOLERANCE"
fi
