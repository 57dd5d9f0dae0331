"""What both families share to build their field figures over many episodes: intervals over episodes.

A figure over many episodes is a statistic of per-episode columns: a mean (a farm's harvests), or a
ratio of sums pooled over every step (a trader's Sharpe ratio, whose mean and variance are sums over
all steps of all episodes). Its 95% interval is the percentile bootstrap over episodes: resample the
episodes with replacement, recompute the statistic, take the 2.5th and 97.5th percentiles.

The resampling is written here rather than taken from :func:`scipy.stats.bootstrap` for one reason: a
pooled ratio is undefined in a resample whose denominator is 0 (a policy that trades in 3 episodes of
100 has resamples without a trade), and scipy then returns a NaN interval. Here those resamples are
left out, and when more than :data:`UNDEFINED_SHARE` of them are undefined there is no interval.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qgym.envs.interface import Figure, FigureSpec

__all__ = [
    "CONFIDENCE",
    "RESAMPLES",
    "UNDEFINED_SHARE",
    "Columns",
    "LazyRecord",
    "bootstrap",
    "columns_of",
    "mean_figure",
    "ratio",
    "ratio_figure",
]

CONFIDENCE = 0.95
RESAMPLES = 2000
UNDEFINED_SHARE = 0.025
"""At most this share of resamples may leave the statistic undefined for an interval to be given."""
_SEED = 20_250
"""The resampling's own seed: a report prints the same interval twice."""

FloatArray = NDArray[np.float64]
Columns = Mapping[str, FloatArray]
"""Per-episode values by name: (episodes,) arrays, or (resamples, episodes) when resampled."""
Statistic = Callable[[Columns], FloatArray]
"""A statistic of the columns, reduced over the last axis (episodes): NaN where undefined."""


def columns_of(records: Sequence[Mapping[str, float | None]], keys: Sequence[str]) -> dict[str, FloatArray]:
    """The records' values of ``keys`` as float columns (None becomes NaN)."""
    return {
        key: np.array([np.nan if record.get(key) is None else record[key] for record in records], dtype=float)
        for key in keys
    }


def bootstrap(statistic: Statistic, columns: Columns) -> tuple[float | None, tuple[float, float] | None]:
    """The statistic of the episodes and its 95% percentile-bootstrap interval over episodes.

    The value is None where the statistic is undefined on the episodes themselves; the interval is None
    for a single episode, or when more than :data:`UNDEFINED_SHARE` of the resamples are undefined.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        value = float(statistic({key: column[None, :] for key, column in columns.items()})[0])
        if not np.isfinite(value):
            return None, None
        count = len(next(iter(columns.values())))
        if count < 2:
            return value, None
        picks = np.random.default_rng(_SEED).integers(0, count, size=(RESAMPLES, count))
        draws = statistic({key: column[picks] for key, column in columns.items()})
    defined = draws[np.isfinite(draws)]
    if len(defined) < (1 - UNDEFINED_SHARE) * RESAMPLES:
        return value, None
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(defined, [tail, 100 - tail])
    return value, (float(low), float(high))


def ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    """Sum of ``numerator`` over sum of ``denominator`` along the episodes (NaN where it is 0)."""
    bottom = denominator.sum(axis=-1)
    return np.where(bottom != 0, numerator.sum(axis=-1) / np.where(bottom != 0, bottom, 1.0), np.nan)


def mean_figure(spec: FigureSpec, records: Sequence[Mapping[str, Any]], key: str | None = None) -> Figure:
    """The mean over episodes of ``key`` (default: the spec's), over the episodes where it is defined."""
    column = columns_of(records, [key or spec.key])[key or spec.key]
    column = column[np.isfinite(column)]
    if column.size == 0:
        return Figure(spec, None)
    value, interval = bootstrap(lambda data: data["x"].mean(axis=-1), {"x": column})
    return Figure(spec, value, interval)


def ratio_figure(
    spec: FigureSpec,
    records: Sequence[Mapping[str, Any]],
    numerator: str,
    denominator: str,
    scale: float = 1.0,
) -> Figure:
    """``scale`` times the sum of ``numerator`` over the sum of ``denominator`` (pooled over episodes)."""
    columns = columns_of(records, [numerator, denominator])
    value, interval = bootstrap(lambda data: scale * ratio(data[numerator], data[denominator]), columns)
    return Figure(spec, value, interval)


class LazyRecord(Mapping[str, "float | None"]):
    """An episode's record computed when first read: the final step's ``info["episode_metrics"]``
    costs a step almost nothing unless someone reads it. It pickles and copies as a plain dict."""

    __slots__ = ("_compute", "_values")

    def __init__(self, compute: Callable[[], dict[str, float | None]]) -> None:
        self._compute: Callable[[], dict[str, float | None]] | None = compute
        self._values: dict[str, float | None] | None = None

    def _data(self) -> dict[str, float | None]:
        if self._values is None:
            assert self._compute is not None
            self._values, self._compute = self._compute(), None
        return self._values

    def __getitem__(self, key: str) -> float | None:
        return self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())

    def __repr__(self) -> str:
        return repr(self._data())

    def __reduce__(self) -> tuple[Any, ...]:
        return dict, (self._data(),)
