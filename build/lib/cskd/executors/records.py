"""Job records: what ``--executor local|slurm`` submitted, where it runs and how it ended.

One JSON file per job in ``RESULTS/<suite>/jobs/``, written when the job is queued and updated by the job itself when
it starts and ends, so ``cskd status`` knows every job without the scheduler's accounting (``sacct`` needs slurmdbd;
without it submitit reports every state as UNKNOWN). Whether a job is still alive comes from ``squeue`` (SLURM) or
the process table (local jobs, identified by pid and process start time so a reused pid is not mistaken for them).
The rows of ``runs.csv`` stay the only record of results.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock

#: squeue states of a job that waits (everything else it lists is running or finishing)
QUEUED_STATES = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "SUSPENDED", "RESIZING"}
#: a log line that tells why a job ended: an exception, slurmstepd's cancellation/time-out notes, an OOM kill
ERROR_LINE = re.compile(r"(Error|Exception|error:|CANCELLED|TIME LIMIT|PREEMPTION|Killed|oom)", re.IGNORECASE)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def jobs_dir(suite_root: Path) -> Path:
    return suite_root / "jobs"


def process_start(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (``/proc/PID/stat``), None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def this_process() -> dict[str, Any]:
    """Host, pid and start time of the calling process: enough to tell later whether it is still alive."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "start": process_start(os.getpid())}


def alive(process: dict[str, Any] | None) -> bool:
    """Whether the process described by :func:`this_process` (or a dict like it) runs on this host now."""
    if not process or process.get("host") != socket.gethostname():
        return False
    start = process_start(int(process["pid"]))
    return start is not None and start == process.get("start")


def create(directory: Path, **fields: Any) -> Path:
    """A new record file holding ``fields`` (plus ``name`` and ``queued_at``); its path."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = directory / f"{stamp}-{uuid.uuid4().hex[:8]}.json"
    _write(path, {"name": path.stem, "queued_at": now(), **fields})
    return path


def read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def update(path: Path, **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into the record at ``path`` (read-modify-write under a lock); the updated record."""
    with FileLock(str(path) + ".lock"):
        record = json.loads(path.read_text()) | fields
        _write(path, record)
    return record


def _write(path: Path, record: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(record, indent=1, sort_keys=True))
    os.replace(temporary, path)


def read_all(directory: Path) -> list[dict[str, Any]]:
    """Every record of a suite, oldest first, each with its ``path``."""
    records = []
    for path in sorted(directory.glob("*.json")):
        try:
            records.append(json.loads(path.read_text()) | {"path": str(path)})
        except (OSError, ValueError):
            continue  # written atomically, so only a file that is not ours can be unreadable
    return sorted(records, key=lambda r: r.get("queued_at", ""))


@dataclass(frozen=True)
class SlurmJob:
    """A job as ``squeue`` lists it."""

    state: str
    node: str
    reason: str


def squeue() -> dict[str, SlurmJob] | None:
    """Every job ``squeue`` lists (array tasks one by one), by job id; None when squeue is missing or fails."""
    if shutil.which("squeue") is None:
        return None
    try:
        out = subprocess.run(
            ["squeue", "-h", "-r", "-o", "%i|%T|%N|%r"], capture_output=True, text=True, timeout=60, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    jobs = {}
    for line in out.stdout.splitlines():
        job_id, state, node, reason = [*line.split("|"), "", "", ""][:4]
        jobs[job_id.strip()] = SlurmJob(state.strip(), node.strip(), reason.strip())
    return jobs


@dataclass(frozen=True)
class Liveness:
    """Where a recorded job stands now: ``queued``, ``running``, ``gone`` (no longer queued or running) or
    ``unknown`` (squeue is not available here); ``where`` names the node and devices, ``reason`` why it waits."""

    state: str
    where: str = ""
    reason: str = ""


def liveness(record: dict[str, Any], slurm_jobs: dict[str, SlurmJob] | None) -> Liveness:
    if record.get("ended_at"):
        return Liveness("gone")
    if record.get("executor") == "slurm":
        if not record.get("job_id"):
            return Liveness("gone")  # the submission itself failed
        if slurm_jobs is None:
            return Liveness("unknown", reason="squeue is not available here")
        job = slurm_jobs.get(str(record["job_id"]))
        if job is None:
            return Liveness("gone")
        if job.state in QUEUED_STATES:
            return Liveness("queued", reason=job.reason)
        return Liveness("running", where=job.node or record.get("host", ""))
    if record.get("job_id") and alive(record.get("controller")):
        devices = record.get("cuda_visible_devices")
        shown = f", CUDA_VISIBLE_DEVICES={devices}" if devices else ""
        return Liveness("running", where=record.get("host", "") + shown)
    if not record.get("job_id") and alive(record.get("dispatcher")):
        return Liveness("queued", reason=f"waits in the local dispatcher (pid {record['dispatcher']['pid']})")
    return Liveness("gone")


def last_error_line(path: str | Path | None) -> str:
    """The last line of a log that tells why the job ended (else its last non-empty line); "" without a log."""
    if not path or not Path(path).exists():
        return ""
    lines = [line.strip() for line in Path(path).read_text(errors="replace").splitlines() if line.strip()]
    return next((line for line in reversed(lines) if ERROR_LINE.search(line)), lines[-1] if lines else "")
