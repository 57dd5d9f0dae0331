"""The qgym environments and their registrations, all in this one block.

Every ID lives in the ``qgym/`` namespace. ``KNOWN_OPTIMA`` holds the exact optimal expected return
(undiscounted, over the registered horizon, from the start distribution) of every rung that
:mod:`qgym.planning` solves; its ``reward_threshold`` is 95% of that optimum. The test suite recomputes
each optimum, so a change of dynamics that forgets to update this table fails. ``KNOWN_MAXIMA`` holds
the optimum of other packages' envs where it is known without a model (CartPole's time limit).
"""

from __future__ import annotations

from typing import Any

from gymnasium.envs.registration import register

__all__ = ["KNOWN_MAXIMA", "KNOWN_OPTIMA", "known_optimum", "qgym_env_ids"]

KNOWN_OPTIMA: dict[str, float] = {}
KNOWN_MAXIMA: dict[str, float] = {"CartPole-v0": 200.0, "CartPole-v1": 500.0}
"""Envs without an exact model whose optimal return is known anyway: the most any episode can earn,
which the best policy earns from every start. CartPole pays 1 a step until the pole falls, and from
every start state (all within 0.05 of upright) the pole can be balanced to the time limit, so its
optimum is the limit: 200 steps on v0, 500 on v1. Add your own env's maximum here to have it judged
as a share, as for the envs solved exactly."""


def known_optimum(env_id: str) -> float | None:
    """The exact optimal expected return of a registered qgym ID or of an env in :data:`KNOWN_MAXIMA`,
    or ``None`` when it is not known."""
    return KNOWN_OPTIMA.get(env_id, KNOWN_MAXIMA.get(env_id))


def qgym_env_ids() -> list[str]:
    """Every registered ``qgym/`` ID, in registration order."""
    from gymnasium.envs.registration import registry

    return [env_id for env_id in registry if env_id.startswith("qgym/")]


def _register(
    name: str,
    entry_point: str,
    max_episode_steps: int,
    kwargs: dict[str, Any],
    optimum: float | None = None,
    vector_entry_point: str | None = None,
) -> None:
    env_id = f"qgym/{name}"
    threshold = None if optimum is None else round(optimum - 0.05 * abs(optimum), 2)
    if optimum is not None:
        KNOWN_OPTIMA[env_id] = optimum
    register(
        id=env_id,
        entry_point=entry_point,
        max_episode_steps=max_episode_steps,
        reward_threshold=threshold,
        kwargs=kwargs,
        vector_entry_point=vector_entry_point,
    )


# --- grid farm ------------------------------------------------------------------------------------
_FARM = "qgym.envs.farm.env:GridFarmEnv"
_FARM_VECTOR = "qgym.envs.farm.vector:GridFarmVectorEnv"
_DETERMINISTIC = {"p_rain": 0.0, "p_grow": 1.0, "p_evap": 1.0, "p_wither": 0.0, "p_rot": 0.0}
_STOCHASTIC = {"p_rain": 0.25, "p_grow": 0.15, "p_evap": 0.2, "p_wither": 0.05, "p_rot": 0.05}
# Optima: exact best expected season return from qgym.planning.backward_induction (4 decimals).
# A table learns the deterministic 1x1 in seconds; the stochastic rungs up to 2x3 are solved exactly
# (2x3: 705,894 states, a few seconds); 3x3 and 4x4 are too large for any table: DQN rungs.
_register(
    "GridFarm-1x1-Det-v0",
    _FARM,
    50,
    {"rows": 1, "cols": 1, **_DETERMINISTIC},
    optimum=96.0,
    vector_entry_point=_FARM_VECTOR,
)
_register(
    "GridFarm-1x1-v0",
    _FARM,
    100,
    {"rows": 1, "cols": 1, **_STOCHASTIC},
    optimum=47.4202,
    vector_entry_point=_FARM_VECTOR,
)
_register(
    "GridFarm-1x2-v0",
    _FARM,
    100,
    {"rows": 1, "cols": 2, **_STOCHASTIC},
    optimum=77.5744,
    vector_entry_point=_FARM_VECTOR,
)
_register(
    "GridFarm-2x2-v0",
    _FARM,
    100,
    {"rows": 2, "cols": 2, **_STOCHASTIC},
    optimum=113.5214,
    vector_entry_point=_FARM_VECTOR,
)
_register(
    "GridFarm-2x3-v0",
    _FARM,
    100,
    {"rows": 2, "cols": 3, "obs_mode": "factored", **_STOCHASTIC},
    optimum=126.8893,
    vector_entry_point=_FARM_VECTOR,
)
_register(
    "GridFarm-3x3-v0",
    _FARM,
    200,
    {"rows": 3, "cols": 3, "obs_mode": "grid", **_STOCHASTIC},
    vector_entry_point=_FARM_VECTOR,
)
_register(
    "GridFarm-4x4-v0",
    _FARM,
    300,
    {"rows": 4, "cols": 4, "obs_mode": "grid", **_STOCHASTIC},
    vector_entry_point=_FARM_VECTOR,
)

# --- toy trading ----------------------------------------------------------------------------------
_TRADING = "qgym.envs.trading.market:TradingEnv"
_TRADING_CHAIN = "qgym.envs.trading.chain:ChainTradingEnv"
_TRADING_VECTOR = "qgym.envs.trading.vector:TradingVectorEnv"
_TRADING_CHAIN_VECTOR = "qgym.envs.trading.vector:ChainTradingVectorEnv"
# The Chain rungs are exact (21 price levels x 3 positions, x 2 observed regimes): optima are the best
# expected return over 100 steps from qgym.planning.backward_induction (4 decimals). Costs widen the
# optimal no-trade band: cost 0.5 buys at level <= 8 and sells at >= 12, cost 2.0 at <= 6 and >= 14.
_CHAIN = {"levels": 21, "episode_length": 100}
_register(
    "Trading-Chain-v0",
    _TRADING_CHAIN,
    100,
    {**_CHAIN, "fixed_cost": 0.5},
    optimum=11.3726,
    vector_entry_point=_TRADING_CHAIN_VECTOR,
)
_register(
    "Trading-ChainRegime-v0",
    _TRADING_CHAIN,
    100,
    {**_CHAIN, "fixed_cost": 0.5, "regime_switch": 0.05, "tilt": 0.1},
    optimum=11.1363,
    vector_entry_point=_TRADING_CHAIN_VECTOR,
)
_register(
    "Trading-ChainCostly-v0",
    _TRADING_CHAIN,
    100,
    {**_CHAIN, "fixed_cost": 2.0},
    optimum=4.277,
    vector_entry_point=_TRADING_CHAIN_VECTOR,
)
# The Market rungs trade a fresh synthetic path each reset (10 bps per unit traded); no exact optimum.
# MarketHidden hides the regime and adds jumps: the one to use with your own prices= or csv_path=.
_MARKET = {"episode_length": 250, "proportional_cost": 0.001, "observation": "features"}
_register(
    "Trading-Market-v0",
    _TRADING,
    250,
    {**_MARKET, "observe_regime": True},
    vector_entry_point=_TRADING_VECTOR,
)
_register(
    "Trading-MarketHidden-v0",
    _TRADING,
    250,
    {**_MARKET, "observe_regime": False, "jump_rate": 0.02},
    vector_entry_point=_TRADING_VECTOR,
)
