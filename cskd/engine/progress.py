"""Progress of a training sweep: one line per epoch of a lockstep group, for people and for cluster logs.

After every epoch of a group, :class:`EpochLog` prints one line to stdout (flushed, so ``nohup`` and SLURM logs show
it at once), whether or not stdout is a terminal::

    quick group 2/5 main 3/7 lr 0.1 | KD top1 45.20 loss 1.234 | CSKD top1 47.00 loss 1.100 | 812 img/s | ETA group
    2m10s, suite 14m05s

(one line, folded here)

``top1`` is the run's test top-1 (%) after the epoch, ``loss`` its training loss (the method's whole objective,
averaged over the epoch), ``img/s`` the group's training images per second in that epoch. The group's ETA is the mean
epoch time so far times the epochs left in its schedule; the suite's adds the groups still to train, at the rate of
work (MACs, :mod:`cskd.cost`, or run-epochs when the cost is unknown) this process has measured so far.
On a terminal the batch bar (tqdm) shows the running training loss of each run, the images per second and the same
ETAs while the epoch trains, and the epoch line stays above it.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field


def format_duration(seconds: float) -> str:
    """``2h05m``, ``14m05s`` or ``42s``."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


@dataclass
class SweepClock:
    """The work of a sweep in some unit (MACs, or run-epochs) and the time spent on what is done, for the suite's ETA.

    ``total``: the work of every group this process will train; ``finished``: of groups already trained (or skipped,
    then not counted in ``total``); the current group's share is added per epoch.
    """

    suite: str = ""
    groups: int = 0
    total: float = 0.0
    finished: float = 0.0
    seconds: float = 0.0
    group_index: int = 0
    _started: float = field(default_factory=time.perf_counter)

    def begin_group(self) -> None:
        self.group_index += 1

    def add(self, work: float, seconds: float) -> None:
        self.finished += work
        self.seconds += seconds

    def eta(self) -> float | None:
        """Seconds left for the whole sweep at the rate measured so far (None before any work is measured)."""
        if self.finished <= 0 or self.seconds <= 0:
            return None
        return max(self.total - self.finished, 0.0) * self.seconds / self.finished


@dataclass
class EpochLog:
    """The epoch lines of one lockstep group: ``epochs`` in its schedule (init stages included), the group's
    ``work`` (in the clock's unit) spread evenly over its epochs."""

    epochs: int
    clock: SweepClock = field(default_factory=SweepClock)
    work: float = 0.0
    stream: object = None
    done: int = 0
    seconds: float = 0.0
    last: str = ""  # the last epoch's metrics, shown by the terminal's bar during the next epoch

    def group_eta(self) -> float | None:
        if not self.done:
            return None
        return self.seconds / self.done * max(self.epochs - self.done, 0)

    def etas(self, extra_seconds: float = 0.0) -> str:
        """``ETA group 2m10s, suite 14m05s`` (``?`` where nothing is measured yet)."""
        group = self.group_eta()
        suite = self.clock.eta()
        group_text = "?" if group is None else format_duration(max(group - extra_seconds, 0))
        suite_text = "?" if suite is None else format_duration(max(suite - extra_seconds, 0))
        return f"ETA group {group_text}, suite {suite_text}"

    def bar_text(self) -> str:
        """What the terminal's batch bar shows beside its rate: the last epoch's metrics and the ETAs."""
        return f"{self.last} | {self.etas()}" if self.last else self.etas()

    def epoch_done(
        self,
        phase: str,
        epoch: int,
        total: int,
        lrs: list[float],
        runs: list[tuple[str, float, float]],
        images: int,
        seconds: float,
    ) -> str:
        """Record one epoch of the group and print its line; ``runs``: (label, test top-1, training loss) of each
        run that trained it; ``lrs``: their learning rates (one value when they share it). Returns the line."""
        self.done += 1
        self.seconds += seconds
        self.clock.add(self.work / self.epochs if self.epochs else 0.0, seconds)
        head = f"{self.clock.suite} " if self.clock.suite else ""
        group = f"group {self.clock.group_index}/{self.clock.groups} " if self.clock.groups else ""
        metrics = " | ".join(f"{label} top1 {top1:.2f} loss {loss:.3f}" for label, top1, loss in runs)
        self.last = f"last epoch: {metrics}" if metrics else ""
        rate = images / seconds if seconds > 0 else 0.0
        lr = "/".join(f"{value:g}" for value in lrs) or "-"
        line = f"{head}{group}{phase} {epoch}/{total} lr {lr} | {metrics} | {rate:.0f} img/s | {self.etas()}"
        print(line, file=self.stream or sys.stdout, flush=True)
        return line
