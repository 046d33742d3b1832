"""Peak memory of one part of a benchmark: device memory on CUDA, resident set size of the process on the CPU.

On Linux the process's RSS high-water mark (``VmHWM``) is reset by writing ``5`` to ``/proc/self/clear_refs``, so
each part's peak is its own. Where that is not possible the reading is ``ru_maxrss``, the process's peak so far,
and says so. DataLoader worker processes are not part of the process's RSS; :func:`worker_peak_rss_mib` gives the
largest of them.
"""

from __future__ import annotations

import resource
from pathlib import Path
from types import TracebackType

import torch

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_mib(field: str) -> float:
    """A ``kB`` line of /proc/self/status (``VmRSS``, ``VmHWM``) in MiB."""
    for line in STATUS.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{STATUS} has no {field} line")


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
            self.start_mib = torch.cuda.memory_allocated(self.device) / 2**20
        else:
            self.own_peak = _reset_rss_peak()
            self.start_mib = _status_mib("VmRSS") if STATUS.exists() else 0.0
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_mib = torch.cuda.max_memory_allocated(self.device) / 2**20
        elif self.own_peak:
            self.peak_mib = _status_mib("VmHWM")
        else:
            self.peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def describe(self) -> str:
        if self.device.type == "cuda":
            what = "peak CUDA memory allocated (torch.cuda.max_memory_allocated)"
        elif self.own_peak:
            what = "peak RSS of the process"
        else:
            what = "peak RSS of the process so far (ru_maxrss; the peak could not be reset here)"
        return f"{what} {self.peak_mib:,.0f} MiB, +{self.peak_mib - self.start_mib:,.0f} MiB over its start"
