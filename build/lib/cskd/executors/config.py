"""The SLURM settings of ``--executor slurm``, merged from three places.

Precedence, highest first: the command line (``--partition``, ``--time``, ...), the suite's ``cluster:`` section, the
user's config file (``--cluster-config FILE``, else ``$CSKD_CLUSTER_CONFIG``, else
``${XDG_CONFIG_HOME:-~/.config}/cskd/cluster.yaml``), then the defaults below. ``sbatch`` (extra sbatch options) is
merged option by option, every other key is replaced whole. A job's time limit left unset anywhere is sized from the
plan's cost estimate (:func:`cskd.executors.jobs.time_limit_minutes`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cskd.names import close_names

#: key -> (accepted types, meaning); docs/cluster.md lists the same
KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "partition": (str, "SLURM partition (sbatch --partition)"),
    "time": ((int, str), "time limit per job: minutes, or HH:MM:SS, D-HH:MM:SS, D-HH (default: from the estimate)"),
    "gpus_per_job": (int, "GPUs per job, i.e. per lockstep group (default 1; 0 on CPU-only nodes)"),
    "cpus_per_task": (int, "CPUs per job; also its torch threads (default: the cluster's)"),
    "mem": (str, "memory per job, e.g. 32G (default: the cluster's)"),
    "array_parallelism": (int, "at most this many tasks of one job array run at once (default 256)"),
    "account": (str, "account to charge (sbatch --account)"),
    "qos": (str, "quality of service (sbatch --qos)"),
    "sbatch": (dict, "extra sbatch options, e.g. {constraint: a100, exclude: node7}"),
    "setup": (list, "shell lines run in the job before Python starts, e.g. [module load cuda/12.4]"),
}


class ClusterConfigError(ValueError):
    """A cluster setting that cannot be used; the message names where it came from and the key."""


@dataclass(frozen=True)
class ClusterConfig:
    """Resolved SLURM settings; ``sources`` says where each set key came from."""

    partition: str | None = None
    time_min: int | None = None
    gpus_per_job: int = 1
    cpus_per_task: int | None = None
    mem: str | None = None
    array_parallelism: int = 256
    account: str | None = None
    qos: str | None = None
    sbatch: dict[str, str] = field(default_factory=dict)
    setup: tuple[str, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)


def parse_time(value: int | str, where: str) -> int:
    """Minutes of a SLURM time limit: ``90``, ``"90"``, ``"1:30:00"``, ``"2-00:00:00"`` or ``"2-12"`` (days-hours)."""
    if isinstance(value, int) and not isinstance(value, bool):
        minutes = value
    elif isinstance(value, str) and value.strip().isdigit():
        minutes = int(value)
    elif isinstance(value, str) and (match := re.fullmatch(r"(?:(\d+)-)?(\d+):(\d\d):(\d\d)", value.strip())):
        days, hours, mins, secs = (int(g or 0) for g in match.groups())
        minutes = days * 1440 + hours * 60 + mins + (1 if secs else 0)
    elif isinstance(value, str) and (match := re.fullmatch(r"(\d+)-(\d+)", value.strip())):
        minutes = int(match.group(1)) * 1440 + int(match.group(2)) * 60
    else:
        raise ClusterConfigError(f"{where}time: expected minutes or HH:MM:SS, D-HH:MM:SS or D-HH, got {value!r}")
    if minutes < 1:
        raise ClusterConfigError(f"{where}time: must be at least one minute, got {value!r}")
    return minutes


def check_section(raw: Any, where: str) -> dict[str, Any]:
    """A ``cluster:`` mapping validated key by key (``where`` prefixes every message, e.g. ``suite.yaml: cluster.``)."""
    if not isinstance(raw, dict):
        raise ClusterConfigError(f"{where.rstrip('.')}: expected a mapping of cluster settings, got {raw!r}")
    for key, value in raw.items():
        if key not in KEYS:
            raise ClusterConfigError(f"{where}{key}: unknown cluster setting ({close_names(str(key), sorted(KEYS))})")
        kinds = KEYS[key][0]
        if not isinstance(value, kinds) or isinstance(value, bool):
            expected = kinds.__name__ if isinstance(kinds, type) else " or ".join(k.__name__ for k in kinds)
            raise ClusterConfigError(f"{where}{key}: expected {expected}, got {type(value).__name__} ({value!r})")
        if key == "time":
            parse_time(value, where)
        elif key in ("gpus_per_job",) and value < 0:
            raise ClusterConfigError(f"{where}{key}: must be 0 or more, got {value}")
        elif key in ("cpus_per_task", "array_parallelism") and value < 1:
            raise ClusterConfigError(f"{where}{key}: must be at least 1, got {value}")
        elif key == "mem" and not re.fullmatch(r"\d+[KMGT]?B?", value.strip(), flags=re.IGNORECASE):
            raise ClusterConfigError(f"{where}{key}: expected a size such as 32G or 64000M, got {value!r}")
        elif key == "sbatch":
            for option, setting in value.items():
                if not isinstance(setting, str | int | float) or isinstance(setting, bool):
                    raise ClusterConfigError(f"{where}sbatch.{option}: expected a text or number, got {setting!r}")
        elif key == "setup" and not all(isinstance(line, str) for line in value):
            raise ClusterConfigError(f"{where}setup: expected a list of shell lines, got {value!r}")
    return dict(raw)


def user_config_path(explicit: Path | None = None) -> Path:
    """``explicit``, else ``$CSKD_CLUSTER_CONFIG``, else ``${XDG_CONFIG_HOME:-~/.config}/cskd/cluster.yaml``."""
    if explicit is not None:
        return explicit
    if os.environ.get("CSKD_CLUSTER_CONFIG"):
        return Path(os.environ["CSKD_CLUSTER_CONFIG"])
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "cskd" / "cluster.yaml"


def read_user_config(path: Path, required: bool) -> dict[str, Any]:
    """The settings of the user's config file; ``{}`` when it does not exist and was not named explicitly."""
    if not path.exists():
        if required:
            raise ClusterConfigError(f"--cluster-config {path}: no such file")
        return {}
    import yaml  # here, not at the top: the CLI's --help must not import it

    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ClusterConfigError(f"{path}: not valid YAML: {error}") from None
    return check_section(raw or {}, f"{path}: ")


def resolve(layers: list[tuple[str, dict[str, Any]]]) -> ClusterConfig:
    """Merge ``(source, settings)`` layers given lowest precedence first."""
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    sbatch: dict[str, str] = {}
    for source, settings in layers:
        for key, value in settings.items():
            if value is None:
                continue
            if key == "sbatch":
                sbatch.update({str(k): str(v) for k, v in value.items()})
            else:
                merged[key] = value
            sources[key] = source
    return ClusterConfig(
        partition=merged.get("partition"),
        time_min=parse_time(merged["time"], f"{sources['time']}: ") if "time" in merged else None,
        gpus_per_job=merged.get("gpus_per_job", 1),
        cpus_per_task=merged.get("cpus_per_task"),
        mem=merged.get("mem"),
        array_parallelism=merged.get("array_parallelism", 256),
        account=merged.get("account"),
        qos=merged.get("qos"),
        sbatch=sbatch,
        setup=tuple(merged.get("setup", ())),
        sources=sources,
    )
