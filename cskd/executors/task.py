"""The function a job runs: one lockstep group through the ordinary :class:`~cskd.runner.Runner`.

A job carries its runs (resolved :class:`~cskd.plan.RunSpec` objects), so it trains exactly what was planned when it
was submitted, and writes the rows the in-process runner writes (``runs.csv``'s locked append, per-run locks and
per-epoch checkpoints). On preemption or time-out, submitit calls :meth:`GroupTask.checkpoint` and requeues the same
task; the runner then resumes every run from its last epoch checkpoint.
"""

from __future__ import annotations

import argparse
import os
import socket
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import submitit

from cskd.executors import records
from cskd.plan import Plan, RunSpec
from cskd.suite import Profile, Suite

#: the ``cskd run`` options a job needs to build its engine options (``cskd.cli.engine_options``)
ENGINE_ARGUMENTS = ("device", "amp", "no_channels_last", "compile", "deterministic", "log")  # log: issue 21


class GroupFailed(RuntimeError):
    """A job whose runs did not all finish ``ok``; their rows in runs.csv hold each error."""


@dataclass
class GroupTask(submitit.helpers.Checkpointable):
    """Train ``runs`` (one lockstep group) of ``suite`` into ``results_dir``; ``record`` is the job's record file."""

    suite: Suite
    profile: Profile
    runs: list[RunSpec]
    results_dir: Path
    data_dir: Path | None
    engine: dict[str, Any]  # ENGINE_ARGUMENTS as given to ``cskd run``
    lockstep: bool
    record: Path
    threads: int | None = None
    _requeued: bool = field(default=False, init=False, repr=False)

    def __call__(self) -> dict[str, int]:
        from cskd.cli import engine_options
        from cskd.runner import Runner, RunnerOptions

        started = records.update(
            self.record,
            started_at=records.now(),
            ended_at=None,
            host=socket.gethostname(),
            task=records.this_process(),
            cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
        )
        records.update(self.record, attempts=started.get("attempts", 0) + 1)
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        options = RunnerOptions(
            results_dir=self.results_dir,
            data_dir=self.data_dir,
            engine=engine_options(argparse.Namespace(**self.engine, no_progress=True)),
            lockstep=self.lockstep,
        )
        try:
            summary = Runner(Plan(self.suite, self.profile, self.runs), options).sweep()
        except BaseException as error:
            if not self._requeued:  # a requeue exits through SystemExit after checkpoint(): the job goes on
                ended = {"ended_at": records.now(), "outcome": "failed", "error": f"{type(error).__name__}: {error}"}
                records.update(self.record, **ended)
            raise
        counts = {"trained": summary.trained, "done_before": summary.done_before, "failed": summary.failed}
        failed = summary.failed > 0
        error = f"{summary.failed} of {len(self.runs)} run(s) failed (their rows in runs.csv say why)" if failed else ""
        records.update(self.record, ended_at=records.now(), outcome="failed" if failed else "ok", error=error, **counts)
        if failed:
            raise GroupFailed(error)
        return counts

    def checkpoint(self, *args: Any, **kwargs: Any) -> submitit.helpers.DelayedSubmission:
        """Preempted or timed out: requeue this same task; the runner resumes from the epoch checkpoints."""
        self._requeued = True
        records.update(self.record, requeued_at=records.now())
        fresh = GroupTask(**{f.name: getattr(self, f.name) for f in fields(self) if f.init})
        return submitit.helpers.DelayedSubmission(fresh, *args, **kwargs)
