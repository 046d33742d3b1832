"""Stopping on SIGTERM and SIGINT without losing or falsifying anything (docs/cli.md, Exit status).

SIGTERM is what ``kill``, ``scancel`` and a SLURM time limit send; SIGINT is Ctrl-C. While a command trains
(:func:`stop_between_steps`), the first signal lets the current optimisation step finish and stops before the next
batch (:func:`check_stop`, called by the trainer): the epoch in progress is abandoned (it is trained again from its
start on resume; every finished epoch is in its run's checkpoint) and no row is written for an unfinished run. A
second signal stops at once. Outside training the signal stops the command at once. Either way :class:`Stopped`
reaches the CLI's entry point, which says how to resume and exits with ``128 + signal number``: 143 for SIGTERM,
130 for SIGINT.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

#: the signals that stop cskd gracefully
SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Stopped(BaseException):
    """The process was asked to stop by ``signum``; nothing unfinished was recorded."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


_requested: int | None = None


def _stop_now(signum: int, frame: FrameType | None) -> None:
    raise Stopped(signum)


def _stop_after_step(signum: int, frame: FrameType | None) -> None:
    global _requested
    if _requested is not None:  # a second signal: stop at once
        raise Stopped(signum)
    _requested = signum


def install_stop_at_once() -> None:
    """Make SIGTERM stop the process with :class:`Stopped` (like SIGINT's KeyboardInterrupt) instead of killing it
    silently; called by the CLI's entry point (main thread only)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop_now)


@contextmanager
def stop_between_steps() -> Iterator[None]:
    """While the block runs, SIGTERM and SIGINT request a stop that :func:`check_stop` raises between steps."""
    global _requested
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _stop_after_step) for signum in SIGNALS}
    _requested = None
    try:
        yield  # a request made after the last check (the last epoch's evaluation, say) lets the work finish
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _requested = None


def check_stop() -> None:
    """Raise :class:`Stopped` when a stop was requested (call where stopping loses no finished work)."""
    if _requested is not None:
        raise Stopped(_requested)
