"""The scale a report's headings name: a profile only where the suite has profiles to choose from.

A suite without profiles runs at one scale, so "profile full" would wrongly suggest the paper's scale for the CPU-scale
suites (quick, ci, cpu_teacher); their headings name no profile, or "CPU scale" where the suite's description says so.
"""

from __future__ import annotations

import re

from cskd.report.cells import FULL_PROFILE

#: a description that states the CPU scale ("CPU scale: ...", "CPU-scale teacher: ...")
_CPU_SCALE = re.compile(r"\bCPU[- ]scale\b", re.IGNORECASE)


def scale_phrase(profile: str | None, profiles: dict | None, description: str = "") -> str:
    """``"profile P"`` for a profile the suite declares (or when its profiles are not known), ``"CPU scale"`` for the
    full run of a suite without profiles whose description says so, "" (nothing to name) for another such suite."""
    if profile not in (None, FULL_PROFILE) or profiles is None or profiles:
        return f"profile {profile or 'none'}"
    return "CPU scale" if _CPU_SCALE.search(description) else ""
