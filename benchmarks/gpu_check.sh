#!/usr/bin/env bash
# GPU readiness in one command (at most 8 minutes on one GPU): every method end to end on CUDA with bf16 on and off,
# the throughput benchmark with its levers, and `cskd run --executor local --gpus N` over every GPU; writes
# results/gpu_check.json (what passed, what it measured). Without CUDA it fails at once and says so.
#   benchmarks/gpu_check.sh                  the check (sets up .venv and the CIFAR-10 JPEG copy like run_tests.sh)
#   benchmarks/gpu_check.sh --device cpu     the same steps on the CPU (smaller), to check the script itself
#   benchmarks/gpu_check.sh --out FILE       write the JSON elsewhere
# CSKD_PYTHON=/path/to/python uses that interpreter's environment as it is (no .venv set-up, no data extraction).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ -n "${CSKD_PYTHON:-}" ]; then
    python="$CSKD_PYTHON"
    export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
    export MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=4294967296  # as scripts/env.sh sets them
else
    source "$root/scripts/env.sh"
    extract_cifar10_jpeg
    python=python
fi
exec "$python" "$root/benchmarks/gpu_check.py" "$@"
