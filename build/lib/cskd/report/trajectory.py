"""Loss trajectories against a reference: the first epochs' mean loss terms of every run, matched by run id.

A run's id is the hash of its resolved configuration, so a rerun of the same suite on the same data has the same ids
as its reference. The first epochs' mean training loss terms (``train_loss`` and every ``loss_<term>`` column of
``epochs/<run_id>.csv``) depend on the definition of each loss far more than on floating-point noise: in the CI
suite's first epoch (about 15 SGD steps), runs that differ only in the order of floating-point reductions (one torch
thread instead of two) stayed within 3.4% of each other, relatively (docs/testing.md), while a change to a loss term
(a weight, a temperature, a sign) moves that term's mean by far more. Comparing them catches a change to a method
that the accuracy cells, whose tolerance must absorb rerun noise, would let through.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

#: relative differences below this count as floating-point noise (measured: at most 3.4%, docs/testing.md)
DEFAULT_RELATIVE_TOLERANCE = 0.1


@dataclass(frozen=True)
class TermCheck:
    """One loss term of one epoch of one run: the reference's mean and ours (None when the term is missing)."""

    run: str  # a human name of the run: label and seed
    phase: str
    epoch: int
    term: str
    expected: float | None
    got: float | None
    tolerance: float

    @property
    def relative_difference(self) -> float | None:
        if self.expected is None or self.got is None:
            return None
        if self.expected == self.got:
            return 0.0
        return abs(self.got - self.expected) / max(abs(self.expected), 1e-12)

    @property
    def outcome(self) -> str:
        if self.expected is None or self.got is None:
            return "missing"
        difference = self.relative_difference
        return "pass" if difference is not None and difference <= self.tolerance else "FAIL"

    @property
    def name(self) -> str:
        return f"{self.run} · {self.phase} epoch {self.epoch} · {self.term}"


def loss_columns(frame: pd.DataFrame) -> list[str]:
    """The loss columns of an epochs CSV: the total and each term."""
    return ["train_loss", *sorted(c for c in frame.columns if c.startswith("loss_"))]


def _value(row: pd.Series | None, column: str) -> float | None:
    if row is None or column not in row.index:
        return None
    value = pd.to_numeric(row[column], errors="coerce")
    return None if pd.isna(value) or not math.isfinite(float(value)) else float(value)


def _first_epochs(frame: pd.DataFrame, epochs: int) -> dict[tuple[str, int], pd.Series]:
    """The rows of the first ``epochs`` epochs of each phase, keyed by (phase, epoch)."""
    kept = frame[pd.to_numeric(frame["epoch"], errors="coerce") <= epochs]
    return {(str(row["phase"]), int(row["epoch"])): row for _, row in kept.iterrows()}


def compare_run(
    name: str, reference_csv: Path, results_csv: Path, *, epochs: int = 1, tolerance: float = DEFAULT_RELATIVE_TOLERANCE
) -> list[TermCheck]:
    """Every loss term of the first ``epochs`` epochs of each phase of one run, against its reference.

    A term of the reference that our run lacks (or whose epoch is missing) is ``missing``; a term only our run has is
    compared against a missing reference value, also ``missing``: a method that gained or lost a term has changed.
    """
    reference = pd.read_csv(reference_csv)
    ours = pd.read_csv(results_csv) if results_csv.is_file() else None
    expected_rows = _first_epochs(reference, epochs)
    got_rows = _first_epochs(ours, epochs) if ours is not None else {}
    columns = loss_columns(reference)
    if ours is not None:
        columns += [c for c in loss_columns(ours) if c not in columns]
    checks = []
    for phase, epoch in sorted(expected_rows, key=lambda key: (key[0] != "init", key[1])):
        expected_row, got_row = expected_rows[(phase, epoch)], got_rows.get((phase, epoch))
        for column in columns:
            expected, got = _value(expected_row, column), _value(got_row, column)
            if expected is None and got is None:
                continue
            checks.append(TermCheck(name, phase, epoch, column, expected, got, tolerance))
    return checks


def run_name(row: dict) -> str:
    """A run as a reader knows it: method label, student, seed (and the run id)."""
    parts = [str(row.get(key, "")) for key in ("method", "student") if str(row.get(key, ""))]
    return f"{' '.join(parts)} seed {row.get('seed', '?')} ({row['run_id']})"


def compare_trajectories(
    reference_runs: pd.DataFrame,
    reference_dir: Path,
    results_dir: Path,
    *,
    epochs: int = 1,
    tolerance: float = DEFAULT_RELATIVE_TOLERANCE,
) -> list[TermCheck]:
    """Every successful run of the reference (``runs.csv`` rows, epoch CSVs in ``reference_dir/epochs``) against the
    run with the same id in ``results_dir/epochs``; a run without epochs in the results is ``missing``."""
    if tolerance < 0:
        raise ValueError(f"the loss tolerance must be >= 0, got {tolerance}")
    if epochs < 1:
        raise ValueError(f"the loss epochs must be >= 1, got {epochs}")
    checks: list[TermCheck] = []
    for row in reference_runs[reference_runs["status"] == "ok"].to_dict("records"):
        reference_csv = reference_dir / "epochs" / f"{row['run_id']}.csv"
        if not reference_csv.is_file():
            raise FileNotFoundError(f"the reference has no epoch CSV for run {row['run_id']}: {reference_csv}")
        results_csv = results_dir / "epochs" / f"{row['run_id']}.csv"
        checks += compare_run(run_name(row), reference_csv, results_csv, epochs=epochs, tolerance=tolerance)
    return checks


def render_trajectories(checks: list[TermCheck]) -> str:
    """The failing and missing terms, then a one-line verdict."""
    bad = [c for c in checks if c.outcome != "pass"]
    lines = [f"loss terms: {len(checks)} compared (first epochs of every run), {len(bad)} outside the tolerance"]
    for c in bad:
        if c.outcome == "missing":
            lines.append(f"  missing  {c.name}: expected {c.expected}, got {c.got}")
        else:
            lines.append(
                f"  FAIL     {c.name}: expected {c.expected:.6g}, got {c.got:.6g} "
                f"(relative difference {c.relative_difference:.2e} > {c.tolerance:g})"
            )
    if not checks:
        lines.append("FAIL: no loss term was compared")
    elif bad:
        lines.append(f"FAIL: {len(bad)} loss term(s) differ from the reference")
    else:
        lines.append(f"PASS: every loss term within a relative {checks[0].tolerance:g} of the reference")
    return "\n".join(lines)


def trajectories_ok(checks: list[TermCheck]) -> bool:
    return bool(checks) and all(c.outcome == "pass" for c in checks)
