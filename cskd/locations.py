"""Where results and reports live: one rule for every command (``run``, ``report``, ``check``, ``status``, ...).

Results: ``--results-dir``, else ``$CSKD_RESULTS``, else ``./results`` (relative to the working directory, like the
data directory: ``--data-dir``, else ``$CSKD_DATA``, else ``./data``). Reports: ``--reports-dir``, else ``./reports``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

RESULTS_ENV = "CSKD_RESULTS"


def results_dir(given: Path | str | None = None) -> Path:
    """The results directory: ``given`` if set, else ``$CSKD_RESULTS``, else ``./results``."""
    chosen = given if given is not None else os.environ.get(RESULTS_ENV) or "results"
    return Path(chosen).expanduser()


def reports_dir(given: Path | str | None = None) -> Path:
    """The reports directory: ``given`` if set, else ``./reports``."""
    return Path(given if given is not None else "reports").expanduser()


RUNS_CSV = "runs.csv"


@dataclass(frozen=True)
class SuitePaths:
    """Where one suite's results live: ``RESULTS/<suite>/`` holds ``runs.csv`` (one row per finished or failed run),
    ``epochs/<run_id>.csv``, ``checkpoints/<run_id>.pt`` (and its ``.lock``), the executors' ``jobs/`` (records,
    and their ``logs/``) and the ``--log`` trackers' ``logs/``. Every module reads these paths from here."""

    root: Path

    @classmethod
    def of(cls, results: Path, suite: str) -> SuitePaths:
        return cls(results / suite)

    @classmethod
    def every(cls, results: Path, suite: str = "*") -> list[SuitePaths]:
        """The suites under ``results`` that have a runs.csv (``suite``: one name, or ``*`` for all), by name."""
        return [cls(runs_csv.parent) for runs_csv in sorted(results.glob(f"{suite}/{RUNS_CSV}"))]

    @property
    def runs_csv(self) -> Path:
        return self.root / RUNS_CSV

    @property
    def epochs_dir(self) -> Path:
        return self.root / "epochs"

    def epochs_csv(self, run_id: str) -> Path:
        return self.epochs_dir / f"{run_id}.csv"

    def checkpoint(self, run_id: str) -> Path:
        return self.root / "checkpoints" / f"{run_id}.pt"

    def lock(self, run_id: str) -> FileLock:
        return FileLock(str(self.checkpoint(run_id)) + ".lock")

    @property
    def jobs_dir(self) -> Path:
        return self.root / "jobs"

    @property
    def logs_dir(self) -> Path:
        return self.jobs_dir / "logs"

    @property
    def tracker_logs_dir(self) -> Path:
        """Where the ``--log`` trackers write (:mod:`cskd.tracking`)."""
        return self.root / "logs"


#: the environment variable naming a mirror of the official dataset archives (cskd.data.remote)
MIRROR_ENV = "CSKD_DATA_MIRROR"


# Where the suites and the paper's numbers are read from, in a checkout and in an installed package alike: the
# CSKD_SUITES environment variable (a folder of suite files; a suite may also be given by its path); else the
# checkout's benchmarks/ (a clone, or pip install -e .); else the copy installed with the package (pip install .
# ships benchmarks/*.yaml, paper_results.csv, published_results.csv and the teacher checkpoints the suites name,
# reference/teachers/*.pt, as package data at cskd/benchmarks/ and cskd/reference/teachers/, so a suite's relative
# ../reference/teachers/... path holds in both layouts).
#: the environment variable naming a folder of suite files
SUITES_ENV = "CSKD_SUITES"
_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent / "benchmarks"
_INSTALLED = _PACKAGE / "benchmarks"


def benchmarks_dir() -> Path:
    """The folder of suite files (see the module docstring for the rule)."""
    chosen = os.environ.get(SUITES_ENV)
    if chosen:
        return Path(chosen).expanduser().absolute()
    return _CHECKOUT if _CHECKOUT.is_dir() else _INSTALLED


def shipped_file(name: str) -> Path:
    """A file shipped beside the suites (``paper_results.csv``, ``published_results.csv``): the checkout's, else the
    installed copy (a ``CSKD_SUITES`` folder need not hold them)."""
    for folder in (_CHECKOUT, _INSTALLED):
        if (folder / name).is_file():
            return folder / name
    return _CHECKOUT / name
