"""Hints for misspelt names (no heavy imports: the CLI's argument checks use it)."""

from __future__ import annotations

import difflib


def close_names(name: str, names: list[str], n: int = 5) -> str:
    """A human hint listing the names closest to ``name`` (or all of them when none is close); names are
    case-sensitive, so one differing only in case comes first."""
    same = [candidate for candidate in names if candidate.lower() == name.lower()]
    similar = [c for c in difflib.get_close_matches(name, names, n=n, cutoff=0.4) if c not in same]
    close = (same + similar)[:n]
    shown = close or sorted(names)
    label = "closest" if close else "available"
    return f"{label}: {', '.join(shown)}"
