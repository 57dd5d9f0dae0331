"""The optimal policy's trading figures on the exact chain: what a perfect learner's portfolio reads.

Where a figure is a ratio of expected sums over the episode it is exact: the expected sum of any
per-step quantity under a policy is that quantity's value (:func:`qgym.expectations.policy_totals`),
so the pooled Sharpe ratio (from the expected sums of the changes and of their squares), the
Sortino ratio, the hit rate, the time in market, the turnover and the costs come from the model with
no sampling. A drawdown depends on the order of the changes, not on their sums: the max drawdown, its
duration and the Calmar ratio are sampled from the model (:data:`SAMPLED_EPISODES` episodes of the
optimal policy, seeded), with their 95% interval over episodes.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import NDArray

from qgym import planning
from qgym.envs.interface import FieldReport, Figure
from qgym.envs.trading.chain_rules import Chain, chain_model, chain_price
from qgym.envs.trading.metrics import (
    NOTE,
    TITLE,
    TRADING_FIGURES,
    path_figures,
    pooled_ratios,
    trading_report,
)
from qgym.envs.trading.rules import N_ACTIONS, TradingConfig, decode_index, position_tables, trade_costs
from qgym.expectations import policy_totals

__all__ = ["SAMPLED_EPISODES", "optimal_trading_report", "positions_of", "sample_episodes"]

SAMPLED_EPISODES = 2000
"""Episodes of the optimal policy sampled for the figures no moment gives (drawdowns)."""
EXACT = ("return", "sharpe", "sortino", "turnover", "costs", "hit_rate", "time_in_market")
"""The figures computed exactly from the model."""
_SEED = 7


@functools.lru_cache(maxsize=16)
def optimal_trading_report(chain: Chain, config: TradingConfig, horizon: int) -> FieldReport:
    """The exact optimal policy's trading figures over ``horizon`` steps of ``chain`` (exact where marked)."""
    model = chain_model(chain, config)
    policy = planning.backward_induction(model, horizon).policy
    old, new = positions_of(model, config, chain.n_regimes)
    rewards = model.rewards
    held = (new != 0)[:, :, None]
    expected = policy_totals(
        model,
        policy,
        horizon,
        {
            "sum_change": rewards,
            "sum_squared_change": rewards**2,
            "sum_squared_loss": np.minimum(rewards, 0.0) ** 2,
            "market_steps": (new != 0).astype(np.float64),
            "winning_steps": (held & (rewards > 0)).astype(np.float64),
            "turnover": np.abs(new - old).astype(np.float64),
            "costs": trade_costs(old, new, _prices(chain, config, model.n_states)[:, None], 1.0, config),
        },
    )
    sums = {key: np.array(value) for key, value in expected.items()} | {"steps": np.array(float(horizon))}
    sharpe, sortino, hit_rate, time_in_market = (float(x) for x in pooled_ratios(sums))
    exact = {
        "return": expected["sum_change"],
        "sharpe": sharpe,
        "sortino": sortino,
        "turnover": expected["turnover"],
        "costs": expected["costs"],
        "hit_rate": hit_rate,
        "time_in_market": time_in_market,
    }
    sampled = sample_episodes(model, policy, new, config.initial_equity, SAMPLED_EPISODES, _SEED)
    wanted = [spec for spec in TRADING_FIGURES if spec.key not in exact and not spec.key.startswith("buy")]
    from_samples = trading_report(sampled, keys=[spec.key for spec in wanted])
    figures = []
    for spec in TRADING_FIGURES:
        if spec.key in exact:
            value = exact[spec.key]
            figures.append(Figure(spec, value if np.isfinite(value) else None, how="exact"))
        elif not spec.key.startswith("buy_and_hold"):
            figure = from_samples.get(spec.key)
            assert figure is not None
            figures.append(Figure(spec, figure.value, figure.interval, how="sampled"))
    source = (
        f"backward induction over {horizon} steps; its figures exact from the model, but the drawdowns "
        f"and Calmar, sampled over {SAMPLED_EPISODES:,} of its episodes [95% interval]"
    )
    return FieldReport(TITLE, tuple(figures), source, NOTE)


def sample_episodes(
    model: planning.TabularModel,
    policy: NDArray[np.integer],
    new_positions: NDArray[np.int64],
    initial_equity: float,
    count: int,
    seed: int,
) -> list[dict[str, float]]:
    """``count`` episodes of ``policy`` (horizon, S) drawn from ``model``, each as a record of
    :func:`~qgym.envs.trading.metrics.path_figures` (no buy and hold: the model has no such trader)."""
    rng = np.random.default_rng(seed)
    horizon = len(policy)
    states = rng.choice(model.n_states, size=count, p=model.initial_distribution)
    changes = np.empty((count, horizon))
    positions = np.zeros((count, horizon + 1), dtype=np.int64)
    cumulative = np.cumsum(model.probs, axis=2)
    # Past each row's last possible outcome the running sum is 2, above any uniform: rounding never
    # picks a padding outcome (probability 0) of the model.
    width = model.probs.shape[2]
    last = width - 1 - np.argmax(model.probs[..., ::-1] > 0, axis=2)
    cumulative[np.arange(width) >= last[..., None]] = 2.0
    for step in range(horizon):
        actions = policy[step][states].astype(np.int64)
        draws = rng.random(count)[:, None]
        outcome = (cumulative[states, actions] <= draws).sum(axis=1)
        changes[:, step] = model.rewards[states, actions, outcome]
        positions[:, step + 1] = new_positions[states, actions]
        states = model.next_states[states, actions, outcome]
    equity = initial_equity + np.concatenate([np.zeros((count, 1)), np.cumsum(changes, axis=1)], axis=1)
    figures = path_figures(equity, positions, np.full(count, np.nan))  # costs: exact, not sampled
    return [{key: float(values[i]) for key, values in figures.items()} for i in range(count)]


def positions_of(
    model: planning.TabularModel, config: TradingConfig, n_regimes: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The position before (S, A) and after (S, A) each action of each state of the chain's model."""
    _, position, _ = decode_index(np.arange(model.n_states), config, n_regimes)
    old = np.repeat(np.asarray(position)[:, None], N_ACTIONS, axis=1)
    new = position_tables(config).next_positions(old, np.arange(N_ACTIONS)[None, :])
    return old, np.asarray(new)


def _prices(chain: Chain, config: TradingConfig, n_states: int) -> NDArray[np.float64]:
    """The price of each state of the chain's model."""
    levels, _, _ = decode_index(np.arange(n_states), config, chain.n_regimes)
    return np.array([chain_price(int(level), chain.levels) for level in levels])
