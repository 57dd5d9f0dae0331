"""SB3 callbacks that measure learning exactly, with :mod:`qgym.planning`, instead of by sampling."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from qgym import planning

__all__ = ["ExactReturnCallback"]


class ExactReturnCallback(BaseCallback):
    """Every ``every`` steps, the exact expected return of the model's greedy policy.

    The env must have an exact model whose states are its observations (qgym's tabular rungs,
    FrozenLake, Taxi, CliffWalking). ``history`` holds ``(num_timesteps, exact return)`` pairs and each
    value is also recorded in the logger as ``eval/exact_return``.
    """

    def __init__(
        self, env: gym.Env[Any, Any], every: int, horizon: int | None = None, gamma: float = 1.0
    ) -> None:
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be a positive number of steps, got {every}")
        self.mdp = planning.model_of(env)
        self.every, self.horizon, self.gamma = every, horizon, gamma
        self.history: list[tuple[int, float]] = []

    def _on_step(self) -> bool:
        if self.num_timesteps % self.every == 0:
            policy = self.model.predict(np.arange(self.mdp.n_states), deterministic=True)[0]
            value = planning.policy_return(self.mdp, policy, gamma=self.gamma, horizon=self.horizon)
            self.history.append((self.num_timesteps, value))
            self.logger.record("eval/exact_return", value)
        return True
