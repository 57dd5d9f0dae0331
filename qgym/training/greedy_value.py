"""The greedy policy of a model valued exactly with the env's model (:mod:`qgym.planning`): its expected
return over the judged horizon, and the probability that it ends an episode (a goal, a hole) before the
time limit. :class:`GreedyValuer` builds the env's model once and values as often as asked (a learning
curve during training); :func:`exact_return` and :func:`finish_probability` value once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from qgym import planning
from qgym.training.envs import encode_observations, horizon_of, single_env, wrap_env

__all__ = ["GreedyValuer", "ending_probability", "exact_return", "finish_probability", "greedy_on_model"]


def exact_return(
    model: Any, env_id: str, env_wrapper: Any = None, env_kwargs: Mapping[str, Any] | None = None
) -> float | None:
    """Exact expected return of the model's greedy policy over the judged horizon, when the env's
    states are its observations (as the observation wrappers of ``env_wrapper`` encode them)."""
    found = greedy_on_model(model, env_id, env_wrapper, env_kwargs)
    if found is None:
        return None
    transitions, policy, horizon = found
    return planning.policy_return(transitions, policy, horizon=horizon)


def finish_probability(
    model: Any, env_id: str, env_wrapper: Any = None, env_kwargs: Mapping[str, Any] | None = None
) -> float | None:
    """The probability that the model's greedy policy ends an episode (a terminal state: a goal, a hole)
    within the judged horizon, exactly; None when it cannot be valued or the env never terminates."""
    found = greedy_on_model(model, env_id, env_wrapper, env_kwargs)
    return None if found is None else ending_probability(*found)


class GreedyValuer:
    """Values a model's greedy policy exactly, as often as asked: the env's model and the observation of
    each of its states are built once. ``ready`` is False when the env's states are not its observations
    (as the observation wrappers of ``env_wrapper`` encode them), and a call then gives None."""

    def __init__(
        self, env_id: str, env_wrapper: Any = None, env_kwargs: Mapping[str, Any] | None = None
    ) -> None:
        kwargs = dict(env_kwargs or {})
        env = single_env(env_id, **kwargs)
        try:
            self.transitions = planning.model_of(env)
            observations = _all_observations(env.observation_space, self.transitions.n_states)
            if observations is not None and env_wrapper is not None:
                observations = encode_observations(wrap_env(env, env_wrapper, own_rewards=True), observations)
        finally:
            env.close()
        self.observations, self.env_wrapper = observations, env_wrapper
        self.horizon = horizon_of(env_id, kwargs)

    @property
    def ready(self) -> bool:
        return self.observations is not None

    def policy(self, model: Any) -> np.ndarray | None:
        """The model's greedy action in every state of the env's model (None when not ready)."""
        if self.observations is None:
            return None
        table = getattr(model, "q_table", None)
        if table is not None and self.env_wrapper is None and np.shape(table)[0] == self.transitions.n_states:
            return planning.greedy_policy(np.asarray(table))
        chunks = [
            model.predict(self.observations[i : i + 65_536], deterministic=True)[0]
            for i in range(0, len(self.observations), 65_536)
        ]
        return np.concatenate(chunks).astype(np.int64).reshape(-1)

    def values(self, policies: Sequence[np.ndarray]) -> list[float]:
        """The exact expected returns of many greedy policies (:meth:`policy`), valued together."""
        if not policies:
            return []
        returns = planning.policy_returns(self.transitions, np.stack(policies), self.horizon)
        return [float(value) for value in returns]

    def __call__(self, model: Any) -> float | None:
        """The exact expected return of the model's greedy policy over the judged horizon."""
        policy = self.policy(model)
        return (
            None if policy is None else planning.policy_return(self.transitions, policy, horizon=self.horizon)
        )


def greedy_on_model(
    model: Any, env_id: str, env_wrapper: Any, env_kwargs: Mapping[str, Any] | None
) -> tuple[planning.TransitionModel, np.ndarray, int] | None:
    """The env's exact model, the model's greedy action in each of its states and the judged horizon,
    when the env's states are its observations; else None."""
    valuer = GreedyValuer(env_id, env_wrapper, env_kwargs)
    policy = valuer.policy(model)
    return None if policy is None else (valuer.transitions, policy, valuer.horizon)


def ending_probability(
    transitions: planning.TransitionModel, policy: np.ndarray, horizon: int
) -> float | None:
    ending = _Termination(transitions)
    if not np.any(ending.ends > 1e-12):
        return None
    return planning.policy_return(ending, policy, horizon=horizon)


class _Termination:
    """The env's model with a reward of 1 for ending the episode and 0 otherwise: a policy's value in it
    is the probability that it ends an episode. Built from the model's own backups, so it works for
    every :class:`qgym.planning.TransitionModel` (``backup(V, 1) - backup(V, 0)`` is ``E[(1 - terminated)
    V(s')]``)."""

    def __init__(self, model: planning.TransitionModel) -> None:
        self.model = model
        states = model.n_states
        self.mean_rewards = model.backup(np.zeros(states), 0.0)
        self.ends = 1.0 - (model.backup(np.ones(states), 1.0) - self.mean_rewards)

    @property
    def n_states(self) -> int:
        return self.model.n_states

    @property
    def n_actions(self) -> int:
        return self.model.n_actions

    @property
    def initial_distribution(self) -> np.ndarray:
        return self.model.initial_distribution

    def backup(self, values: np.ndarray, gamma: float) -> np.ndarray:
        continuing = self.model.backup(values, 1.0) - self.mean_rewards
        result: np.ndarray = self.ends + gamma * continuing
        return result


def _all_observations(space: gym.Space[Any], n_states: int) -> np.ndarray | None:
    """The observation of every model state, in state order (None when states are not observations)."""
    if isinstance(space, gym.spaces.Discrete) and int(space.n) == n_states:
        return np.arange(n_states, dtype=np.int64) + int(space.start)
    if (
        isinstance(space, gym.spaces.MultiDiscrete)
        and space.nvec.ndim == 1
        and int(np.prod(space.nvec)) == n_states
    ):
        return np.stack(np.unravel_index(np.arange(n_states), tuple(space.nvec)), axis=1).astype(np.int64)
    return None
