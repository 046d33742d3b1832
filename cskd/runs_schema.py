"""Older ``runs.csv`` layouts: reading them with the columns added since, and upgrading one before an append.

A column added to runs.csv goes at the end of :data:`cskd.results.RUN_COLUMNS`, so every older header is a prefix of
the current one. Reading: an older file's rows get the missing columns empty. Appending to an older file: its header
is first rewritten to the current one and every intact record padded with empty fields (one atomic replace under the
file's lock); a damaged record is kept byte for byte, so it stays the damaged line it was and nothing is lost.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from cskd.csvfiles import lock_for

#: columns added to runs.csv after its first layout (issue 23: category-structure metrics, cskd/structure.py)
STRUCTURE_COLUMNS: tuple[str, ...] = (
    "struct_nc1",  # NC1 = tr(Sigma_W Sigma_B^+) / C of the student's test embeddings (Papyan et al. 2020)
    "struct_distance_ratio",  # mean within-class distance / mean distance between class means
    "struct_ece",  # expected calibration error (%), 15 equal-width bins (Guo et al. 2017)
    "struct_center_corr",  # Pearson correlation of teacher and student center-cosine matrices (off-diagonal)
    "struct_center_mse",  # mean squared difference of those matrices (CSKD Eq. 8-9 over all test classes)
    "struct_cka",  # linear CKA of student and teacher test embeddings (Kornblith et al. 2019)
    "struct_agreement",  # % of test images where student and teacher top-1 agree
    "struct_kl_t4",  # mean KL(teacher || student) of the outputs softened at T = 4 (nats)
)

#: a short title of each column, for tables and plots
STRUCTURE_TITLES: dict[str, str] = {
    "struct_nc1": "NC1",
    "struct_distance_ratio": "within/between distance",
    "struct_ece": "ECE (%)",
    "struct_center_corr": "center-cosine corr. (T)",
    "struct_center_mse": "center-cosine MSE (T)",
    "struct_cka": "linear CKA (T)",
    "struct_agreement": "top-1 agreement (T, %)",
    "struct_kl_t4": "KL at T=4 (T)",
}


def with_added_columns(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``frame`` with every column of ``columns`` it lacks added empty (NaN), in ``columns``' order."""
    missing = [c for c in columns if c not in frame.columns]
    if not missing:
        return frame
    frame = frame.copy()
    for column in missing:
        frame[column] = pd.Series([math.nan] * len(frame), index=frame.index, dtype="float64")
    return frame[[*columns, *[c for c in frame.columns if c not in columns]]]


def upgrade_header(path: Path, columns: Sequence[str]) -> bool:
    """Rewrite ``path`` to the header ``columns`` when its header is a shorter prefix of them (an older layout);
    whether it was rewritten. Another header is left alone (the append names the mismatch as before)."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    with lock_for(path):
        text = path.read_bytes().decode("utf-8", errors="surrogateescape")
        lines = io.StringIO(text, newline="").readlines()
        header = next(csv.reader([lines[0]]))
        if len(header) >= len(columns) or list(columns[: len(header)]) != header:
            return False
        padding = len(columns) - len(header)
        out = [_line(list(columns))]
        index = 1
        while index < len(lines):
            record, consumed = _record_at(lines, index)
            if record is not None and len(record) == len(header):
                out.append(_line(record + [""] * padding))
                index += consumed
            else:  # a damaged record or a blank line: kept as it is
                out.append(lines[index])
                index += 1
        temp = path.with_name(path.name + ".upgrade.tmp")
        with temp.open("wb") as stream:
            stream.write("".join(out).encode("utf-8", errors="surrogateescape"))
            stream.flush()
            os.fsync(stream.fileno())
        temp.replace(path)
    return True


def _record_at(lines: list[str], index: int) -> tuple[list[str] | None, int]:
    """The CSV record starting at ``lines[index]`` and how many physical lines it spans (None when not valid)."""
    consumed = 0

    def feed():
        nonlocal consumed
        for line in lines[index:]:
            consumed += 1
            yield line

    if not lines[index].strip():
        return None, 1
    try:
        return next(csv.reader(feed(), strict=True)), consumed
    except csv.Error:
        return None, 1


def _line(fields: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(fields)
    return buffer.getvalue()
