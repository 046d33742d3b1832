# Sourced by run_all.sh and run_tests.sh: create the virtual environment on first use and set the runtime environment.
# CSKD_VENV overrides where the environment lives (default .venv in the repository).
set -euo pipefail
CSKD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CSKD_VENV:-$CSKD_ROOT/.venv}"
STAMP="$VENV/.cskd-installed"
if [ ! -f "$STAMP" ] || [ "$CSKD_ROOT/pyproject.toml" -nt "$STAMP" ]; then
    echo "setting up $VENV (first use or pyproject.toml changed) ..."
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    # torch 2.14.1 is the newest this project supports (a CUDA build; it runs on the CPU where there is no GPU)
    "$VENV/bin/python" -m pip install -q torch==2.14.1 torchvision==0.29.1
    "$VENV/bin/python" -m pip install -q -e "$CSKD_ROOT[test]"
    touch "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
# glibc's defaults return large activation buffers to the OS and fault them in again every step; keeping them is
# worth 23-55% on CPU (docs/performance.md, "Allocator"). A `cskd` started directly re-executes itself once with the
# same values when they are missing (cskd/allocator.py).
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-1073741824}"
export MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-4294967296}"
# The data directory. The images of the CIFAR-10 JPEG copy that the ci, quick and smoke suites use ship with cskd
# (cskd/data/shipped_images/); the full copy and the other datasets are fetched into this folder when a run needs them.
export CSKD_DATA="${CSKD_DATA:-$CSKD_ROOT/data}"
