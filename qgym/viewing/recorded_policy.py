"""What a recording tells of the policy that played it: its action frequencies in the states met
(uniform random elsewhere), an (S, A) policy that :func:`qgym.planning.evaluate_policy` values exactly,
and the lines that say what that value means beside an agent's greedy policy."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from qgym import planning
from qgym.scoring import share_of_optimum

__all__ = ["action_frequencies", "empirical_policy", "recorded_policy_lines", "visit_counts"]


def recorded_policy_lines(
    value: float, optimum: float, states_met: int, greedy_value: float | None = None
) -> list[str]:
    """What the recorded policy's exact value means; with an agent's greedy value, why the two differ."""
    lines = [
        f"the recorded policy (the action frequencies in the {states_met} states these episodes met, "
        f"uniform random in every other state), valued exactly: {share_of_optimum(value, optimum)}"
    ]
    if greedy_value is not None:
        lines.append(
            "the agent's greedy policy (its own choice in every state, as qgym train and eval value it): "
            + share_of_optimum(greedy_value, optimum)
        )
        if abs(greedy_value - value) > 1e-9 * max(1.0, abs(optimum)):
            lines.append(
                "they differ because the recording knows the agent only in the states it met: "
                "elsewhere the recorded policy plays at random"
            )
    return lines


def empirical_policy(dataset: Any, env: gym.Env[Any, Any]) -> NDArray[np.float64]:
    """The person's policy as action frequencies in every model state they met, uniform elsewhere: an
    (S, A) array for :func:`qgym.planning.evaluate_policy`. Needs observations that name the state
    (Discrete, or MultiDiscrete components of it)."""
    return action_frequencies(visit_counts(dataset, env))


def visit_counts(dataset: Any, env: gym.Env[Any, Any]) -> NDArray[np.float64]:
    """How often each action was taken in each model state, (S, A)."""
    model = planning.model_of(env)
    counts = np.zeros((model.n_states, model.n_actions))
    for episode in dataset.iterate_episodes():
        states = _states(np.asarray(episode.observations)[:-1], env.observation_space, model.n_states)
        np.add.at(counts, (states, np.asarray(episode.actions, dtype=np.int64)), 1.0)
    return counts


def action_frequencies(counts: NDArray[np.float64]) -> NDArray[np.float64]:
    """Action frequencies in the states met, uniform in the others."""
    seen = counts.sum(axis=1, keepdims=True)
    uniform = np.full_like(counts, 1.0 / counts.shape[1])
    policy: NDArray[np.float64] = np.where(seen > 0, counts / np.maximum(seen, 1.0), uniform)
    return policy


def _states(observations: NDArray[Any], space: gym.Space[Any], n_states: int) -> NDArray[np.int64]:
    if isinstance(space, gym.spaces.Discrete) and int(space.n) == n_states:
        states: NDArray[np.int64] = observations.astype(np.int64).reshape(-1) - int(space.start)
        return states
    if isinstance(space, gym.spaces.MultiDiscrete) and int(np.prod(space.nvec)) == n_states:
        components = tuple(observations.T.astype(np.int64))
        raveled: NDArray[np.int64] = np.asarray(np.ravel_multi_index(components, tuple(space.nvec)), np.int64)
        return raveled
    raise ValueError(
        "the observations do not name the model's states, so there is no empirical policy to value"
    )
