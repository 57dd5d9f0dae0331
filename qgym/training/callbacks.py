"""SB3 callbacks that measure learning exactly, with :mod:`qgym.planning`, instead of by sampling, and
report it as it happens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from qgym import planning
from qgym.scoring import percent_of_optimum

__all__ = ["EvaluationReport", "ExactReturnCallback"]


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


class EvaluationReport(BaseCallback):
    """After each evaluation of SB3's ``EvalCallback`` (its ``callback_after_eval``), one line: the step,
    the sampled mean with its standard error and, where the env has an exact model, the exact value of
    the greedy policy as a share of the optimum."""

    def __init__(
        self, report: Callable[[str], None], exact: Callable[[Any], float | None], optimum: float | None
    ):
        super().__init__()
        self.report, self.exact, self.optimum = report, exact, optimum

    def _on_step(self) -> bool:
        evaluation: Any = self.parent  # an EvalCallback: this runs as its callback_after_eval
        returns = np.asarray(evaluation.evaluations_results[-1], dtype=np.float64)
        stderr = returns.std(ddof=1) / np.sqrt(len(returns)) if len(returns) > 1 else 0.0
        line = (
            f"step {self.num_timesteps:,}: mean return {returns.mean():.2f} "
            f"(standard error {stderr:.2f}, {len(returns)} episodes)"
        )
        value = self.exact(self.model) if self.optimum is not None else None
        percent = None if value is None or self.optimum is None else percent_of_optimum(value, self.optimum)
        if percent is not None:
            line += f"; greedy policy {value:.2f} = {percent:.1f}% of the exact optimum"
        self.report(line)
        return True
