"""The study's numbers that README.md and docs/findings.md state are the ones benchmarks/findings.py computes from
the committed reference (``reference/results/study``): a reference or a document changed alone fails here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def findings():
    spec = importlib.util.spec_from_file_location("findings", REPO / "benchmarks" / "findings.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["findings"] = module
    spec.loader.exec_module(module)
    return module


def difference(findings, arm: str, reference: str, metric: str | None = None):
    values = findings.arm_values(REPO / "reference" / "results", "study", "last", None, metric)
    return next(d for d in findings.differences(values, [reference]) if d.arm == arm)


def test_readme_states_the_references_cskd_minus_kd(findings):
    d = difference(findings, "CSKD", "KD")
    low, high = d.mean - d.half_width(), d.mean + d.half_width()
    stated = f"CSKD − KD = **{d.mean:.2f} points, 95% interval [{low:.2f}, {high:+.2f}]**".replace("-", "−")
    assert d.n == 9 and stated in (REPO / "README.md").read_text()


def test_findings_tables_state_the_references_differences(findings):
    text = (REPO / "docs" / "findings.md").read_text()
    for arm in ("CSKD", "inter only", "CSKD squared"):
        d = difference(findings, arm, "KD")
        cell = f"{d.mean:+.2f} ±{d.half_width():.2f}".replace("-", "−")
        assert f"{cell}; ±{d.half_width(18):.2f}" in text or f"**{cell}**; ±{d.half_width(18):.2f}" in text, arm
    corr = difference(findings, "inter only", "KD", "struct_center_corr")
    assert f"+{corr.mean:.3f}** ±{corr.half_width():.3f}; ±{corr.half_width(15):.3f} **" in text
