"""The power study's findings: every arm against the references (KD, CE), paired by seed, with simultaneous intervals.

For arms A_1..A_m and a reference B, per seed s where both finished, d_s = x_A(s) - x_B(s), where x is the run's
read-out (``last``: the last epoch's test top-1; ``lastK``: the mean of its last K epochs); mean d, sample sd s_d,
n seeds. Two intervals are printed: the per-comparison 95% t interval d ± t_{0.975, n-1} s_d / sqrt(n), and the
Bonferroni-simultaneous one over all M comparisons of the table, d ± t_{1 - 0.025 / M, n-1} s_d / sqrt(n), which
covers every difference at once with probability at least 95%. A difference is called only when its simultaneous
interval excludes 0. Writes a markdown table and a forest plot.

``--metric COLUMN`` compares a column of runs.csv instead of the top-1 read-out: the category-structure metrics of
the last epoch (``struct_center_mse``, ``struct_nc1``, ...; docs/structure.md), over the seeds that recorded them.
A ``struct_*`` value missing in runs.csv (a run trained before the engine recorded them) is taken from
``RESULTS/SUITE/structure_posthoc.csv`` when that file has the run (recomputed from its last-epoch weights by
benchmarks/structure_posthoc.py); the output says how many values came from each source, and, for the metrics
defined on one network (NC1, distance ratio, ECE), the teacher's own value where
``RESULTS/SUITE/teacher_structure.csv`` has it (``structure_posthoc.py --teachers``). Several metrics after
``--metric`` are one family: each gets its table and forest plot, and the simultaneous intervals are corrected for
every comparison of every table (M = metrics x comparisons per metric); ``--arms`` restricts the arms compared.

    python benchmarks/findings.py RESULTS --suite study --against KD CE [--readout last2] [--out DIR]
    python benchmarks/findings.py RESULTS --suite study --against KD --metric struct_center_mse
    python benchmarks/findings.py RESULTS --suite study --against KD --arms CSKD "intra only" "inter only" \
        --metric struct_center_corr struct_center_mse struct_nc1 struct_distance_ratio
"""

from __future__ import annotations

import argparse
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from scipy import stats

from cskd.results import read_runs


@dataclass(frozen=True)
class Difference:
    arm: str
    reference: str
    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    def half_width(self, comparisons: int = 1) -> float:
        if self.n < 2:
            return math.nan
        quantile = stats.t.ppf(1 - 0.025 / comparisons, self.n - 1)
        return float(quantile * statistics.stdev(self.values) / math.sqrt(self.n))


def readout(epochs_csv: Path, spec: str) -> float:
    """The run's number: ``last`` (last main epoch's test top-1) or ``lastK`` (mean of the last K main epochs)."""
    frame = pd.read_csv(epochs_csv)
    main = frame[frame["phase"] == "main"]["test_top1"]
    k = 1 if spec == "last" else int(spec.removeprefix("last"))
    return float(main.tail(k).mean())


#: the structure metrics of runs that did not record them, recomputed by benchmarks/structure_posthoc.py
POSTHOC_CSV = "structure_posthoc.csv"


def posthoc_values(results: Path, suite: str, metric: str) -> dict[str, float]:
    """run id -> ``metric`` from ``RESULTS/SUITE/structure_posthoc.csv`` (empty without the file or the column)."""
    path = results / suite / POSTHOC_CSV
    if not metric.startswith("struct_") or not path.is_file():
        return {}
    frame = pd.read_csv(path, dtype={"run_id": str})
    if metric not in frame.columns:
        return {}
    frame = frame.dropna(subset=[metric])
    return dict(zip(frame["run_id"], frame[metric].astype(float), strict=True))


def arm_values(
    results: Path,
    suite: str,
    spec: str,
    profile: str | None,
    metric: str | None = None,
    sources: dict[str, int] | None = None,
    precision: str = "fp32",
) -> dict[str, dict[int, float]]:
    """method label -> seed -> read-out (or the row's ``metric`` column where it is recorded, else the run's value in
    ``structure_posthoc.csv``), over the ok student rows (the latest row of each run) of ``profile`` (None: the
    suite's own runs, profile ``full``) trained at ``precision`` (rows
    from before the column: fp32), so that a bf16 run never stands in for its fp32 twin of the same method and seed.
    ``sources``, when given, counts the values taken from each file."""
    sources = {} if sources is None else sources
    posthoc = posthoc_values(results, suite, metric) if metric is not None else {}
    rows = read_runs(results / suite / "runs.csv")
    rows = rows.drop_duplicates("run_id", keep="last")
    rows = rows[(rows["kind"] == "student") & (rows["status"] == "ok")]
    profiles = sorted(set(rows["profile"]))
    rows = rows[rows["profile"] == (profile or "full")]  # one profile: another's runs of a method are another arm
    if rows.empty:
        raise SystemExit(
            f"error: {results / suite / 'runs.csv'} holds no ok student run of profile {profile or 'full'}; "
            f"its profiles: {', '.join(profiles) or 'none'} (--profile NAME)"
        )
    rows = rows[rows["precision"].replace("", "fp32") == precision]
    twins = rows[rows.duplicated(["method", "seed"], keep=False)]
    if not twins.empty:  # e.g. runs of one arm made with --set overrides: which is the arm's is not ours to pick
        first = twins.iloc[0]
        ids = ", ".join(twins[(twins["method"] == first["method"]) & (twins["seed"] == first["seed"])]["run_id"])
        raise SystemExit(
            f"error: {results / suite / 'runs.csv'} holds several {profile or 'full'} runs of {first['method']} "
            f"seed {int(first['seed'])} ({ids}): keep one per arm and seed (another results folder for the others)"
        )
    values: dict[str, dict[int, float]] = {}
    for _, row in rows.iterrows():
        if metric is not None:
            if row[metric] == row[metric]:  # not NaN: recorded
                values.setdefault(row["method"], {})[int(row["seed"])] = float(row[metric])
                sources["runs.csv"] = sources.get("runs.csv", 0) + 1
            elif row["run_id"] in posthoc:
                values.setdefault(row["method"], {})[int(row["seed"])] = posthoc[row["run_id"]]
                sources[POSTHOC_CSV] = sources.get(POSTHOC_CSV, 0) + 1
            continue
        csv = results / suite / "epochs" / f"{row['run_id']}.csv"
        values.setdefault(row["method"], {})[int(row["seed"])] = readout(csv, spec)
    return values


def differences(values: dict[str, dict[int, float]], references: list[str]) -> list[Difference]:
    found = []
    for reference in references:
        for arm in values:
            if arm == reference:
                continue
            seeds = sorted(set(values[arm]) & set(values[reference]))
            found.append(Difference(arm, reference, tuple(values[arm][s] - values[reference][s] for s in seeds)))
    return found


def table(
    values: dict[str, dict[int, float]],
    found: list[Difference],
    measure: str = "top-1",
    comparisons: int | None = None,
) -> str:
    """The markdown table of ``values`` and the differences ``found``; simultaneous intervals over ``comparisons``
    (default: the table's own differences; more when the table is one of a family, as with several metrics)."""
    comparisons = comparisons or len(found)
    lines = [
        f"| arm | seeds | {measure} mean ± sd | "
        + " | ".join(f"− {r} (95%; simultaneous)" for r in dict.fromkeys(d.reference for d in found))
        + " |"
    ]
    lines.append("|---" * (3 + len(dict.fromkeys(d.reference for d in found))) + "|")
    for arm, by_seed in values.items():
        xs = list(by_seed.values())
        cells = [
            arm,
            str(len(xs)),
            f"{statistics.fmean(xs):.4g} ± {statistics.stdev(xs):.2g}" if len(xs) > 1 else f"{xs[0]:.4g}",
        ]
        for reference in dict.fromkeys(d.reference for d in found):
            d = next((d for d in found if d.arm == arm and d.reference == reference), None)
            if d is None:
                cells.append("—")
                continue
            h1, hm = d.half_width(), d.half_width(comparisons)
            mark = " **" if abs(d.mean) > hm else ""
            cells.append(
                f"{d.mean:+.3g} ±{h1:.2g}; ±{hm:.2g}{mark}"
                if measure != "top-1"
                else f"{d.mean:+.2f} ±{h1:.2f}; ±{hm:.2f}{mark}"
            )
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    family = "the table" if comparisons == len(found) else "every table of this family (all its metrics)"
    lines.append(
        f"Intervals: per comparison 95% t, then Bonferroni-simultaneous over all {comparisons} comparisons of "
        f"{family}; ** marks a difference whose simultaneous interval excludes 0."
    )
    return "\n".join(lines)


def forest_plot(
    found: list[Difference], path: Path, title: str, measure: str = "top-1", comparisons: int | None = None
) -> None:
    comparisons = comparisons or len(found)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    references = list(dict.fromkeys(d.reference for d in found))
    fig, axes = plt.subplots(
        1, len(references), figsize=(4.5 * len(references), 0.45 * len(found) + 1.5), sharey=False, squeeze=False
    )
    for axis, reference in zip(axes[0], references, strict=True):
        rows = [d for d in found if d.reference == reference]
        for y, d in enumerate(rows):
            axis.errorbar(d.mean, y, xerr=d.half_width(comparisons), fmt="none", ecolor="0.6", capsize=3)
            axis.errorbar(d.mean, y, xerr=d.half_width(), fmt="o", color="C0", capsize=3)
        axis.axvline(0, color="k", lw=0.8)
        axis.set_yticks(range(len(rows)), [d.arm for d in rows])
        axis.invert_yaxis()
        axis.set_xlabel(f"{measure} − {reference}" + (" (points)" if measure == "top-1" else ""))
    fig.suptitle(f"{title}: paired by seed; dark 95% per comparison, grey simultaneous (Bonferroni)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


#: each teacher's own structure metrics, written by benchmarks/structure_posthoc.py --teachers
TEACHER_CSV = "teacher_structure.csv"


def teacher_values(results: Path, suite: str, metric: str) -> list[str]:
    """``teacher (model): value`` for each teacher of ``RESULTS/SUITE/teacher_structure.csv`` that has ``metric``."""
    path = results / suite / TEACHER_CSV
    if not path.is_file():
        return []
    frame = pd.read_csv(path)
    if metric not in frame.columns:
        return []
    return [
        f"{row['teacher']} ({row['teacher_model']}): {row[metric]:.4g}"
        for _, row in frame.dropna(subset=[metric]).iterrows()
    ]


def metric_section(
    args: argparse.Namespace, metric: str | None
) -> tuple[dict[str, dict[int, float]], list[Difference], str]:
    """One metric's (None: the top-1 read-out) values and differences, ``args.arms`` against ``args.against``, and
    the notes under its table."""
    sources: dict[str, int] = {}
    values = arm_values(args.results, args.suite, args.readout, args.profile, metric, sources, args.precision)
    if args.arms:
        keep = set(args.arms) | set(args.against)
        values = {arm: by_seed for arm, by_seed in values.items() if arm in keep}
    found = differences(values, [r for r in args.against if r in values])
    notes = ""
    if metric:
        counts = ", ".join(f"{n} from {args.suite}/{name}" for name, n in sources.items()) or "none recorded"
        notes = f"\n\nValues of {metric}: {counts}"
        if POSTHOC_CSV in sources:
            notes += " (recomputed from last-epoch weights by benchmarks/structure_posthoc.py)"
        notes += "."
        teachers = teacher_values(args.results, args.suite, metric)
        if teachers:
            notes += f" The teacher's own value on the same test pass: {'; '.join(teachers)}."
    return values, found, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--suite", default="study")
    parser.add_argument("--profile", default=None, help="compare the runs of this profile (default: full)")
    parser.add_argument("--against", nargs="+", default=["KD", "CE"])
    parser.add_argument("--arms", nargs="+", default=None, help="compare only these arms (default: every arm)")
    parser.add_argument("--precision", default="fp32", help="compare the runs trained at this precision (fp32, bf16)")
    parser.add_argument("--readout", default="last", help="last, or lastK (mean of the last K epochs)")
    parser.add_argument(
        "--metric",
        nargs="+",
        default=None,
        help="runs.csv columns (e.g. struct_center_mse) instead of top-1; several make one family, corrected together",
    )
    parser.add_argument("--out", type=Path, default=Path("reports/findings"))
    args = parser.parse_args()
    metrics: list[str | None] = list(args.metric) if args.metric else [None]
    sections = [metric_section(args, metric) for metric in metrics]
    comparisons = sum(len(found) for _, found, _ in sections)  # several metrics: one family, corrected together
    args.out.mkdir(parents=True, exist_ok=True)
    texts = []
    for metric, (values, found, notes) in zip(metrics, sections, strict=True):
        stem = f"{args.suite}-{metric}" if metric else args.suite
        title = f"{args.suite}, {metric}" if metric else f"{args.suite}, read-out {args.readout}"
        forest_plot(found, args.out / f"{stem}-forest.png", title, metric or "top-1", comparisons)
        text = table(values, found, metric or "top-1", comparisons) + notes
        texts.append(f"### {metric}\n\n{text}" if len(metrics) > 1 else text)
    stem = "-".join([args.suite, *(args.metric or [])])
    text = "\n\n".join(texts)
    (args.out / f"{stem}-findings.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
