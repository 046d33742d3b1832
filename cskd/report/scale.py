"""The scale a report's headings name: a profile only where the suite has profiles to choose from.

A suite without profiles runs at one scale, so "profile full" would wrongly suggest the paper's scale for the CPU-scale
suites (quick, ci, cpu_teacher); their headings say "CPU scale" where the suite declares it (``scale: cpu``,
:mod:`cskd.settings`), and name nothing for a paper-scale suite without profiles.
"""

from __future__ import annotations

from cskd.report.cells import FULL_PROFILE


def scale_phrase(profile: str | None, profiles: dict | None, scale: str = "paper") -> str:
    """``"profile P"`` for a profile the suite declares (or when its profiles are not known), ``"CPU scale"`` for the
    full run of a suite without profiles that declares ``scale: cpu``, "" (nothing to name) for another such suite."""
    if profile not in (None, FULL_PROFILE) or profiles is None or profiles:
        return f"profile {profile or 'none'}"
    return "CPU scale" if scale == "cpu" else ""
