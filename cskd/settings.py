"""Every setting of a run, recorded: the resolved recipe, the engine options, the scale, and a data source without
the machine's paths.

* :func:`setting_columns` gives a row of ``runs.csv`` its recipe columns (``lr``, ``batch_size``, ``weight_decay``,
  ``momentum``, ``milestones``, ``lr_factor``; ``epochs`` was already a column), its engine columns (``precision``,
  ``deterministic``, ``compile``, ``channels_last``; ``device`` was already one) and its ``scale``.
* :func:`numerics_config` is what of the engine options enters the run id: only what changes the numbers (bf16
  autocast, on CUDA or on a CPU with hardware bf16: :mod:`cskd.engine.speed`), and only when it differs from the
  default (fp32), so every existing run id stays valid (the plan's rule for settings added later, docs/suites.md).
  Thread counts, channels_last, compile and deterministic algorithms change the speed or the bit pattern, not what
  is trained, and are only recorded.
* ``scale`` says whether a row's numbers are of the paper's setting (``paper``) or a CPU-scale version of it
  (``cpu``): the suite's ``scale`` key (default ``paper``), a profile's ``scale`` (default ``cpu``: profiles scale a
  suite down). A row written before the column existed (empty) takes its suite's scale (:func:`row_scale`).
* :func:`portable_source` records where the data came from relative to the data folder (``<data-dir>/cifar10-jpeg``)
  and the home folder as ``~``, so no committed row carries a machine's absolute path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: the values of ``scale`` (suite key, profile key, runs.csv column)
SCALES = ("paper", "cpu")
#: the default scale of a suite, and of a profile that declares none
SUITE_DEFAULT_SCALE, PROFILE_DEFAULT_SCALE = "paper", "cpu"
#: the runs.csv columns added by this module, in order (appended after the original columns)
SETTING_COLUMNS: tuple[str, ...] = (
    "scale",  # "paper" (the paper's setting) or "cpu" (a CPU-scale version); empty in rows written before it existed
    "lr",  # base learning rate of the main phase
    "batch_size",
    "weight_decay",
    "momentum",
    "milestones",  # JSON list of the main-phase epochs after which the lr is multiplied by lr_factor
    "lr_factor",
    "precision",  # "fp32", or "bf16" (autocast, --amp; part of the run id)
    "deterministic",  # 1: deterministic algorithms only (--deterministic)
    "compile",  # 1: trained through torch.compile (the CPU default; 0: eager, asked for or after a failed compile)
    "channels_last",  # 1: channels_last asked for (0: --no-channels-last; the engine keeps NCHW where it would hang)
)
#: the text columns among :data:`SETTING_COLUMNS` (the others are numbers)
SETTING_TEXT_COLUMNS: tuple[str, ...] = ("scale", "milestones", "precision")
#: the string that stands for the data folder in a recorded data source
DATA_DIR_MARK = "<data-dir>"


def precision(amp: bool, device_type: str) -> str:
    """The arithmetic a run trains in: ``bf16`` when bf16 autocast is asked for (on CUDA, or on a CPU with hardware
    bf16, which :func:`cskd.engine.speed.check_amp` requires before anything trains), else ``fp32``."""
    return "bf16" if amp and device_type in ("cuda", "cpu") else "fp32"


def numerics_config(amp: bool, device_type: str) -> dict[str, Any]:
    """The engine settings that enter a run's identity: ``{"precision": "bf16"}`` for bf16 autocast, nothing
    for the default fp32 (so fp32 runs keep the ids they always had)."""
    chosen = precision(amp, device_type)
    return {} if chosen == "fp32" else {"precision": chosen}


def scale_of(suite_scale: str | None, profile_name: str, profile_scale: str | None) -> str:
    """The scale of a plan's runs: the profile's own, else ``cpu`` for a named profile; the suite's (default
    ``paper``) for its full setting."""
    if profile_name != "full":
        return profile_scale or PROFILE_DEFAULT_SCALE
    return suite_scale or SUITE_DEFAULT_SCALE


def setting_columns(recipe: Any, engine: Any, scale: str, deterministic: bool) -> dict[str, Any]:
    """The :data:`SETTING_COLUMNS` of a row: ``recipe`` a :class:`cskd.engine.recipe.Recipe`, ``engine`` the
    :class:`cskd.engine.trainer.EngineOptions` the run trained with, ``deterministic`` whether torch ran with
    deterministic algorithms only."""
    return {
        "scale": scale,
        "lr": recipe.lr,
        "batch_size": recipe.batch_size,
        "weight_decay": recipe.weight_decay,
        "momentum": recipe.momentum,
        "milestones": json.dumps(list(recipe.milestones)),
        "lr_factor": recipe.lr_factor,
        "precision": precision(engine.amp, engine.device.type),
        "deterministic": int(deterministic),
        "compile": int(bool(engine.compile)),
        "channels_last": int(bool(engine.channels_last)),
    }


def row_scale(row_value: Any, suite_scale: str) -> str:
    """The scale of a row: its own ``scale`` when recorded, else its suite's (rows written before the column)."""
    return row_value if isinstance(row_value, str) and row_value in SCALES else suite_scale


def portable_source(source: str, data_dir: Path) -> str:
    """``source`` with the data folder written as ``<data-dir>`` and the home folder as ``~`` (no machine path)."""
    text = source
    for root, mark in ((data_dir.resolve(), DATA_DIR_MARK), (data_dir.absolute(), DATA_DIR_MARK), (Path.home(), "~")):
        text = text.replace(f"{root}/", f"{mark}/").replace(f"{root};", f"{mark};")
        if text.endswith(str(root)):
            text = text[: -len(str(root))] + mark
    return text


def row_settings(plan: Any, run: Any, engine: Any, data_source: str | None, data_dir: Path) -> dict[str, Any]:
    """The recorded settings of ``run``'s row in ``plan`` (a :class:`cskd.plan.Plan`): its recipe, the engine options
    it trained with, its scale, and the data source without the machine's paths (when the data was loaded)."""
    import torch

    profile = plan.profile
    scale = scale_of(plan.suite.scale, profile.name, profile.scale)
    columns = setting_columns(run.recipe, engine, scale, torch.are_deterministic_algorithms_enabled())
    if data_source is not None:
        columns["dataset_source"] = portable_source(data_source, data_dir)
    return columns
