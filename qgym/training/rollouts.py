"""The one rollout: a policy plays an env, step by step. Evaluation, the heuristic, the optimal policy,
``qgym record`` and ``qgym enjoy`` all play episodes through :func:`run_episode`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from qgym import planning
from qgym.envs.interface import Policy

__all__ = ["OptimalPolicy", "Step", "episode_returns", "model_policy", "run_episode"]


@dataclass(frozen=True)
class Step:
    """One moment of an episode. The first a rollout yields is the reset: no action, reward 0."""

    t: int
    """Steps taken in this episode so far (0 at the reset)."""
    observation: Any
    info: dict[str, Any] = field(default_factory=dict)
    action: int | None = None
    reward: float = 0.0
    episode_return: float = 0.0
    terminated: bool = False
    truncated: bool = False

    @property
    def done(self) -> bool:
        return self.terminated or self.truncated


def run_episode(
    env: gym.Env[Any, Any], policy: Policy, seed: int | None = None, max_steps: int | None = None
) -> Iterator[Step]:
    """Reset ``env`` with ``seed`` and let ``policy(observation, t)`` play until the episode ends (or
    ``max_steps`` steps); yields the reset, then every step."""
    observation, info = env.reset(seed=seed)
    step = Step(0, observation, info)
    yield step
    while not step.done and (max_steps is None or step.t < max_steps):
        action = int(policy(step.observation, step.t))
        observation, reward, terminated, truncated, info = env.step(action)
        total = step.episode_return + float(reward)
        step = Step(step.t + 1, observation, info, action, float(reward), total, terminated, truncated)
        yield step


def episode_returns(
    env: gym.Env[Any, Any],
    policy: Policy,
    n_episodes: int,
    seed: int = 0,
    after_episode: Callable[[int], None] | None = None,
) -> NDArray[np.float64]:
    """The undiscounted return of ``policy`` in each of ``n_episodes`` episodes, episode ``i`` reset with
    seed ``seed + i``: two policies run with the same ``seed`` meet the same episodes.
    ``after_episode(i)`` is called when episode ``i`` has ended, the env still at its last step."""
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be a positive number, got {n_episodes}")
    totals = np.empty(n_episodes, dtype=np.float64)
    for episode in range(n_episodes):
        for step in run_episode(env, policy, seed + episode):
            totals[episode] = step.episode_return
        if after_episode is not None:
            after_episode(episode)
    return totals


def model_policy(model: Any) -> Policy:
    """The greedy policy of an SB3-style model (``predict(observation, deterministic=True)``)."""

    def act(observation: Any, t: int) -> int:
        return int(np.asarray(model.predict(observation, deterministic=True)[0]).reshape(-1)[0])

    return act


class OptimalPolicy:
    """The exact optimal policy over ``horizon`` steps (:func:`qgym.planning.backward_induction`): at
    step ``t`` it takes the best action for the env's current model state and the steps left."""

    def __init__(self, env: gym.Env[Any, Any], horizon: int) -> None:
        self.env = env
        self.model = planning.model_of(env)
        self.solution = planning.backward_induction(self.model, horizon)
        self.optimum = planning.expected_return(self.model, self.solution.values)

    def __call__(self, observation: Any, t: int) -> int:
        return int(self.solution.policy[t, planning.current_state(self.env)])
