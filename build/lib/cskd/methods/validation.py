"""Checks of method options: each failure names the option, the bad value and what is accepted."""

from __future__ import annotations

import math
from collections.abc import Sequence

from cskd.methods.base import close_names


def require_positive(name: str, value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"option {name!r} must be a finite number > 0, got {value!r}")


def require_non_negative(name: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"option {name!r} must be a finite number >= 0, got {value!r}")


def require_fraction(name: str, value: float) -> None:
    if not math.isfinite(value) or not 0 <= value <= 1:
        raise ValueError(f"option {name!r} must lie in [0, 1], got {value!r}")


def require_int_at_least(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"option {name!r} must be an integer >= {minimum}, got {value!r}")


def require_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        hint = close_names(str(value), list(choices))
        raise ValueError(f"option {name!r} must be one of {', '.join(choices)}; got {value!r} ({hint})")


def resolve_stage(name: str, index: int, num_stages: int) -> int:
    """``index`` (negative counts from the deepest stage) as a non-negative stage index, or a clear error."""
    if isinstance(index, bool) or not isinstance(index, int) or not -num_stages <= index < num_stages:
        raise ValueError(
            f"option {name!r}: stage {index!r} does not exist; the model has {num_stages} stages "
            f"(valid: 0..{num_stages - 1}, or -1..-{num_stages} counting from the deepest)"
        )
    return index % num_stages


def stage_list(name: str, stages: int | Sequence[int]) -> tuple[int, ...]:
    """An option given as one stage index or a non-empty list of them, as a tuple."""
    if isinstance(stages, int) and not isinstance(stages, bool):
        return (stages,)
    if isinstance(stages, str) or not isinstance(stages, Sequence) or not stages:
        raise ValueError(f"option {name!r} must be a stage index or a non-empty list of stage indices, got {stages!r}")
    return tuple(stages)
