"""Statistics over seeds: the interquartile mean with a bootstrap interval, the median, the worst seed,
and the probability that one set of runs improves on another.

The methods are those of Agarwal et al., *Deep RL at the Edge of the Statistical Precipice* (NeurIPS
2021; the rliable package): the IQM is the mean of the middle half of the runs, intervals come from the
percentile bootstrap over runs (rliable stratifies over tasks; a qgym summary is one task, so the
strata are the runs themselves), and the probability of improvement ``P(X > Y)`` counts ties as half.
The resampling is scipy's (:func:`scipy.stats.bootstrap`), seeded, so a summary prints the same twice.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "Comparison",
    "Interval",
    "SeedStatistics",
    "compare",
    "describe",
    "iqm",
    "probability_of_improvement",
    "summarize",
]

CONFIDENCE = 0.95
RESAMPLES = 5000


@dataclass(frozen=True)
class Interval:
    """A percentile-bootstrap confidence interval; ``None`` bounds when one run leaves nothing to resample."""

    low: float | None
    high: float | None
    confidence: float = CONFIDENCE

    def excludes(self, value: float) -> bool:
        """Whether ``value`` lies outside the interval (False when there is no interval)."""
        if self.low is None or self.high is None:
            return False
        return value < self.low or value > self.high

    def text(self, fmt: str = ".2f") -> str:
        """``[low, high]``, or a word on why there is none."""
        if self.low is None or self.high is None:
            return "no interval from one run"
        return f"[{_formatted(self.low, fmt)}, {_formatted(self.high, fmt)}]"


@dataclass(frozen=True)
class SeedStatistics:
    """One figure over ``n`` seeds: IQM with its interval, median with its interval, worst and best."""

    n: int
    iqm: float
    iqm_interval: Interval
    median: float
    median_interval: Interval
    worst: float
    best: float


@dataclass(frozen=True)
class Comparison:
    """Runs A against runs B on one figure: ``P(A > B)`` and the IQM difference, with their intervals."""

    probability: float
    probability_interval: Interval
    iqm_difference: float
    iqm_difference_interval: Interval
    n_a: int
    n_b: int


def iqm(values: ArrayLike, axis: int = -1) -> Any:
    """The interquartile mean: the mean of the middle half (a quarter trimmed from each end).

    The operations of ``scipy.stats.trim_mean(values, 0.25, axis)`` (a partition, then the mean of the
    middle slice: the same floats), without importing ``scipy.stats`` (most of a second), which
    progress lines during training need not pay for; the bootstrap intervals are scipy's."""
    data = np.asarray(values, dtype=np.float64)
    n = data.shape[axis]
    low = int(0.25 * n)
    high = n - low
    middle = np.take(np.partition(data, (low, high - 1), axis), np.arange(low, high), axis=axis)
    return np.mean(middle, axis=axis)


def summarize(values: ArrayLike, lower_is_better: bool = False, seed: int = 0) -> SeedStatistics:
    """IQM and median of ``values`` (one per seed) with 95% bootstrap intervals; the worst seed is the
    lowest, or the highest when ``lower_is_better`` (e.g. steps until a target)."""
    runs = _runs(values, "values")
    worst, best = (runs.max(), runs.min()) if lower_is_better else (runs.min(), runs.max())
    with np.errstate(invalid="ignore"):  # a target never reached is +inf: inf - inf inside scipy
        return SeedStatistics(
            n=int(runs.size),
            iqm=float(iqm(runs)),
            iqm_interval=_interval((runs,), iqm, seed),
            median=float(np.median(runs)),
            median_interval=_interval((runs,), _median, seed),
            worst=float(worst),
            best=float(best),
        )


def probability_of_improvement(a: ArrayLike, b: ArrayLike) -> float:
    """``P(X > Y)`` for X a run of ``a`` and Y a run of ``b``, ties counted half (Mann-Whitney)."""
    return float(_improvement(_runs(a, "a"), _runs(b, "b")))


def compare(a: ArrayLike, b: ArrayLike, seed: int = 0) -> Comparison:
    """How runs ``a`` stand against runs ``b``: probability of improvement and IQM difference, each with
    a 95% bootstrap interval resampling the runs of both sides independently."""
    runs_a, runs_b = _runs(a, "a"), _runs(b, "b")
    return Comparison(
        probability=float(_improvement(runs_a, runs_b)),
        probability_interval=_interval((runs_a, runs_b), _improvement, seed),
        iqm_difference=float(iqm(runs_a) - iqm(runs_b)),
        iqm_difference_interval=_interval((runs_a, runs_b), _iqm_difference, seed),
        n_a=int(runs_a.size),
        n_b=int(runs_b.size),
    )


def _runs(values: ArrayLike, name: str) -> NDArray[np.float64]:
    runs = np.asarray(values, dtype=np.float64)
    if runs.ndim != 1 or runs.size == 0:
        raise ValueError(f"{name} must be a non-empty list of numbers, one per run, got shape {runs.shape}")
    if np.isnan(runs).any():
        raise ValueError(f"{name} holds NaN: every run needs a number")
    return runs


def _interval(samples: tuple[NDArray[np.float64], ...], statistic: Callable[..., Any], seed: int) -> Interval:
    if min(sample.size for sample in samples) < 2:
        return Interval(None, None)
    if all(np.all(sample == sample[0]) for sample in samples):
        value = float(statistic(*samples, axis=-1))  # every resample is the data itself
        return Interval(value, value)
    from scipy import stats

    result = stats.bootstrap(
        samples,
        statistic,
        n_resamples=RESAMPLES,
        batch=500,
        vectorized=True,
        paired=False,
        axis=-1,
        confidence_level=CONFIDENCE,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return Interval(float(low), float(high))


def _median(values: NDArray[np.float64], axis: int = -1) -> Any:
    return np.median(values, axis=axis)


def _improvement(a: NDArray[np.float64], b: NDArray[np.float64], axis: int = -1) -> Any:
    """Mann-Whitney's U of ``a`` over ``b`` divided by ``n_a n_b``, from the ranks of both together
    (ties share their mean rank, so count half): O(n log n), where comparing every pair is O(n_a n_b)
    and a bootstrap of two 1,000-seed runs compares 10^10 pairs."""
    from scipy.stats import rankdata

    x, y = np.moveaxis(a, axis, -1), np.moveaxis(b, axis, -1)
    n_a, n_b = x.shape[-1], y.shape[-1]
    lead = np.broadcast_shapes(x.shape[:-1], y.shape[:-1])
    both = np.concatenate([np.broadcast_to(x, (*lead, n_a)), np.broadcast_to(y, (*lead, n_b))], axis=-1)
    rank_sum = rankdata(both, axis=-1)[..., :n_a].sum(axis=-1)
    return (rank_sum - n_a * (n_a + 1) / 2) / (n_a * n_b)


def _iqm_difference(a: NDArray[np.float64], b: NDArray[np.float64], axis: int = -1) -> Any:
    return iqm(a, axis=axis) - iqm(b, axis=axis)


def _formatted(value: float, fmt: str) -> str:
    if math.isinf(value):
        return "never" if value > 0 else "-inf"
    return format(value, fmt)


def describe(name: str, statistics: SeedStatistics, fmt: str = ".2f", unit: str = "") -> str:
    """One line: ``name: IQM x [low, high] (95% bootstrap interval over n seeds), median y, worst z``."""
    return (
        f"{name}: IQM {_formatted(statistics.iqm, fmt)}{unit} "
        f"{statistics.iqm_interval.text(fmt)} (95% bootstrap interval over {statistics.n} seeds), "
        f"median {_formatted(statistics.median, fmt)}{unit}, "
        f"worst seed {_formatted(statistics.worst, fmt)}{unit}"
    )
