"""Where results and reports live: one rule for every command (``run``, ``report``, ``check``, ``status``, ...).

Results: ``--results-dir``, else ``$CSKD_RESULTS``, else ``./results`` (relative to the working directory, like the
data directory: ``--data-dir``, else ``$CSKD_DATA``, else ``./data``). Reports: ``--reports-dir``, else ``./reports``.
"""

from __future__ import annotations

import os
from pathlib import Path

RESULTS_ENV = "CSKD_RESULTS"


def results_dir(given: Path | str | None = None) -> Path:
    """The results directory: ``given`` if set, else ``$CSKD_RESULTS``, else ``./results``."""
    chosen = given if given is not None else os.environ.get(RESULTS_ENV) or "results"
    return Path(chosen).expanduser()


def reports_dir(given: Path | str | None = None) -> Path:
    """The reports directory: ``given`` if set, else ``./reports``."""
    return Path(given if given is not None else "reports").expanduser()


#: the environment variable naming a mirror of the official dataset archives (cskd.data.remote)
MIRROR_ENV = "CSKD_DATA_MIRROR"
