"""Peak memory of one part of a benchmark: device memory on CUDA, the process's resident set size on the CPU.

On the CPU the part's own peak is the RSS high-water mark (``VmHWM``), reset when the part starts (writing ``5`` to
``/proc/self/clear_refs``), minus the RSS at its start. With a large ``MALLOC_TRIM_THRESHOLD_`` (which the project
sets, see scripts/env.sh) freed memory stays mapped, and the part measured second would reuse the first one's pages
without growing, so the start also hands freed memory back to the system (glibc's ``malloc_trim``). Nothing runs
during the part itself: a sampling thread would steal time slices from torch's threads and slow what is measured.
Where either call is missing (not Linux, not glibc) the reading is ``ru_maxrss``, the process's peak so far, and says
so. DataLoader worker processes are separate; :func:`worker_peak_rss_mib` gives the largest of them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import resource
from pathlib import Path
from types import TracebackType

import torch

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")
MIB = 2**20


def _status_mib(field: str) -> float:
    """A ``kB`` line of /proc/self/status (``VmRSS``, ``VmHWM``) in MiB."""
    for line in STATUS.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{STATUS} has no {field} line")


def _release_free_memory() -> bool:
    """glibc's ``malloc_trim(0)``: return every free page to the system. False where there is no such call."""
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return False
    trim(ctypes.c_size_t(0))
    return True


def _reset_rss_peak() -> bool:
    """Reset the RSS high-water mark to the current RSS; False where the kernel does not allow it."""
    try:
        CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def worker_peak_rss_mib() -> float:
    """Largest peak RSS of any child process that has ended (DataLoader workers), shared pages included."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


class PeakMemory:
    """Context manager: ``with PeakMemory(device) as peak: ...`` then ``peak.describe()``."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.start_mib = 0.0
        self.peak_mib = 0.0
        self.own_peak = True

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start_mib = torch.cuda.memory_allocated(self.device) / MIB
        else:
            self.own_peak = _release_free_memory() and _reset_rss_peak()
            self.start_mib = _status_mib("VmRSS") if self.own_peak else 0.0
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_mib = torch.cuda.max_memory_allocated(self.device) / MIB
        elif self.own_peak:
            self.peak_mib = _status_mib("VmHWM")
        else:
            self.peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def describe(self) -> str:
        if self.device.type == "cuda":
            what = "peak CUDA memory allocated (torch.cuda.max_memory_allocated)"
        elif self.own_peak:
            what = "peak RSS"
        else:
            return f"peak RSS of the process so far (ru_maxrss; its peak cannot be reset here) {self.peak_mib:,.0f} MiB"
        return f"{what} {self.peak_mib:,.0f} MiB, +{self.peak_mib - self.start_mib:,.0f} MiB over its start"
