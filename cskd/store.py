"""The results store of one suite: where its files live (:class:`~cskd.locations.SuitePaths`), the latest row of each
run, the row a run's outcome writes to ``runs.csv``, and finished runs taken over from another suite's results.

A run's latest row is its state (rows are only ever appended, whole lines under a lock: :mod:`cskd.results`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cskd
from cskd.engine import checkpoint
from cskd.engine.best_weights import best_path
from cskd.engine.checkpoint import CheckpointError
from cskd.locations import SuitePaths
from cskd.plan import RunSpec
from cskd.results import append_run_row, latest_rows, read_runs
from cskd.zoo import teacher_identity

if TYPE_CHECKING:  # torch is imported when a row is recorded: status and dry runs read rows without it
    import torch

    from cskd.data import ImageDataset
    from cskd.engine.trainer import RunOutcome

REPO = Path(__file__).resolve().parents[1]


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
    except OSError:
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def _timm_version() -> str:
    """timm's version, read from the installed package's metadata: importing timm takes seconds, and status and
    dry runs create a store without recording anything."""
    from importlib.metadata import version

    return version("timm")


def device_name(device: torch.device) -> str:
    import torch

    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


class ResultsStore:
    """The results of suite ``suite`` under ``results_dir`` (``RESULTS/<suite>/``)."""

    def __init__(self, results_dir: Path, suite: str) -> None:
        self.results_dir = results_dir
        self.paths = SuitePaths.of(results_dir, suite)

    @cached_property
    def commit(self) -> str:
        """The git commit of this checkout, recorded with every row ("" outside a git checkout)."""
        return git_commit()

    def latest(self) -> dict[str, dict[str, Any]]:
        """The latest row of every run of the suite, by run id."""
        return latest_rows(read_runs(self.paths.runs_csv))

    def latest_of(self, run_ids: list[str]) -> list[dict[str, Any]]:
        """The latest row of each run in ``run_ids`` that has one, in that order."""
        latest = self.latest()
        return [latest[run_id] for run_id in run_ids if run_id in latest]

    def record(
        self,
        run: RunSpec,
        outcome: RunOutcome,
        data: ImageDataset | None,
        teacher_top1: float | None,
        device: torch.device,
        settings: dict[str, Any] | None = None,
    ) -> None:
        """Append the row of ``run`` (:data:`cskd.results.RUN_COLUMNS`) from its outcome, the data it trained on,
        its teacher's top-1, the device and the recorded ``settings`` (:func:`cskd.settings.row_settings`: recipe,
        engine options, scale, the data source without machine paths)."""
        import torch

        row: dict[str, Any] = {
            "suite": run.suite,
            "run_id": run.run_id,
            "kind": run.kind,
            "dataset": run.dataset,
            "dataset_source": data.source if data else "",
            "data_sha256": data.sha256 if data else "",
            "teacher": run.teacher,
            "student": run.student,
            "teacher_model": json.dumps(teacher_identity(run), sort_keys=True) if run.teacher_model else "",
            "student_model": json.dumps(run.student_model.to_dict(), sort_keys=True),
            "method": run.method.label,
            "method_name": run.method.name,
            "method_args": json.dumps(run.method.args, sort_keys=True),
            "profile": run.profile,
            "seed": run.seed,
            "epochs": run.recipe.epochs,
            "init_epochs": outcome.init_epochs,
            "train_size": len(data.train_labels) if data else None,
            "test_size": len(data.test_labels) if data else None,
            "best_top1": outcome.best_top1,
            "best_top5": outcome.best_top5,
            "best_epoch": outcome.best_epoch,
            "last_top1": outcome.last_top1,
            "last_top5": outcome.last_top5,
            "teacher_top1": teacher_top1,
            "student_params": outcome.student_params,
            "wall_seconds": round(outcome.wall_seconds, 3),
            "images_per_second": round(outcome.images_per_second, 2) if outcome.images_per_second else None,
            "lockstep": outcome.lockstep,
            "device": device_name(device),
            "torch_version": torch.__version__,
            "timm_version": _timm_version(),
            "cskd_version": cskd.__version__,
            "git_commit": self.commit,
            "status": outcome.status,
            "error": outcome.error,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        row |= outcome.structure  # the struct_* columns (docs/structure.md; empty for a failed run)
        row |= settings or {}
        if "compile" in row:  # what trained it: an asked-for compile that failed trained eagerly (cskd.engine.speed)
            row["compile"] = int(outcome.compiled)
        append_run_row(self.paths.runs_csv, row)

    def set_aside(self, run: RunSpec, why: str) -> None:
        """Move a finished teacher's unusable checkpoint out of the way (kept as ``.damaged``) to train it again."""
        path = self.paths.checkpoint(run.run_id)
        if path.exists():
            path.replace(path.with_name(path.name + ".damaged"))
        print(f"  {run.describe()}: {why}")

    def reuse(self, run: RunSpec) -> bool:
        """Take a run finished with the same configuration (same run id) in another suite, instead of retraining it.

        Table 4's teacher is Table 3's, for example. Only a run whose latest row there is ``ok`` and whose checkpoint
        is intact, its own and finite is taken; the checkpoint and epoch CSV are copied (atomically) and the row is
        recorded again under this suite.
        """
        for other in SuitePaths.every(self.results_dir):
            if other.root == self.paths.root or not other.checkpoint(run.run_id).exists():
                continue
            latest = latest_rows(read_runs(other.runs_csv)).get(run.run_id)
            if latest is None or latest["status"] != "ok":
                continue
            try:
                checkpoint.load_teacher_state(other.checkpoint(run.run_id), "", run.run_id)
            except CheckpointError as error:
                print(f"  not reusing {run.describe()} from suite {other.root.name}: {error}")
                continue
            copy_atomic(other.checkpoint(run.run_id), self.paths.checkpoint(run.run_id))
            best = best_path(other.checkpoint(run.run_id))  # its best-epoch weights with it
            if best.exists():
                copy_atomic(best, best_path(self.paths.checkpoint(run.run_id)))
            if other.epochs_csv(run.run_id).exists():
                copy_atomic(other.epochs_csv(run.run_id), self.paths.epochs_csv(run.run_id))
            row = {k: (None if v != v else v) for k, v in latest.items()}  # NaN -> empty
            row |= {
                "suite": run.suite,
                "profile": run.profile,
                "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            append_run_row(self.paths.runs_csv, row)
            print(f"  reused {run.describe()} ({run.run_id}) from suite {other.root.name}")
            return True
        return False


def copy_atomic(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` through a temporary file, so ``target`` is never a partial copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(target.name + ".copy.tmp")
    shutil.copyfile(source, temp)
    temp.replace(target)
