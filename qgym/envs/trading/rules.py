"""The trading rules on arrays of N traders: positions, masks, costs, rewards, features, state index.

Every function takes values of any shape: the vector envs pass arrays of N traders, the chain's exact
model arrays over every state, and the single envs one trader's numpy scalars (an array indexed by a
number), whose arithmetic costs a fraction of an operation on an array of one. The rules that depend
on the position alone are tables (:func:`position_tables`), so a scalar fast path can read them too.
The index observation ``(bin * n_positions + position - min_position) * n_regimes + regime`` is encoded
and decoded here and nowhere else.

Timing, the same everywhere: at step ``t`` the agent sees features of the prices up to ``t`` and its
position; its action sets the new position, paying costs on the change at the price of ``t``; the new
position then earns the move from ``t`` to ``t + 1``. The reward is the change in equity net of costs.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from qgym.envs.trading.prices import REGIME_NAMES
from qgym.validation import is_number, require_int

__all__ = [
    "ACTION_NAMES",
    "BUY",
    "CLIP",
    "HOLD",
    "N_ACTIONS",
    "OBSERVATIONS",
    "SELL",
    "Z_EDGE",
    "PositionTables",
    "TradingConfig",
    "decode_index",
    "encode_index",
    "feature_space",
    "market_features",
    "position_tables",
    "step_rewards",
    "trade_costs",
    "z_bins",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Floats = Any
"""Floats of a batch of traders (an array), or of one trader selected by number (a numpy scalar)."""
Ints = Any
"""Integers of a batch of traders (an array), or of one trader selected by number (a numpy scalar)."""

HOLD, BUY, SELL = 0, 1, 2
N_ACTIONS = 3
ACTION_NAMES = ("hold", "buy", "sell")
OBSERVATIONS = ("index", "features")
CLIP = 4.0
"""Features are clipped to [-CLIP, CLIP]: finite bounds for DiscretizeObservation and MLPs."""
Z_EDGE = 2.0
"""The ``index`` observation of the market rungs bins the z-score evenly over [-Z_EDGE, Z_EDGE]."""
_ONE_HOT = np.eye(len(REGIME_NAMES))
_ONE_HOT.flags.writeable = False
_FLAT = 1e-12
"""A volatility or spread at most this is no movement: its scaled values are 0."""


@dataclass(frozen=True)
class TradingConfig:
    """Trading rules and observation settings shared by every rung; validated when built."""

    episode_length: int = 100
    """Steps per episode; the env truncates after this many."""
    max_position: int = 1
    """Largest position in units; buy and sell move it by one unit."""
    allow_short: bool = True
    """Whether positions may go down to ``-max_position``."""
    fixed_cost: float = 0.0
    """Cost of each unit of position change, in currency."""
    proportional_cost: float = 0.0
    """Cost of each unit of position change as a fraction of its traded value."""
    initial_equity: float = 100.0
    """Equity at the start of every episode."""
    observation: str = "features"
    """``"index"``: one Discrete state number; ``"features"``: a bounded Box of scale-free features."""
    window: int = 20
    """Past returns behind the z-score and the volatility scaling of the features."""
    n_returns: int = 5
    """How many of the latest (volatility-scaled) log returns the features show."""
    z_bins: int = 9
    """Bins of the z-score in the market rungs' ``index`` observation."""

    def __post_init__(self) -> None:
        # Upper bounds keep an episode's arrays in memory: a path holds window + episode_length prices.
        require_int("episode_length", self.episode_length, 1, 1_000_000)
        require_int("max_position", self.max_position, 1, 1_000)
        require_int("window", self.window, 2, 10_000)
        require_int("n_returns", self.n_returns, 1)
        require_int("z_bins", self.z_bins, 2, 1_000)
        if self.n_returns > self.window:
            raise ValueError(f"n_returns must be at most window={self.window}, got {self.n_returns}")
        if not isinstance(self.allow_short, bool):
            raise ValueError(f"allow_short must be True or False, got {self.allow_short!r}")
        for name in ("fixed_cost", "proportional_cost"):
            value = getattr(self, name)
            if not (is_number(value) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.proportional_cost >= 1:
            raise ValueError(f"proportional_cost must be below 1 (a fraction), got {self.proportional_cost}")
        equity = self.initial_equity
        if not (is_number(equity) and 0 < equity <= 1e12):
            raise ValueError(f"initial_equity must be a positive number up to 1e12, got {equity}")
        if self.fixed_cost > 1e9:
            raise ValueError(f"fixed_cost must be at most 1e9, got {self.fixed_cost}")
        if self.observation not in OBSERVATIONS:
            raise ValueError(f"observation must be one of {list(OBSERVATIONS)}, got {self.observation!r}")

    @property
    def min_position(self) -> int:
        return -self.max_position if self.allow_short else 0

    @property
    def n_positions(self) -> int:
        return self.max_position - self.min_position + 1


# --- positions: tables over (position - min_position, action) ------------------------------------


@dataclass(frozen=True)
class PositionTables:
    """The rules that depend on the position alone, row ``position - min_position``."""

    min_position: int
    next_position: IntArray
    """(positions, actions): the position after the action; a buy at the top or a sell at the bottom holds."""
    masks: NDArray[np.int8]
    """(positions, actions): 1 for the actions that change something (hold always), 0 at a limit."""
    next_rows: tuple[tuple[int, ...], ...]
    """``next_position`` as Python tuples, for one trader on Python numbers."""
    mask_rows: tuple[NDArray[np.int8], ...]
    """The rows of ``masks`` (read-only views), for one trader."""

    def next_positions(self, positions: Ints, actions: Ints) -> Ints:
        """The positions after ``actions``."""
        return self.next_position[positions - self.min_position, actions]

    def action_masks(self, positions: Ints) -> NDArray[np.int8]:
        """(..., 3) valid actions at ``positions`` (sb3-contrib MaskablePPO convention), a fresh array."""
        masks: NDArray[np.int8] = self.masks[positions - self.min_position].copy()
        return masks

    def next_position_one(self, position: int, action: int) -> int:
        """:meth:`next_positions` of one trader's Python int."""
        return self.next_rows[position - self.min_position][action]

    def action_mask_one(self, position: int) -> NDArray[np.int8]:
        """:meth:`action_masks` of one trader's Python int, a fresh array."""
        return self.mask_rows[position - self.min_position].copy()


@functools.lru_cache(maxsize=64)
def position_tables(config: TradingConfig) -> PositionTables:
    """The position tables of ``config`` (read-only, one per config)."""
    low, high = config.min_position, config.max_position
    positions = np.arange(low, high + 1, dtype=np.int64)
    next_position = np.stack(
        [positions, np.minimum(positions + 1, high), np.maximum(positions - 1, low)], axis=1
    )
    masks = np.stack([np.ones_like(positions), positions < high, positions > low], axis=1).astype(np.int8)
    for table in (next_position, masks):
        table.flags.writeable = False
    next_rows = tuple(tuple(row) for row in next_position.tolist())
    return PositionTables(low, next_position, masks, next_rows, tuple(masks))


def trade_costs(old: Ints, new: Ints, prices: Floats, shares: Floats, config: TradingConfig) -> Floats:
    """Cost of moving from positions ``old`` to ``new`` at ``prices`` (``shares`` per unit)."""
    return abs(new - old) * (config.fixed_cost + config.proportional_cost * shares * prices)


def step_rewards(
    positions: Ints, shares: Floats, prices: Floats, next_prices: Floats, costs: Floats
) -> Floats:
    """Change in equity over one step: what the held positions earn, less the cost of getting there."""
    return positions * shares * (next_prices - prices) - costs


# --- observations ---------------------------------------------------------------------------------


def market_features(
    windows: FloatArray,
    positions: Ints,
    steps_left: Ints,
    config: TradingConfig,
    regimes: Ints | None = None,
) -> NDArray[np.float32]:
    """Bounded, scale-free features of windows of the last ``window + 1`` prices: (..., F) for windows
    (..., window + 1).

    Each row is ``[n_returns latest log returns / volatility, z-score of the log price, position /
    max_position, steps left / episode_length, one-hot market regime (if regimes are given)]``,
    the first ``n_returns + 1`` clipped to ``[-CLIP, CLIP]``.
    """
    returns, z = _scaled_returns_and_z(windows)
    k = config.n_returns
    width = k + 3 + (len(REGIME_NAMES) if regimes is not None else 0)
    features = np.zeros((*windows.shape[:-1], width))
    features[..., :k] = returns[..., -k:]
    features[..., k] = z
    features[..., k + 1] = positions / config.max_position
    features[..., k + 2] = steps_left / config.episode_length
    if regimes is not None:
        features[..., k + 3 :] = _ONE_HOT[regimes]
    return features.astype(np.float32)


def z_bins(windows: FloatArray, config: TradingConfig) -> Ints:
    """The z-score of each window's log price, binned evenly over [-Z_EDGE, Z_EDGE] into ``z_bins``."""
    _, z = _scaled_returns_and_z(windows)
    return np.digitize(z, _z_edges(config.z_bins))


def encode_index(bins: Ints, positions: Ints, regimes: Ints, config: TradingConfig, n_regimes: int) -> Ints:
    """The ``index`` observation: ``(bin * n_positions + position - min_position) * n_regimes + regime``.

    ``bin`` is the chain's price level or the market's z-score bin.
    """
    return (bins * config.n_positions + positions - config.min_position) * n_regimes + regimes


def decode_index(indices: Ints, config: TradingConfig, n_regimes: int) -> tuple[Ints, Ints, Ints]:
    """Bins, positions and regimes of ``index`` observations (the inverse of :func:`encode_index`)."""
    rest, regimes = np.divmod(indices, n_regimes)
    bins, offsets = np.divmod(rest, config.n_positions)
    return bins, offsets + config.min_position, regimes


def feature_space(config: TradingConfig, regimes: bool = False) -> spaces.Box:
    """The Box of :func:`market_features` (with the one-hot market regime when ``regimes``)."""
    n_regimes = len(REGIME_NAMES) if regimes else 0
    low = np.concatenate(
        [
            np.full(config.n_returns + 1, -CLIP),
            [config.min_position / config.max_position, 0.0],
            np.zeros(n_regimes),
        ]
    )
    high = np.concatenate([np.full(config.n_returns + 1, CLIP), [1.0, 1.0], np.ones(n_regimes)])
    return spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)


def _scaled_returns_and_z(windows: FloatArray) -> tuple[FloatArray, Floats]:
    """Log returns over their volatility, and the z-score of the last log price, both clipped.

    No movement (a volatility or spread of at most ``_FLAT``) scales to 0. ``np.maximum`` and
    ``np.minimum`` clip exactly as ``np.clip`` does, for a fraction of its call overhead.
    """
    log_prices = np.log(windows)
    returns = log_prices[..., 1:] - log_prices[..., :-1]
    _, volatility = _mean_and_std(returns)
    mean, spread = _mean_and_std(log_prices)
    moving = np.asarray(volatility > _FLAT)[..., None]
    scaled = np.divide(returns, np.asarray(volatility)[..., None], out=np.zeros(returns.shape), where=moving)
    z = np.divide(log_prices[..., -1] - mean, spread, out=np.zeros(np.shape(spread)), where=spread > _FLAT)
    return np.minimum(np.maximum(scaled, -CLIP), CLIP), np.minimum(np.maximum(z, -CLIP), CLIP)


def _mean_and_std(values: FloatArray) -> tuple[Floats, Floats]:
    """Means and (population) standard deviations over the last axis, with the very arithmetic of
    ``np.mean`` and ``np.std`` (the same sums, divisions and square root), without their overhead."""
    n = values.shape[-1]
    mean = np.add.reduce(values, axis=-1) / n
    deviations = values - np.asarray(mean)[..., None]
    std = np.sqrt(np.add.reduce(np.square(deviations, out=deviations), axis=-1) / n)
    return mean, std


@functools.lru_cache(maxsize=16)
def _z_edges(bins: int) -> FloatArray:
    edges = np.linspace(-Z_EDGE, Z_EDGE, bins - 1)
    edges.flags.writeable = False
    return edges
