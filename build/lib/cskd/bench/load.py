"""How busy the rest of the machine was during a measurement: CPUs used by other processes, on average.

Machine-wide busy time comes from ``/proc/stat`` (Linux), this process's own from ``getrusage`` (itself and its
ended children, such as DataLoader workers); the difference over the wall-clock time is the other processes' load in
CPUs. On a machine shared with other developers it says how far a timing can be trusted.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path
from types import TracebackType

PROC_STAT = Path("/proc/stat")
#: /proc/stat's first line: cpu user nice system idle iowait irq softirq steal ...; idle and iowait are not busy
_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)


def _machine_busy_seconds() -> float:
    fields = PROC_STAT.read_text().split("\n", 1)[0].split()[1:]
    return sum(int(fields[i]) for i in _BUSY_FIELDS) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


class OtherLoad:
    """Context manager: ``with OtherLoad() as load: ...`` then ``load.cpus`` (None where /proc/stat is missing)."""

    def __init__(self) -> None:
        self.cpus: float | None = None

    def __enter__(self) -> OtherLoad:
        self._available = PROC_STAT.exists()
        if self._available:
            self._start = (time.perf_counter(), _machine_busy_seconds(), _own_cpu_seconds())
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if not self._available:
            return
        now = (time.perf_counter(), _machine_busy_seconds(), _own_cpu_seconds())
        wall, busy, own = (end - start for end, start in zip(now, self._start, strict=True))
        self.cpus = max(busy - own, 0.0) / wall if wall > 0 else 0.0


def describe_load(cpus: float | None) -> str:
    return "others' load unknown" if cpus is None else f"others' load {cpus:.1f} CPUs"
