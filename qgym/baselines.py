"""Hand-written heuristic policies: the bar a learned agent must clear where no exact optimum is known.

- farm (``obs_mode="grid"``): work the plot underfoot (plant an empty plot, water a dry crop, harvest a
  ripe or dead one), else walk to the nearest plot that needs work, else wait;
- trading (``observation="features"``): follow the trend: long in a rally and short in a slump when
  the regime is observed, flat while it ranges; else follow the sign of the recent returns' mean.
  (A z-score mean-reversion band was tried first: it loses to holding cash on both market rungs.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from qgym.envs.trading import TradingEnv, TrendFollower

__all__ = ["FarmHeuristic", "TrendFollower", "episode_returns", "heuristic_for", "mean_return"]

Policy = Callable[[Any], int]

# GridFarm actions and crop stages (qgym.envs.farm_rules), repeated to keep this module's imports light.
_NORTH, _SOUTH, _WEST, _EAST, _PLANT, _WATER, _HARVEST, _WAIT = range(8)
_EMPTY, _SEED_DRY, _SEED_WET, _GROWING_DRY, _GROWING_WET, _RIPE, _DEAD = range(7)
_WORK = {_EMPTY: _PLANT, _SEED_DRY: _WATER, _GROWING_DRY: _WATER, _RIPE: _HARVEST, _DEAD: _HARVEST}


class FarmHeuristic:
    """Work the current plot, else walk to the nearest plot needing work, else wait."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        base = env.unwrapped
        if getattr(getattr(base, "config", None), "obs_mode", None) != "grid":
            raise ValueError("FarmHeuristic reads the 'grid' observation of a GridFarm env (obs_mode='grid')")
        self.grid_shape: tuple[int, int, int] = tuple(base.grid_shape)  # type: ignore[attr-defined]

    def __call__(self, observation: Any) -> int:
        """The action for one grid observation."""
        planes = np.asarray(observation).reshape(self.grid_shape)
        crops = planes[:-1].argmax(axis=0)
        row, col = (int(i[0]) for i in np.nonzero(planes[-1]))
        here = int(crops[row, col])
        if here in _WORK:
            return _WORK[here]
        needy = [(r, c) for r, c in np.ndindex(crops.shape) if int(crops[r, c]) in _WORK]
        if not needy:
            return _WAIT
        target_row, target_col = min(needy, key=lambda rc: (abs(rc[0] - row) + abs(rc[1] - col), rc))
        if target_row != row:
            return _SOUTH if target_row > row else _NORTH
        return _EAST if target_col > col else _WEST


def heuristic_for(env: gym.Env[Any, Any]) -> Policy:
    """The heuristic of the env's family (a grid farm or a feature-observed trading env)."""
    name = type(env.unwrapped).__name__
    if name == "GridFarmEnv":
        return FarmHeuristic(env)
    if isinstance(env.unwrapped, TradingEnv):
        return env.unwrapped.heuristic()
    raise ValueError(f"no heuristic for {name}; there are heuristics for GridFarmEnv and TradingEnv")


def episode_returns(env: gym.Env[Any, Any], policy: Policy, n_episodes: int, seed: int = 0) -> np.ndarray:
    """The undiscounted return of ``policy`` in each of ``n_episodes`` episodes of ``env``, episode ``i``
    reset with seed ``seed + i``: two policies run with the same ``seed`` meet the same episodes."""
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be a positive number, got {n_episodes}")
    totals = np.empty(n_episodes, dtype=np.float64)
    for episode in range(n_episodes):
        observation, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            observation, reward, terminated, truncated, _ = env.step(policy(observation))
            total += float(reward)
            done = terminated or truncated
        totals[episode] = total
    return totals


def mean_return(env_id: str, policy: Policy | None = None, n_episodes: int = 50, seed: int = 0) -> float:
    """Mean undiscounted return of ``policy`` (default: the family heuristic) over seeded episodes."""
    env = gym.make(env_id)
    try:
        return float(
            episode_returns(env, heuristic_for(env) if policy is None else policy, n_episodes, seed).mean()
        )
    finally:
        env.close()
