"""Bounds on the values a suite or the command line gives, checked before anything trains (docs/suites.md, Limits).

Each bound keeps a value that cannot be meant from reaching a run: a seed beyond what a 64-bit generator and a CSV
column hold, an epoch count or width that would exhaust memory, a batch larger than the training set, a subset with
fewer images than classes, a suite name that would put results outside their folder. Error messages show values
through :func:`short_repr`, so a huge value is never materialised in full.
"""

from __future__ import annotations

import re
from typing import Any

#: seeds are drawn by 64-bit generators and stored in runs.csv as 64-bit integers
MAX_SEED = 2**63 - 1
#: more epochs than any published recipe by far (the paper's longest is 240)
MAX_EPOCHS = 10_000
#: the paper's models are thinned (<= 1); 16 leaves room for wide variants without exhausting memory
MAX_WIDTH_MULTIPLIER = 16.0
#: a suite file is a page of YAML; anything this large is a mistake (or an attack on the parser)
MAX_SUITE_BYTES = 1 << 20
#: a suite name is one path component of the results and reports folders
SUITE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99}")
#: a plain file name: no path separator, not starting with a dot (so neither "." nor "..")
FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99}")


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, without building the full text of a huge integer."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 192:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    if isinstance(value, list | tuple | dict | set) and len(value) > limit:
        return f"a {type(value).__name__} of {len(value)} items"
    try:
        text = repr(value)
    except ValueError:  # a huge integer nested in a container
        return f"a {type(value).__name__} holding a huge value"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def seed_problem(seed: Any) -> str:
    """Why ``seed`` cannot seed a run ("" when it can): an integer in 0..2**63-1."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        return f"a seed must be an integer, got {short_repr(seed)}"
    if not 0 <= seed <= MAX_SEED:
        return f"a seed must be between 0 and 2**63-1 ({MAX_SEED}), got {short_repr(seed)}"
    return ""


def suite_name_problem(name: Any) -> str:
    """Why ``name`` cannot name a suite ("" when it can): it becomes a folder of the results and reports, so it
    must be one plain path component (letters, digits, ``_ . + -``; not starting with a dot; at most 100)."""
    if not isinstance(name, str) or not SUITE_NAME.fullmatch(name):
        return (
            f"must be 1 to 100 letters, digits or _ . + - (not starting with . or -), a single folder name inside "
            f"the results folder, got {short_repr(name)}"
        )
    return ""


def width_problem(factor: Any) -> str:
    """Why ``factor`` cannot be a ``width_multiplier`` ("" when it can)."""
    if isinstance(factor, bool) or not isinstance(factor, int | float) or not 0 < factor <= MAX_WIDTH_MULTIPLIER:
        return f"must be a number > 0 and <= {MAX_WIDTH_MULTIPLIER:g}, got {short_repr(factor)}"
    return ""


def training_set_problem(images: int, classes: int, batch_size: int) -> str:
    """Why ``images`` training images of ``classes`` classes cannot be trained on in batches of ``batch_size``
    ("" when they can)."""
    if images < classes:
        return f"{images} training images cannot hold one of each of the {classes} classes: use at least {classes}"
    if batch_size > images:
        return f"a batch of {batch_size} is more than the {images} training images: use at most {images}"
    return ""


def run_id_problem(text: str) -> str:
    """Why a runs.csv ``run_id`` cannot name the run's files ("" when it can): it must be one plain file name (no
    path separator, not starting with a dot), as every id cskd writes is (16 hex digits)."""
    if FILE_NAME.fullmatch(text):
        return ""
    return f"{short_repr(text)} is not a run id (cskd writes 16 hex digits; this one would name a path elsewhere)"


def seed_text_problem(text: str) -> str:
    """Why a runs.csv ``seed`` cannot be a run's ("" when it can, or is empty)."""
    if not text or (re.fullmatch(r"\d{1,19}", text) and int(text) <= MAX_SEED):
        return ""
    return f"{short_repr(text)} is not a seed between 0 and 2**63-1"
