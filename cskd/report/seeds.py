"""Statistics over seeds: the paired difference of two methods of one teacher / student pair, with a Student-t
confidence interval, and whether it is distinguishable from seed noise.

Runs of one seed share the student's initialisation and the order of the training data, so two methods A and B of
a pair are compared seed by seed: over the seeds S where both succeeded, d_s = acc_A(s) - acc_B(s), n = |S|, the
mean d and the sample standard deviation s_d (ddof = 1); the confidence interval is
d ± t_{(1+c)/2, n-1} * s_d / sqrt(n) (Student's t with n - 1 degrees of freedom; at c = 95 % and n = 3,
t_{0.975, 2} = 4.303). The difference is *distinguishable from seed noise* when the interval excludes 0. With one
paired seed there is no interval (and nothing is distinguishable). What a comparison can resolve at all is its
*detectable difference*, the smallest true difference found with 80% power (:attr:`PairedDifference.detectable`).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from scipy.stats import t as student_t

from cskd.report.cells import CellTable, Row
from cskd.report.numbers import format_diff, format_interval

CONFIDENCE = 0.95
#: the power at which :attr:`PairedDifference.detectable` is stated
POWER = 0.80


def t_quantile(n: int, confidence: float = CONFIDENCE) -> float:
    """The two-sided Student-t quantile t_{(1+c)/2, n-1} of a mean of ``n`` >= 2 values."""
    if n < 2:
        raise ValueError(f"a t interval needs at least 2 values, got {n}")
    return float(student_t.ppf((1 + confidence) / 2, n - 1))


@dataclass(frozen=True)
class PairedDifference:
    """A - B of one pair's methods over the seeds where both succeeded (accuracy points)."""

    row: Row
    a: str
    b: str
    metric: str
    seeds: tuple[int, ...]
    differences: tuple[float, ...]  # A - B, one per seed of ``seeds``
    confidence: float = CONFIDENCE

    @property
    def name(self) -> str:
        return f"{self.a} − {self.b}"

    @property
    def n(self) -> int:
        return len(self.differences)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.differences) if self.differences else None

    @property
    def std(self) -> float | None:
        """Sample standard deviation (ddof = 1) of the per-seed differences; None below two seeds."""
        return statistics.stdev(self.differences) if self.n > 1 else None

    @property
    def half_width(self) -> float | None:
        """Half the width of the confidence interval, t * s_d / sqrt(n); None below two seeds."""
        if self.std is None:
            return None
        return t_quantile(self.n, self.confidence) * self.std / math.sqrt(self.n)

    @property
    def detectable(self) -> float | None:
        """The smallest true difference this many paired seeds detect with 80% power at the 95% level,
        (t_{0.975, n-1} + t_{0.80, n-1}) * s_d / sqrt(n) (the usual t approximation, taking the observed spread of
        the per-seed differences as their true spread); None below two seeds."""
        if self.std is None:
            return None
        power_quantile = float(student_t.ppf(POWER, self.n - 1))
        return (t_quantile(self.n, self.confidence) + power_quantile) * self.std / math.sqrt(self.n)

    @property
    def interval(self) -> tuple[float, float] | None:
        if self.mean is None or self.half_width is None:
            return None
        return self.mean - self.half_width, self.mean + self.half_width

    @property
    def distinguishable(self) -> bool:
        """Whether the confidence interval excludes 0 (False without an interval)."""
        interval = self.interval
        return interval is not None and (interval[0] > 0 or interval[1] < 0)

    @property
    def verdict(self) -> str:
        """The comparison in words."""
        if self.n == 0:
            return "no seed where both succeeded"
        if self.n == 1:
            return "one paired seed: no interval, cannot be told from noise"
        if self.distinguishable:
            direction = "above" if self.mean > 0 else "below"
            return f"{self.a} is {direction} {self.b} beyond seed noise (the interval excludes 0)"
        return "not distinguishable from seed noise (the interval contains 0)"


def paired_difference(
    results: CellTable, row: Row, a: str, b: str, metric: str, confidence: float = CONFIDENCE
) -> PairedDifference:
    """A - B for the pair ``row``, paired by seed (see the module docstring)."""
    first, second = results.by_seed(row.key(a), metric), results.by_seed(row.key(b), metric)
    seeds = tuple(sorted(set(first) & set(second)))
    return PairedDifference(row, a, b, metric, seeds, tuple(first[s] - second[s] for s in seeds), confidence)


def in_words(comparisons: list[PairedDifference]) -> str:
    """Which differences are distinguishable from seed noise and which are not, in sentences."""
    several_pairs = len({d.row for d in comparisons}) > 1

    def listed(differences: list[PairedDifference], values: bool = True) -> str:
        items = []
        for d in differences:
            name = d.name + (f" on {d.row.label}" if several_pairs else "")
            items.append(f"{name} ({format_diff(d.mean)}, {format_interval(d.interval)})" if values else name)
        return "; ".join(items)

    clear = [d for d in comparisons if d.distinguishable]
    unclear = [d for d in comparisons if not d.distinguishable and d.n > 1]
    too_few = [d for d in comparisons if d.n < 2]
    counts = sorted({d.n for d in comparisons if d.n > 1})
    scale = f"With {' or '.join(map(str, counts))} paired seeds" if counts else "With these seeds"
    sentences = []
    if clear:
        sentences.append(f"{scale}, distinguishable from seed noise (the 95% interval excludes 0): {listed(clear)}.")
    if unclear:
        lead = "Not distinguishable" if clear else f"{scale}, not distinguishable from seed noise"
        sentences.append(f"{lead} (the 95% interval contains 0): {listed(unclear)}.")
    if too_few:
        sentences.append(f"Fewer than two paired seeds, so no interval: {listed(too_few, values=False)}.")
    return " ".join(sentences)
