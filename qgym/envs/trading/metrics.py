"""A trader's episodes measured as a portfolio: Sharpe, Sortino, drawdown, Calmar, turnover, costs, hit
rate, time in market, and buy and hold beside them.

Every figure is a function of an episode's path: the equity after each step (the first entry the
initial equity), the position held after each step (the first entry 0, flat at the start), the costs
paid and the buy-and-hold equity. :func:`path_figures` computes them for N paths at once: the single
env asks for its one episode (from the chart it records anyway, so a step costs nothing more), the
optimal policy's reference for thousands of sampled ones. Over many episodes (:func:`trading_report`)
the ratios are pooled over every step of every episode, as one track record of the episodes laid end
to end; their moments are sums, which the exact model also gives (:mod:`qgym.envs.trading.reference`).

Changes are in currency (the reward is the change in equity), per step and not annualised: an
episode has no calendar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qgym.envs.figures import bootstrap, columns_of, mean_figure, ratio, ratio_figure
from qgym.envs.interface import EpisodeChart, FieldReport, Figure, FigureSpec, Panel

__all__ = [
    "NOTE",
    "SUMS",
    "TITLE",
    "TRADING_FIGURES",
    "episode_chart",
    "path_figures",
    "pooled_ratios",
    "trading_report",
]

TITLE = "trading metrics"
NOTE = "changes in currency, per step, not annualised"
FLAT = 1e-12
"""A variance or a downside at most this (relative to the mean square) is no variation: the ratio is
undefined (None), never a division by rounding noise."""

_SPEC = {
    spec.key: spec
    for spec in (
        FigureSpec(
            "return", "return", "final minus initial equity: the sum of the rewards", quantity="currency"
        ),
        FigureSpec(
            "sharpe",
            "Sharpe ratio",
            decimals=3,
            quantity="ratio",
            definition="mean per-step equity change over its standard deviation (population, ddof 0); "
            "over many episodes both are pooled over all their steps; undefined when the changes never vary",
        ),
        FigureSpec(
            "sortino",
            "Sortino ratio",
            decimals=3,
            quantity="ratio",
            definition="mean per-step equity change over the downside deviation "
            "sqrt(mean(min(change, 0)^2)); pooled over many episodes; undefined without a losing step",
        ),
        FigureSpec(
            "max_drawdown",
            "max drawdown",
            "largest fall of the equity from its running peak (the initial equity included), in "
            "currency; over many episodes, the mean of the episodes' maxima",
            quantity="currency",
        ),
        FigureSpec(
            "max_drawdown_pct",
            "max drawdown, % of peak",
            "the largest fall from the running peak as a share of that peak; mean over episodes",
            unit="%",
            decimals=1,
            quantity="% of the peak",
        ),
        FigureSpec(
            "drawdown_duration",
            "longest drawdown",
            "most consecutive steps with the equity below its running peak; mean over episodes",
            unit=" steps",
            decimals=1,
            quantity="steps",
        ),
        FigureSpec(
            "calmar",
            "Calmar ratio",
            "return over max drawdown (per episode, not annualised); over many episodes, the mean "
            "return over the mean max drawdown; undefined without a drawdown",
            quantity="ratio",
        ),
        FigureSpec(
            "turnover",
            "turnover",
            "units of position traded: the sum of the absolute changes of position",
            unit=" units",
            quantity="units traded",
        ),
        FigureSpec("costs", "costs paid", "the sum of the trading costs", quantity="currency"),
        FigureSpec(
            "hit_rate",
            "hit rate",
            "of the steps with a position held, the share whose equity change was positive; pooled "
            "over many episodes; undefined when never in the market",
            unit="%",
            decimals=1,
            quantity="% of the steps in the market",
        ),
        FigureSpec(
            "time_in_market",
            "time in market",
            "share of the steps with a position held (long or short); pooled over many episodes",
            unit="%",
            decimals=1,
            quantity="% of the steps",
        ),
        FigureSpec(
            "buy_and_hold_return",
            "buy and hold: return",
            "final minus initial equity had the trader bought one unit at the start (paying its cost) "
            "and held it",
            quantity="currency",
            baseline=True,
        ),
        FigureSpec(
            "buy_and_hold_max_drawdown",
            "buy and hold: max drawdown",
            "the max drawdown of that buy-and-hold equity",
            quantity="currency",
            baseline=True,
        ),
    )
}
TRADING_FIGURES: tuple[FigureSpec, ...] = tuple(_SPEC.values())
"""Every trading figure, in report order, with its definition."""
SUMS = ("steps", "sum_change", "sum_squared_change", "sum_squared_loss", "market_steps", "winning_steps")
"""The sums behind the pooled ratios, kept in each episode's record: steps, the sum of the per-step
equity changes, of their squares, of the squares of the losses (min(change, 0)), the steps with a
position held, and those of them whose change was positive."""

FloatArray = NDArray[np.float64]
_POOLED = ("sharpe", "sortino", "hit_rate", "time_in_market")
"""The figures :func:`pooled_ratios` gives, in its order."""


def path_figures(
    equity: FloatArray,
    positions: NDArray[Any],
    costs: FloatArray,
    baseline: FloatArray | None = None,
) -> dict[str, FloatArray]:
    """The figures of N episodes: ``equity`` and ``positions`` (N, T + 1) after each step, the first
    column the start; ``costs`` (N,) paid; ``baseline`` (N, T + 1) the buy-and-hold equity. Each figure
    is an (N,) array, NaN where undefined; the :data:`SUMS` come with them."""
    equity = np.asarray(equity, dtype=np.float64)
    held = np.asarray(positions)[:, 1:] != 0
    changes = np.diff(equity, axis=1)
    steps = changes.shape[1]
    sums = {
        "steps": np.full(len(equity), float(steps)),
        "sum_change": changes.sum(axis=1),
        "sum_squared_change": np.square(changes).sum(axis=1),
        "sum_squared_loss": np.square(np.minimum(changes, 0.0)).sum(axis=1),
        "market_steps": held.sum(axis=1).astype(np.float64),
        "winning_steps": (held & (changes > 0)).sum(axis=1).astype(np.float64),
    }
    drawdown, share, duration = _drawdowns(equity)
    sharpe, sortino, hit_rate, time_in_market = pooled_ratios(sums)
    total = equity[:, -1] - equity[:, 0]
    figures = {
        "return": total,
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown": drawdown,
        "max_drawdown_pct": share,
        "drawdown_duration": duration,
        "calmar": _divide(total, drawdown),
        "turnover": np.abs(np.diff(np.asarray(positions), axis=1)).sum(axis=1).astype(np.float64),
        "costs": np.asarray(costs, dtype=np.float64),
        "hit_rate": hit_rate,
        "time_in_market": time_in_market,
    }
    if baseline is not None:
        figures["buy_and_hold_return"] = np.asarray(baseline)[:, -1] - equity[:, 0]
        figures["buy_and_hold_max_drawdown"] = _drawdowns(np.asarray(baseline, dtype=np.float64))[0]
    return figures | sums


def pooled_ratios(sums: Mapping[str, FloatArray]) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Sharpe, Sortino, hit rate and time in market of the :data:`SUMS`, pooled over their last axis
    when it is the episodes' (a single episode's when the sums are per episode, shape (N,))."""
    steps = np.asarray(sums["steps"])
    pooled = steps.ndim > 1
    total = (lambda x: np.asarray(x).sum(axis=-1)) if pooled else (lambda x: np.asarray(x))
    n = total(steps)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total(sums["sum_change"]) / n
        square = total(sums["sum_squared_change"]) / n
        variance = square - mean**2
        loss = total(sums["sum_squared_loss"]) / n
        moving = variance > FLAT * np.maximum(square, 1.0)
        sharpe = np.where(moving, mean / np.sqrt(np.where(moving, variance, 1.0)), np.nan)
        losing = loss > FLAT * np.maximum(square, 1.0)
        sortino = np.where(losing, mean / np.sqrt(np.where(losing, loss, 1.0)), np.nan)
        market = total(sums["market_steps"])
        hit_rate = np.where(
            market > 0, total(sums["winning_steps"]) / np.where(market > 0, market, 1), np.nan
        )
        return sharpe, sortino, hit_rate, market / n


def trading_report(
    records: Sequence[Mapping[str, Any]], source: str = "", keys: Sequence[str] | None = None
) -> FieldReport:
    """The trading figures of the episodes whose records (:func:`path_figures`, one episode each) are
    given: one episode's own, or over many with 95% bootstrap intervals over episodes (only ``keys``
    when given)."""
    wanted = [
        spec for spec in TRADING_FIGURES if spec.key in records[0] and (keys is None or spec.key in keys)
    ]
    if len(records) == 1:
        figures = tuple(Figure(spec, _defined(records[0][spec.key])) for spec in wanted)
        return FieldReport(TITLE, figures, source or "one episode", NOTE)
    columns = columns_of(records, SUMS)
    return FieldReport(TITLE, tuple(_over_many(spec, records, columns) for spec in wanted), source, NOTE)


def _over_many(
    spec: FigureSpec, records: Sequence[Mapping[str, Any]], columns: Mapping[str, FloatArray]
) -> Figure:
    """One figure over many episodes: a pooled ratio of the sums, Calmar's ratio of means, else a mean."""
    if spec.key in _POOLED:
        index = _POOLED.index(spec.key)
        value, interval = bootstrap(lambda data: pooled_ratios(data)[index], columns)
        return Figure(spec, value, interval)
    if spec.key == "calmar":
        return ratio_figure(spec, records, "return", "max_drawdown")
    return mean_figure(spec, records)


def episode_chart(
    equity: Sequence[float], baseline: Sequence[float], positions: Sequence[int], title: str
) -> EpisodeChart:
    """One episode: equity beside buy and hold, their drawdowns, and the position held."""
    paths = np.array([equity, baseline], dtype=np.float64)
    falls = np.maximum.accumulate(paths, axis=1) - paths
    return EpisodeChart(
        title,
        "step",
        (
            Panel("equity", "equity", (("agent", tuple(paths[0])), ("buy and hold", tuple(paths[1])))),
            Panel(
                "drawdown (fall from the running peak)",
                "drawdown",
                (("agent", tuple(-falls[0])), ("buy and hold", tuple(-falls[1]))),
                fill=True,
            ),
            Panel("position held", "position (units)", (("agent", tuple(float(p) for p in positions)),)),
        ),
    )


def _drawdowns(equity: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Max drawdown (currency), max drawdown as a share of the peak, longest drawdown (steps) of each row.

    The peak starts at the initial equity, which is positive, so the share is always defined.
    """
    peak = np.maximum.accumulate(equity, axis=1)
    fall = peak - equity
    below = fall > 0
    # The length of the run of steps below the peak at each step: steps counted so far, less the
    # count at the last step at the peak.
    counted = np.cumsum(below, axis=1)
    runs: FloatArray = counted - np.maximum.accumulate(np.where(below, 0, counted), axis=1)
    return fall.max(axis=1), (fall / peak).max(axis=1), runs.max(axis=1).astype(np.float64)


def _divide(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    return np.asarray(ratio(numerator[:, None], denominator[:, None]))


def _defined(value: Any) -> float | None:
    """A plain float, or None for a missing or undefined (NaN) one."""
    if value is None:
        return None
    number = float(value)
    return number if np.isfinite(number) else None
