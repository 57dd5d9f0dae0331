"""SB3 callbacks that measure learning exactly, with :mod:`qgym.planning`, instead of by sampling, and
report it as it happens."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from qgym import planning
from qgym.files import write_atomically
from qgym.scoring import percent_of_optimum
from qgym.training.evaluation import GreedyValuer

__all__ = ["EXACT_CURVE", "EXACT_POINTS", "EvaluationReport", "ExactCurve", "ExactReturnCallback"]

EXACT_CURVE = "exact_returns.csv"
"""The file of a run folder that holds its greedy policy's exact value over training."""
EXACT_POINTS = 20
"""Times the greedy policy is valued over a run (and once before the first step), as often as
``qgym train --seeds`` values each seed's."""


class ExactReturnCallback(BaseCallback):
    """Every ``eval_freq`` steps, the exact expected return of the model's greedy policy.

    The env must have an exact model whose states are its observations (qgym's tabular rungs,
    FrozenLake, Taxi, CliffWalking). ``history`` holds ``(num_timesteps, exact return)`` pairs and each
    value is also recorded in the logger as ``eval/exact_return``.
    """

    def __init__(
        self, env: gym.Env[Any, Any], eval_freq: int, horizon: int | None = None, gamma: float = 1.0
    ) -> None:
        super().__init__()
        if eval_freq < 1:
            raise ValueError(f"eval_freq must be a positive number of steps, got {eval_freq}")
        self.mdp = planning.model_of(env)
        self.eval_freq, self.horizon, self.gamma = eval_freq, horizon, gamma
        self.history: list[tuple[int, float]] = []

    def _on_step(self) -> bool:
        if self.num_timesteps % self.eval_freq == 0:
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


class ExactCurve(BaseCallback):
    """The greedy policy's exact expected return over training (:class:`GreedyValuer`): its greedy
    policy is kept before the first step, every ``eval_freq`` steps and at the end, and :meth:`save` values
    them all at once (one batched policy evaluation) and writes ``path`` (CSV columns ``step`` and
    ``greedy_exact_return``). The env's model is built once."""

    def __init__(self, valuer: GreedyValuer, eval_freq: int, path: str | Path) -> None:
        super().__init__()
        if eval_freq < 1:
            raise ValueError(f"eval_freq must be a positive number of steps, got {eval_freq}")
        self.valuer, self.eval_freq, self.path = valuer, eval_freq, Path(path)
        self.steps: list[int] = []
        self.policies: list[np.ndarray] = []
        self._next = 0

    @classmethod
    def for_run(
        cls, env_id: str, env_wrapper: Any, env_kwargs: dict[str, Any] | None, steps: int, folder: Path
    ) -> ExactCurve | None:
        """The curve of a run of ``steps`` steps written in ``folder``, or None when the env's states are
        not its observations (no exact value)."""
        try:
            valuer = GreedyValuer(env_id, env_wrapper, env_kwargs)
        except ValueError:  # no exact model
            return None
        return cls(valuer, max(1, steps // EXACT_POINTS), folder / EXACT_CURVE) if valuer.ready else None

    def points(self) -> list[tuple[int, float]]:
        """(step, exact return) of every greedy policy kept so far."""
        return list(zip(self.steps, self.valuer.values(self.policies), strict=True))

    def save(self) -> None:
        """Value the kept policies and write the CSV (atomically); a run stopped early saves its part."""
        if not self.steps:
            return
        rows = "".join(f"{step},{value!r}\n" for step, value in self.points())
        write_atomically(self.path, ("step,greedy_exact_return\n" + rows).encode("utf-8"))

    def _on_training_start(self) -> None:
        self._keep()
        self._next = self.num_timesteps + self.eval_freq

    def _on_step(self) -> bool:
        if self.num_timesteps >= self._next:
            self._keep()
            while self._next <= self.num_timesteps:
                self._next += self.eval_freq
        return True

    def _on_training_end(self) -> None:
        if not self.steps or self.steps[-1] != self.num_timesteps:
            self._keep()

    def _keep(self) -> None:
        policy = self.valuer.policy(self.model)
        if policy is not None:
            self.steps.append(int(self.model.num_timesteps))
            self.policies.append(policy)
