"""The report's figures, each written as PNG (for the Markdown report) and PDF (for papers).

* ablation (a suite with at least two CSKD variants, :mod:`cskd.report.roles`): CE, KD and the CSKD variants
  (neither / intra only / inter only / both terms) side by side. Left, the accuracy as bars that start at 0 (no axis
  cut: sub-point gaps look as small as they are), the paper's values as diamonds; right, each variant's difference to
  the reference column (the baseline, else the KD-like column) paired by seed: bars of the mean difference from 0,
  the 95% Student-t interval as error bars, one dot per seed;
* curves: test top-1 per epoch of every method of one pair (main phase; mean over seeds, shaded ± std), the
  teacher's accuracy as a dashed line, the paper's values (teacher: dotted line; methods: diamonds past the last
  epoch), the legend below the axes so it hides no line;
* paper-diff: reproduced − paper for a whole table as a heatmap centred at 0 (only for tables of several rows; one
  row is read better in the table); a position the paper prints but that has no result is hatched and says why
  (missing / failed), a position the paper does not print is blank.

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
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from cskd import results
from cskd.csvfiles import CsvFileError
from cskd.report.cells import TEACHER
from cskd.report.errors import ReportInputError
from cskd.report.roles import ABLATION_ROLES, ROLE_ORDER, ROLE_TITLES
from cskd.report.seeds import paired_difference
from cskd.report.tables import METRIC_TITLES, ReportTable, Row

_COLORS = colormaps["tab10"]
#: one colour per role, so CE, KD and each CSKD variant keep their colour across figures
ROLE_COLORS: dict[str, tuple[float, ...]] = {role: _COLORS(i) for i, role in enumerate(ROLE_ORDER)}
#: colours of the methods without a role: tab10's four left, then tab20b's, never a role's colour
OTHER_COLORS: list[tuple[float, ...]] = [_COLORS(i) for i in range(len(ROLE_ORDER), 10)] + [
    colormaps["tab20b"](i) for i in range(0, 20, 2)
]


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
    """The columns the ablation figure shows (CE, KD, then the CSKD variants, in :data:`ROLE_ORDER`), or none when
    the table holds fewer than two CSKD variants."""
    variants = {role for column, role in table.roles.items() if role in ABLATION_ROLES and column in table.columns}
    if len(variants) < 2:
        return []
    shown = [c for c in table.method_columns if c in table.roles]
    return sorted(shown, key=lambda c: ROLE_ORDER.index(table.roles[c]))


def _tick(table: ReportTable, column: str) -> str:
    """A column's label, with its role under it when the label does not already say it."""
    role = ROLE_TITLES[table.roles[column]]
    return column if column == role else f"{column}\n({role})"


def _reference(table: ReportTable, columns: list[str]) -> str | None:
    """The column the right panel measures from: the baseline, else the first KD-like column (KD, neither term)."""
    if table.baseline in columns:
        return table.baseline
    return next((c for c in columns if table.roles[c] in ("kd", "neither")), None)


def _pairs(table: ReportTable) -> list[Row]:
    return [row for row in table.rows if row.teacher and row.student]


def _bar_colors(table: ReportTable, columns: list[str], pairs: list[Row]) -> list[list[tuple[float, ...]]]:
    """[pair][column] colours: by role for one pair, by pair for several (then a legend names the pairs)."""
    if len(pairs) == 1:
        colors = method_colors(table)
        return [[colors[c] for c in columns]]
    return [[_COLORS(i % 10)] * len(columns) for i in range(len(pairs))]


def _seed_counts(table: ReportTable, columns: list[str], pairs: list[Row], metric: str) -> str:
    """ "over 3 seeds" when every shown cell has the same number of seeds, else "n per bar"."""
    counts = {table.cell(row, c, metric).stats.n for row in pairs for c in columns} - {0}
    if len(counts) == 1:
        n = counts.pop()
        return f"over {n} seed{'s' if n > 1 else ''}"
    return "over seeds (n differs: see the table)"


def _accuracy_panel(ax: Axes, table: ReportTable, columns: list[str], pairs: list[Row], metric: str) -> None:
    width = 0.8 / len(pairs)
    colors = _bar_colors(table, columns, pairs)
    paper_x, paper_y, top = [], [], 0.0
    for i, row in enumerate(pairs):
        for j, column in enumerate(columns):
            cell = table.cell(row, column, metric)
            x = j + (i - (len(pairs) - 1) / 2) * width
            if cell.paper is not None:
                paper_x.append(x)
                paper_y.append(cell.paper)
            if cell.stats.mean is None:
                ax.text(x, 1, cell.stats.status, rotation=90, ha="center", va="bottom", fontsize=8, color="0.4")
                continue
            std = cell.stats.std or 0.0
            label = row.label if len(pairs) > 1 and j == 0 else None
            bar = ax.bar(x, cell.stats.mean, width * 0.9, yerr=std, capsize=3, color=colors[i][j], label=label)
            ax.bar_label(bar, labels=[f"{cell.stats.mean:.2f}"], padding=2, fontsize=7)
            top = max(top, cell.stats.mean + std)
    if paper_x:
        noun = table.paper.noun if table.paper else "paper"
        ax.plot(paper_x, paper_y, linestyle="none", marker="D", color="black", label=f"{noun} value")
        top = max(top, *paper_y)
    for k, row in enumerate(pairs):
        teacher = table.cell(row, TEACHER, metric).stats.mean
        if teacher is not None:
            style = ("--", ":", "-.")[k % 3]
            ax.axhline(
                teacher, color="black", linestyle=style, linewidth=1, label=f"Teacher {row.teacher}: {teacher:.2f}"
            )
            top = max(top, teacher)
    ax.set_ylim(0, min(100.0, top * 1.12) if top else 100.0)
    ax.set_xticks(range(len(columns)), [_tick(table, c) for c in columns], fontsize=8)
    ax.set_ylabel(f"{METRIC_TITLES[metric]} accuracy (%)")
    ax.set_title(f"accuracy, mean ± std {_seed_counts(table, columns, pairs, metric)} (axis from 0)", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", fontsize=7, framealpha=0.9)


def _gain_panel(
    ax: Axes, table: ReportTable, columns: list[str], pairs: list[Row], reference: str, metric: str
) -> None:
    others = [c for c in columns if c != reference]
    width = 0.8 / len(pairs)
    colors = _bar_colors(table, others, pairs)
    for i, row in enumerate(pairs):
        for j, column in enumerate(others):
            difference = paired_difference(table.results, row, column, reference, metric)
            x = j + (i - (len(pairs) - 1) / 2) * width
            if difference.mean is None:
                ax.text(x, 0, "no paired seed", rotation=90, ha="center", va="bottom", fontsize=8, color="0.4")
                continue
            error = difference.half_width
            ax.bar(x, difference.mean, width * 0.9, color=colors[i][j], alpha=0.85)
            if error is not None:
                ax.errorbar(x, difference.mean, yerr=error, color="black", capsize=3, linewidth=1)
            ax.scatter([x] * difference.n, difference.differences, s=9, color="black", zorder=3)
            ends = [difference.mean + (error or 0.0), difference.mean - (error or 0.0), *difference.differences]
            above = difference.mean >= 0
            ax.annotate(
                f"{difference.mean:+.2f}", (x, max(ends) if above else min(ends)), xytext=(0, 4 if above else -4),
                textcoords="offset points", fontsize=7, ha="center", va="bottom" if above else "top",
            )  # fmt: skip
    ax.axhline(0, color="black", linewidth=0.8)
    ax.margins(y=0.12)
    ax.set_xticks(range(len(others)), [_tick(table, c) for c in others], fontsize=8)
    ax.set_ylabel(f"{METRIC_TITLES[metric]} − {reference} (points)")
    ax.set_title(f"difference to {reference}, paired by seed: mean, 95% t interval, seeds (dots)", fontsize=9)
    ax.grid(axis="y", alpha=0.3)


def ablation_figure(table: ReportTable, metric: str = "top1") -> Figure:
    """CE, KD and the CSKD variants: accuracy from 0 (left), paired difference to the reference column (right)."""
    columns = ablation_columns(table)
    if not columns:
        raise ReportInputError(
            f"suite {table.suite} has no ablation: it needs at least two variants of method cskd (intra/inter on/off)"
        )
    pairs = _pairs(table)
    reference = _reference(table, columns)
    panels = 2 if reference is not None else 1
    figure = Figure(figsize=(max(5.5, 1.0 * len(columns) * len(pairs) + 1.5) * panels, 4.8), layout="constrained")
    axes = figure.subplots(1, panels, squeeze=False)[0]
    _accuracy_panel(axes[0], table, columns, pairs, metric)
    if reference is not None:
        _gain_panel(axes[1], table, columns, pairs, reference, metric)
    pair_text = pairs[0].label if len(pairs) == 1 else f"{len(pairs)} pairs"
    figure.suptitle(f"{table.suite}: CSKD ablation, {pair_text} ({_subtitle(table)})")
    return figure


def plot_ablation(table: ReportTable, figures_dir: Path, *, metric: str = "top1") -> list[Path]:
    figure = ablation_figure(table, metric)
    return save_figure(figure, figures_dir / f"{table.stem}-ablation", figure.get_suptitle())


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


def method_colors(table: ReportTable) -> dict[str, tuple[float, ...]]:
    """A distinct colour per method column: its role's for the first column of each role, else the next of
    :data:`OTHER_COLORS` (so two columns of one role, e.g. two KD forms, never share a colour)."""
    others = iter(OTHER_COLORS * (1 + len(table.method_columns) // len(OTHER_COLORS)))
    colors: dict[str, tuple[float, ...]] = {}
    for column in table.method_columns:
        role = table.roles.get(column)
        taken = role is not None and ROLE_COLORS[role] in colors.values()
        colors[column] = ROLE_COLORS[role] if role is not None and not taken else next(others)
    return colors


def curves_figure(table: ReportTable, row: Row, epochs_dir: Path) -> Figure | None:
    """Test top-1 per main-phase epoch of each method of ``row``; None when no run of it has an epoch CSV."""
    figure = Figure(figsize=(8.0, 5.5), layout="constrained")
    ax = figure.add_subplot()
    drawn, last_epoch, paper_marks = 0, 0, []
    colors = method_colors(table)
    for column in table.method_columns:
        rows = table.results.rows(row.key(column))
        paths = [epochs_dir / f"{run_id}.csv" for run_id in rows.loc[rows["status"] == "ok", "run_id"]]
        frames = [read_epochs(path) for path in paths if path.is_file()]
        if not frames:
            continue
        color = colors[column]
        main = pd.concat([frame[frame["phase"] == "main"] for frame in frames])
        by_epoch = main.groupby("epoch")["test_top1"]
        mean = by_epoch.mean()
        ax.plot(mean.index, mean.to_numpy(), color=color, label=f"{column} (n={len(frames)})")
        if len(frames) > 1:
            std = by_epoch.std(ddof=1).to_numpy()
            ax.fill_between(mean.index, mean - std, mean + std, color=color, alpha=0.15, linewidth=0)
        last_epoch = max(last_epoch, int(mean.index.max()))
        paper = table.cell(row, column, "top1").paper
        if paper is not None:
            paper_marks.append((paper, color))
        drawn += 1
    if not drawn:
        return None
    noun = table.paper.noun if table.paper else "paper"
    for k, (value, color) in enumerate(paper_marks):
        label = f"{noun} value (diamond, method's colour)" if k == 0 else None
        ax.plot(last_epoch + 0.6, value, marker="D", color=color, markeredgecolor="black", ls="none", label=label)
    teacher = table.cell(row, TEACHER, "top1")
    if teacher.stats.mean is not None:
        supplied = table.results.supplied_teacher(row.teacher)
        how = "supplied checkpoint" if supplied else f"{table.epoch_rule} epoch, n={teacher.stats.n}"
        label = f"Teacher {row.teacher}: {teacher.stats.mean:.2f} ({how})"
        ax.axhline(teacher.stats.mean, linestyle="--", color="black", linewidth=1.2, label=label)
    if teacher.paper is not None:
        label = f"Teacher {row.teacher}, {noun}: {teacher.paper:.2f}"
        ax.axhline(teacher.paper, linestyle=":", color="0.35", linewidth=1.2, label=label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("test top-1 accuracy (%)")
    ax.set_title(f"{table.suite}: {row.label}, test top-1 per epoch (profile {table.profile or 'none'})")
    ax.grid(alpha=0.3)
    entries = len(ax.get_legend_handles_labels()[0])
    figure.legend(loc="outside lower center", ncols=min(3, entries), fontsize=8, frameon=False)
    return figure


def plot_curves(table: ReportTable, row: Row, epochs_dir: Path, figures_dir: Path) -> list[Path]:
    """The curves of one pair; nothing is written when none of its runs has an epoch CSV."""
    figure = curves_figure(table, row, epochs_dir)
    if figure is None:
        return []
    stem = figures_dir / f"{table.stem}-curves-{slug(row.teacher)}-{slug(row.student)}"
    return save_figure(figure, stem, figure.axes[0].get_title())


def paper_diff_rows(table: ReportTable) -> list[Row]:
    """The rows holding at least one reference value."""
    return [row for row in table.rows if any(table.cell(row, c, "top1").paper is not None for c in table.columns)]


def paper_diff_matrix(table: ReportTable, metric: str = "top1") -> np.ndarray:
    """Reproduced − paper for every (row, column); NaN where either is absent."""
    diffs = [[table.cell(row, column, metric).diff for column in table.columns] for row in table.rows]
    matrix = [[np.nan if d is None else d for d in line] for line in diffs]
    return np.array(matrix, dtype=float).reshape(len(table.rows), len(table.columns))


def paper_diff_figure(table: ReportTable, metric: str = "top1") -> Figure:
    """Heatmap of reproduced − paper, diverging colours centred at 0, every difference written in its cell."""
    if table.paper is None:
        raise ReportInputError(f"suite {table.suite} has no paper table to compare with")
    noun = table.paper.noun
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
    figure.colorbar(image, ax=ax, label=f"reproduced − {noun}\n({METRIC_TITLES[metric]} accuracy, points)")
    ax.set_xticks(range(len(table.columns)), table.columns, rotation=30, ha="right")
    ax.set_yticks(range(len(table.rows)), [row.label for row in table.rows])
    ax.set_xlabel("method")
    ax.set_ylabel("teacher / student")
    ax.set_title(f"{table.suite}: reproduced − {noun} ({_subtitle(table)})\n{table.paper.title}", fontsize=10)
    return figure


def plot_paper_diff(table: ReportTable, figures_dir: Path, *, metric: str = "top1") -> list[Path]:
    figure = paper_diff_figure(table, metric)
    title = f"{table.suite}: reproduced − {table.paper.title} ({_subtitle(table)})"
    return save_figure(figure, figures_dir / f"{table.stem}-paper-diff", title)
