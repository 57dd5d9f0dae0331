"""The Ehrenfest price chain's rule, stated once, as tables, and as the exact model of the chain rung.

:func:`chain_outcomes` states the chain's rule; :func:`chain_tables` turns it into tables over the chain
state ``level * n_regimes + regime``, which :class:`~qgym.envs.trading.chain.ChainPrices` (the price
streams the single and the vector env step) and :func:`chain_model` (the exact model) both read.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from qgym.envs.native_vector import FloatArray, IntArray
from qgym.envs.trading.rules import (
    N_ACTIONS,
    TradingConfig,
    decode_index,
    encode_index,
    position_tables,
    step_rewards,
    trade_costs,
)
from qgym.planning import TabularModel
from qgym.validation import is_number, require_int

__all__ = ["REGIMES", "Chain", "ChainTables", "chain_model", "chain_outcomes", "chain_price", "chain_tables"]

REGIMES = ("bull", "bear")
"""The chain's regimes: regime 0 reverts above the middle level, regime 1 below."""


def chain_price(level: int, levels: int) -> float:
    """Price of a chain level: one tick per level, centred on 100."""
    return 100.0 + level - (levels - 1) / 2


def chain_outcomes(
    level: int, regime: int, levels: int, regime_switch: float, tilt: float
) -> list[tuple[float, int, int]]:
    """``(probability, next level, next regime)`` of the (biased) Ehrenfest price chain.

    With ``top = levels - 1`` and ``theta = 0.5 + tilt`` in regime 0 (``0.5 - tilt`` in regime 1), the
    price moves up with probability ``theta * (top - level) / (top * m)`` and down with ``(1 - theta) *
    level / (top * m)``, where ``m = max(theta, 1 - theta)``; otherwise it stays. It reverts towards
    level ``theta * top`` (stationary law Binomial(top, theta)); ``theta = 0.5`` is the classic urn,
    which moves every step. With ``regime_switch > 0`` the regime flips with that probability after
    each move.
    """
    top = levels - 1
    theta = 0.5 + tilt if regime == 0 else 0.5 - tilt
    scale = top * max(theta, 1 - theta)
    up = theta * (top - level) / scale
    down = (1 - theta) * level / scale
    moves = [(up, level + 1), (down, level - 1), (max(0.0, 1 - up - down), level)]
    regimes = (
        [(1.0, regime)] if regime_switch == 0 else [(1 - regime_switch, regime), (regime_switch, 1 - regime)]
    )
    return [(p * q, lvl, reg) for p, lvl in moves if p > 1e-15 for q, reg in regimes if q > 0]


@dataclass(frozen=True)
class Chain:
    """The chain's parameters, validated: ``levels`` ticks, the regime switch probability, the tilt."""

    levels: int = 21
    regime_switch: float = 0.0
    tilt: float = 0.0

    def __post_init__(self) -> None:
        require_int("levels", self.levels, 3, 1_001)
        if not (is_number(self.regime_switch) and 0.0 <= self.regime_switch < 1.0):
            raise ValueError(f"regime_switch must be a probability in [0, 1), got {self.regime_switch}")
        if not (is_number(self.tilt) and 0.0 <= self.tilt < 0.5):
            raise ValueError(f"tilt must be in [0, 0.5), got {self.tilt}")

    @property
    def n_regimes(self) -> int:
        """2 when the regime switches (bull and bear), else 1."""
        return 2 if self.regime_switch > 0 else 1


@dataclass(frozen=True)
class ChainTables:
    """:func:`chain_outcomes` as tables over the chain state ``s = level * n_regimes + regime``."""

    level: IntArray  # (S,) the level of each chain state
    regime: IntArray  # (S,) its regime
    price: FloatArray  # (S,) its price (chain_price of its level)
    probs: FloatArray  # (S, K) the probability of each outcome, 0 past the state's outcomes
    outcome: IntArray  # (S, K + 1) the chain state after each outcome; past them, the last one again
    cumulative: FloatArray  # (S, K + 1) running sums of probs; 2.0 (above any uniform) past the outcomes
    stationary: FloatArray  # (S,) the stationary law: where an episode starts
    start_cdf: FloatArray  # (S,) its running sums, normalised as Generator.choice(p=...) draws
    n_outcomes: IntArray  # (S,) how many outcomes each chain state has


@functools.lru_cache(maxsize=16)
def chain_tables(chain: Chain) -> ChainTables:
    """The tables of ``chain`` (read-only, one per chain)."""
    n_regimes = chain.n_regimes
    states = np.arange(chain.levels * n_regimes)
    level, regime = np.divmod(states, n_regimes)
    rows = [
        chain_outcomes(int(lvl), int(reg), chain.levels, chain.regime_switch, chain.tilt)
        for lvl, reg in zip(level, regime, strict=True)
    ]
    width = max(len(row) for row in rows)
    probs = np.zeros((len(rows), width))
    outcome = np.zeros((len(rows), width + 1), dtype=np.int64)
    cumulative = np.full((len(rows), width + 1), 2.0)
    for s, row in enumerate(rows):
        k = len(row)
        probs[s, :k] = [prob for prob, _, _ in row]
        outcome[s, :k] = [lvl * n_regimes + reg for _, lvl, reg in row]
        outcome[s, k:] = outcome[s, k - 1]
        cumulative[s, :k] = np.cumsum([prob for prob, _, _ in row])
    stationary = _stationary_law(probs, outcome[:, :width])
    start_cdf = np.cumsum(stationary)
    start_cdf /= start_cdf[-1]
    price = np.array([chain_price(int(lvl), chain.levels) for lvl in level])
    n_outcomes = np.array([len(row) for row in rows])
    tables = ChainTables(level, regime, price, probs, outcome, cumulative, stationary, start_cdf, n_outcomes)
    for table in vars(tables).values():
        table.flags.writeable = False
    return tables


def _stationary_law(probs: FloatArray, outcome: IntArray) -> FloatArray:
    """Solve ``pi (M - I) = 0`` with ``sum(pi) = 1`` for the chain's transition matrix ``M``."""
    size = len(probs)
    matrix = np.zeros((size, size))
    np.add.at(matrix, (np.repeat(np.arange(size), probs.shape[1]), outcome.ravel()), probs.ravel())
    system = np.vstack([matrix.T - np.eye(size), np.ones(size)])
    rhs = np.zeros(size + 1)
    rhs[-1] = 1.0
    pi = np.clip(np.linalg.lstsq(system, rhs, rcond=None)[0], 0.0, None)
    return np.asarray(pi / pi.sum(), dtype=np.float64)


def chain_model(chain: Chain, config: TradingConfig) -> TabularModel:
    """The exact model of trading on ``chain``, from the same tables and rules as a step.

    States are the ``index`` observations (:func:`~qgym.envs.trading.rules.encode_index` of level,
    position and regime); one unit is one share. Outcome ``k`` of ``(s, a)`` is the chain's outcome
    ``k``; the padding past a state's outcomes repeats its first next state with probability 0.
    """
    tables = chain_tables(chain)
    n_regimes = chain.n_regimes
    n_states = chain.levels * config.n_positions * n_regimes
    level, position, regime = decode_index(np.arange(n_states), config, n_regimes)
    chain_state = level * n_regimes + regime
    width = tables.probs.shape[1]
    outcome = tables.outcome[chain_state, :width]
    probs = tables.probs[chain_state]
    price = tables.price[chain_state]
    next_states = np.empty((n_states, N_ACTIONS, width), dtype=np.int64)
    rewards = np.empty((n_states, N_ACTIONS, width))
    for action in range(N_ACTIONS):
        new = position_tables(config).next_positions(position, action)
        cost = trade_costs(position, new, price, np.ones(n_states), config)
        next_level, next_regime = tables.level[outcome], tables.regime[outcome]
        next_states[:, action] = encode_index(next_level, new[:, None], next_regime, config, n_regimes)
        rewards[:, action] = step_rewards(
            new[:, None], np.ones((n_states, 1)), price[:, None], tables.price[outcome], cost[:, None]
        )
    padding = (np.arange(width) >= tables.n_outcomes[chain_state][:, None])[:, None, :]
    next_states = np.where(padding, next_states[:, :, :1], next_states)
    rewards = np.where(padding, 0.0, rewards)
    start = np.zeros(n_states)
    flat = encode_index(tables.level, 0, tables.regime, config, n_regimes)
    start[flat] = tables.stationary
    all_probs = np.repeat(probs[:, None, :], N_ACTIONS, axis=1)
    return TabularModel(next_states, all_probs, rewards, np.zeros(next_states.shape, dtype=bool), start)
