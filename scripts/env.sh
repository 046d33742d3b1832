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
# worth 23-55% on CPU (see README, "Performance").
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-1073741824}"
export MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-4294967296}"
export CSKD_DATA="${CSKD_DATA:-$CSKD_ROOT/data}"

# Extract the real CIFAR-10 JPEG copy (../shared/data/cifar10-jpeg.tar.gz) into the data directory once.
extract_cifar10_jpeg() {
    local archive="$CSKD_ROOT/../shared/data/cifar10-jpeg.tar.gz"
    if [ ! -d "$CSKD_DATA/cifar10-jpeg/train" ] && [ -f "$archive" ]; then
        echo "extracting $archive into $CSKD_DATA ..."
        mkdir -p "$CSKD_DATA"
        tar -xzf "$archive" -C "$CSKD_DATA"
    fi
}
