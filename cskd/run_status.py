"""What a sweep does with each run of a plan, from the results store: ``done`` (latest row ok) is skipped; ``to do``
is trained; ``resume`` goes on from its checkpoint; ``retry`` (latest row failed, no checkpoint left) is trained
again; ``failed`` stays failed: a run that diverged (its checkpoint records the non-finite epoch) or whose checkpoint
is damaged is recorded failed again, with the file to delete to start it over. A finished teacher that students still
need is only ``done`` when its checkpoint can teach (readable, its own, finite); otherwise it is ``redo``: the unusable
file is set aside (``.damaged``) and the teacher trained again. A student whose teacher cannot teach (failed, or a
supplied checkpoint missing or with the wrong sha256) is ``blocked``: nothing distils from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cskd.data.files import file_digest
from cskd.engine import checkpoint
from cskd.engine.checkpoint import CheckpointError
from cskd.plan import RunSpec
from cskd.store import ResultsStore
from cskd.suite import TeacherCheckpoint


@dataclass(frozen=True)
class RunStatus:
    """What the sweep does with a run: ``done``, ``to do``, ``resume``, ``retry``, ``failed``, ``redo`` or
    ``blocked`` (see the module docstring), and why."""

    state: str
    note: str = ""


class RunStatuses:
    """The status of each of ``runs`` (a plan's, or a job's group) in ``store``; supplied teacher files are checked
    once each."""

    def __init__(self, runs: list[RunSpec], store: ResultsStore) -> None:
        self.runs = runs
        self.store = store
        self._supplied: dict[Path, str] = {}

    def statuses(self, runs: list[RunSpec] | None = None) -> dict[str, RunStatus]:
        """What the sweep would do now with each of ``runs`` (default: every run of the plan), from the latest rows
        of runs.csv and the checkpoints on disk; teachers' checkpoints are verified before students count on them."""
        latest = self.store.latest()
        unfinished = {r.run_id for r in self.runs if latest.get(r.run_id, {}).get("status") != "ok"}
        needed = {r.teacher_run for r in self.runs if r.teacher_run and r.run_id in unfinished}
        by_id = {r.run_id: r for r in self.runs}
        known: dict[str, RunStatus] = {}

        def status_of(run: RunSpec) -> RunStatus:
            if run.run_id not in known:
                known[run.run_id] = self._status(run, latest.get(run.run_id), run.run_id in needed, by_id, status_of)
            return known[run.run_id]

        return {r.run_id: status_of(r) for r in (self.runs if runs is None else runs)}

    def finished_run_ids(self) -> set[str]:
        """The runs the sweep would skip: latest row ``ok`` and, for a teacher, a checkpoint that can teach."""
        return {run_id for run_id, status in self.statuses().items() if status.state == "done"}

    def _status(
        self,
        run: RunSpec,
        latest: dict[str, Any] | None,
        needed: bool,
        by_id: dict[str, RunSpec],
        status_of: Callable[[RunSpec], RunStatus],
    ) -> RunStatus:
        if latest is not None and latest["status"] == "ok":
            problem = self._teacher_checkpoint_problem(run) if needed else ""
            return RunStatus("redo", f"{problem}; it is trained again") if problem else RunStatus("done")
        own = self._unfinished_status(run, latest)
        if own.state == "failed":
            return own
        if run.teacher_checkpoint is not None:
            problem = self.supplied_problem(run.teacher_checkpoint)
            if problem:
                return RunStatus("blocked", problem)
        if run.teacher_run in by_id:  # a job's plan may hold its group only: its teacher is then another job's
            teacher = status_of(by_id[run.teacher_run])
            if teacher.state in ("failed", "blocked"):
                return RunStatus("blocked", f"its teacher {run.teacher} cannot teach: {teacher.note}")
        return own

    def _unfinished_status(self, run: RunSpec, latest: dict[str, Any] | None) -> RunStatus:
        path = self.store.paths.checkpoint(run.run_id)
        try:
            state = checkpoint.load(path)
        except CheckpointError as error:
            return RunStatus("failed", str(error))
        if state is not None:
            problem = checkpoint.diverged(state.get("history", []))
            if problem:
                return RunStatus("failed", f"{problem}: it stays failed (delete {path} to train it again)")
            return RunStatus("resume", f"after epoch {state.get('done')}")
        if latest is not None:
            return RunStatus("retry", f"its last attempt failed: {latest['error']}")
        return RunStatus("to do")

    def _teacher_checkpoint_problem(self, run: RunSpec) -> str:
        """Why the finished run's checkpoint cannot teach ("" when it can)."""
        try:
            checkpoint.load_teacher_state(self.store.paths.checkpoint(run.run_id), "", run.run_id)
        except CheckpointError as error:
            return str(error).rstrip(": ")
        return ""

    def supplied_problem(self, supplied: TeacherCheckpoint) -> str:
        """Why a teacher checkpoint named by the suite cannot be used ("" when it can), checked once per file."""
        if supplied.path not in self._supplied:
            if not supplied.path.is_file():
                problem = f"teacher checkpoint {supplied.path} does not exist (suite key teacher_checkpoints)"
            elif file_digest(supplied.path, "sha256") != supplied.sha256:
                problem = (  # the file's own hash is not printed (the suite may name any file)
                    f"teacher checkpoint {supplied.path} does not have the sha256 the suite expects "
                    f"({supplied.sha256}): the file is damaged or another one; download it again (or fix the suite's "
                    f"sha256 from `sha256sum` of a file you trust)"
                )
            else:
                problem = ""
            self._supplied[supplied.path] = problem
        return self._supplied[supplied.path]
