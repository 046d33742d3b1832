"""The report's figures, each written as PNG (for the Markdown report) and PDF (for papers).

* ablation: the Table 4 variants (neither, intra only, inter only, both) as bars of the mean over seeds with the
  sample std as error bars, the paper's values as black diamonds;
* curves: test top-1 per epoch of every method of one pair (main phase; mean over seeds, shaded ± std), the
  teacher's accuracy as a dashed line;
* paper-diff: reproduced − paper for a whole table as a heatmap centred at 0; a position the paper prints but
  that has no result is hatched and says why (missing / failed), a position the paper does not print is blank.

Each ``*_figure`` function builds and returns the :class:`~matplotlib.figure.Figure` (so its axes can be inspected);
each ``plot_*`` function builds, writes and returns the written paths. Figures are made without pyplot, so nothing
depends on an interactive backend or global figure state.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cskd import results
from cskd.csvfiles import CsvFileError
from cskd.report.cells import TEACHER
from cskd.report.errors import ReportInputError
from cskd.report.tables import ABLATION_LABELS, METRIC_TITLES, ReportTable, Row

ABLATION_NAMES: dict[str, str] = {"neither": "neither", "intra": "intra only", "inter": "inter only", "both": "both"}
PAPER_MARKER = "paper"
_COLORS = colormaps["tab10"]


def slug(text: str) -> str:
    """A file-name-safe form of a label (``ResNet152 (Tiny)`` -> ``ResNet152-Tiny``)."""
    return re.sub(r"[^A-Za-z0-9_.]+", "-", text).strip("-")


def save_figure(figure: Figure, stem: Path, title: str) -> list[Path]:
    """Write ``<stem>.png`` and ``<stem>.pdf``, titled in their metadata (the reports index reads it)."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, pdf = Path(f"{stem}.png"), Path(f"{stem}.pdf")
    figure.savefig(png, dpi=150, metadata={"Title": title})
    figure.savefig(pdf, metadata={"Title": title, "CreationDate": None})
    return [png, pdf]


def _subtitle(table: ReportTable) -> str:
    return f"{table.epoch_rule} epoch, profile {table.profile or 'none'}"


def ablation_columns(table: ReportTable) -> list[str]:
    """The table's ablation variants in the paper's order (empty when it has fewer than two)."""
    present = [label for label in ABLATION_LABELS if label in table.columns]
    return present if len(present) >= 2 else []


def _pairs(table: ReportTable) -> list[Row]:
    return [row for row in table.rows if row.teacher and row.student]


def ablation_figure(table: ReportTable, metric: str = "top1") -> Figure:
    """Bars: one group per pair, one bar per variant with a result; paper values as one marker line."""
    labels = ablation_columns(table)
    if not labels:
        raise ReportInputError(f"suite {table.suite} has no ablation methods ({', '.join(ABLATION_LABELS)})")
    pairs = _pairs(table)
    figure = Figure(figsize=(max(5.0, 1.1 * len(pairs) * len(labels) + 2.0), 4.5), layout="constrained")
    ax = figure.add_subplot()
    width = 0.8 / len(labels)
    paper_x, paper_y, extent, gaps = [], [], [], []
    for j, label in enumerate(labels):
        xs, means, errors, counts = [], [], [], []
        for i, row in enumerate(pairs):
            cell = table.cell(row, label, metric)
            x = i + (j - (len(labels) - 1) / 2) * width
            if cell.paper is not None:
                paper_x.append(x)
                paper_y.append(cell.paper)
            if cell.stats.mean is None:
                gaps.append((x, cell.stats.status))
                continue
            std = cell.stats.std or 0.0
            xs.append(x)
            means.append(cell.stats.mean)
            errors.append(std)
            counts.append(f"n={cell.stats.n}")
            extent += [cell.stats.mean - std, cell.stats.mean + std]
        if xs:
            bars = ax.bar(xs, means, width * 0.9, yerr=errors, capsize=3, color=_COLORS(j), label=ABLATION_NAMES[label])
            ax.bar_label(bars, labels=counts, padding=2, fontsize=7)
    if paper_x:
        ax.plot(paper_x, paper_y, linestyle="none", marker="D", color="black", label=PAPER_MARKER)
    extent += paper_y
    low, high = (min(extent), max(extent)) if extent else (0.0, 100.0)
    margin = 0.25 * (high - low) + 0.5
    ax.set_ylim(low - margin, high + margin)
    for x, status in gaps:
        ax.text(x, low - margin / 2, status, rotation=90, ha="center", va="bottom", fontsize=8, color="0.4")
    ax.set_xticks(range(len(pairs)), [row.label for row in pairs])
    ax.set_xlabel("teacher / student")
    ax.set_ylabel(f"{METRIC_TITLES[metric]} accuracy (%)")
    ax.set_title(f"{table.suite}: category-structure ablation ({_subtitle(table)})")
    ax.legend(loc="best", fontsize=8)
    return figure


def plot_ablation(table: ReportTable, figures_dir: Path, *, metric: str = "top1") -> list[Path]:
    figure = ablation_figure(table, metric)
    return save_figure(figure, figures_dir / f"{table.stem}-ablation", figure.axes[0].get_title())


def read_epochs(path: Path) -> pd.DataFrame:
    """One run's epoch CSV (see :data:`cskd.results.EPOCH_COLUMNS`)."""
    try:
        epochs = results.read_epochs(path)
    except CsvFileError as error:
        raise ReportInputError(str(error)) from error
    missing = {"epoch", "phase", "test_top1"} - set(epochs.columns)
    if missing:
        raise ReportInputError(f"{path} is not an epoch CSV: columns {sorted(missing)} are missing")
    return epochs


def curves_figure(table: ReportTable, row: Row, epochs_dir: Path) -> Figure | None:
    """Test top-1 per main-phase epoch of each method of ``row``; None when no run of it has an epoch CSV."""
    figure = Figure(figsize=(7.0, 4.5), layout="constrained")
    ax = figure.add_subplot()
    drawn = 0
    for j, column in enumerate(table.method_columns):
        rows = table.results.rows(row.key(column))
        paths = [epochs_dir / f"{run_id}.csv" for run_id in rows.loc[rows["status"] == "ok", "run_id"]]
        frames = [read_epochs(path) for path in paths if path.is_file()]
        if not frames:
            continue
        main = pd.concat([frame[frame["phase"] == "main"] for frame in frames])
        by_epoch = main.groupby("epoch")["test_top1"]
        mean = by_epoch.mean()
        ax.plot(mean.index, mean.to_numpy(), color=_COLORS(j % 10), label=f"{column} (n={len(frames)})")
        if len(frames) > 1:
            std = by_epoch.std(ddof=1).to_numpy()
            ax.fill_between(mean.index, mean - std, mean + std, color=_COLORS(j % 10), alpha=0.2, linewidth=0)
        drawn += 1
    if not drawn:
        return None
    teacher = table.cell(row, TEACHER, "top1").stats
    if teacher.mean is not None:
        label = f"Teacher {row.teacher} ({table.epoch_rule} epoch, n={teacher.n})"
        ax.axhline(teacher.mean, linestyle="--", color="black", linewidth=1, label=label)
        low, high = ax.get_ylim()
        ax.set_ylim(min(low, teacher.mean - 1), max(high, teacher.mean + 1))  # keep the teacher line in view
    ax.set_xlabel("epoch")
    ax.set_ylabel("test top-1 accuracy (%)")
    ax.set_title(f"{table.suite}: {row.label}, test top-1 per epoch (profile {table.profile or 'none'})")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return figure


def plot_curves(table: ReportTable, row: Row, epochs_dir: Path, figures_dir: Path) -> list[Path]:
    """The curves of one pair; nothing is written when none of its runs has an epoch CSV."""
    figure = curves_figure(table, row, epochs_dir)
    if figure is None:
        return []
    stem = figures_dir / f"{table.stem}-curves-{slug(row.teacher)}-{slug(row.student)}"
    return save_figure(figure, stem, figure.axes[0].get_title())


def paper_diff_matrix(table: ReportTable, metric: str = "top1") -> np.ndarray:
    """Reproduced − paper for every (row, column); NaN where either is absent."""
    diffs = [[table.cell(row, column, metric).diff for column in table.columns] for row in table.rows]
    matrix = [[np.nan if d is None else d for d in line] for line in diffs]
    return np.array(matrix, dtype=float).reshape(len(table.rows), len(table.columns))


def paper_diff_figure(table: ReportTable, metric: str = "top1") -> Figure:
    """Heatmap of reproduced − paper, diverging colours centred at 0, every difference written in its cell."""
    if table.paper is None:
        raise ReportInputError(f"suite {table.suite} has no paper table to compare with")
    diff = paper_diff_matrix(table, metric)
    figure = Figure(figsize=(1.1 * len(table.columns) + 3.0, 0.55 * len(table.rows) + 2.2), layout="constrained")
    ax = figure.add_subplot()
    finite = np.abs(diff[np.isfinite(diff)])
    limit = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    image = ax.imshow(np.ma.masked_invalid(diff), cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    for i, row in enumerate(table.rows):
        for j, column in enumerate(table.columns):
            cell = table.cell(row, column, metric)
            if cell.diff is not None:
                colour = "white" if abs(cell.diff) > 0.6 * limit else "black"
                ax.text(j, i, f"{cell.diff:+.2f}", ha="center", va="center", fontsize=8, color=colour)
            elif cell.paper is not None:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//", edgecolor="0.6", linewidth=0))
                ax.text(j, i, cell.stats.status, ha="center", va="center", fontsize=7, color="0.3")
    figure.colorbar(image, ax=ax, label=f"reproduced − paper\n({METRIC_TITLES[metric]} accuracy, points)")
    ax.set_xticks(range(len(table.columns)), table.columns, rotation=30, ha="right")
    ax.set_yticks(range(len(table.rows)), [row.label for row in table.rows])
    ax.set_xlabel("method")
    ax.set_ylabel("teacher / student")
    ax.set_title(f"{table.suite}: reproduced − {table.paper.title} ({_subtitle(table)})")
    return figure


def plot_paper_diff(table: ReportTable, figures_dir: Path, *, metric: str = "top1") -> list[Path]:
    figure = paper_diff_figure(table, metric)
    return save_figure(figure, figures_dir / f"{table.stem}-paper-diff", figure.axes[0].get_title())
