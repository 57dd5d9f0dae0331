"""Shared by the trading tests: the registered trading IDs and a random episode."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from qgym.envs import qgym_env_ids

TRADING_IDS = [env_id for env_id in qgym_env_ids() if env_id.startswith("qgym/Trading-")]
CHAIN_IDS = [env_id for env_id in TRADING_IDS if "Chain" in env_id]


def random_episode(env: gym.Env[Any, Any], seed: int) -> tuple[float, dict[str, Any], dict[str, Any], int]:
    """Play one episode with random actions: total reward, first and last info, and its length."""
    env.action_space.seed(seed)
    _, first = env.reset(seed=seed)
    total, steps, info = 0.0, 0, first
    while True:
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        total += float(reward)
        steps += 1
        if terminated or truncated:
            return total, first, info, steps
