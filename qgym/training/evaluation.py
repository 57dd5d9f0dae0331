"""How well a model plays: the sampled mean return and, where the env has an exact model, the exact
value of its greedy policy as a share of the exact optimum; elsewhere the env family's heuristic
played on the very same seeded episodes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from qgym import planning
from qgym.envs import known_optimum
from qgym.envs.interface import HasHeuristic, Policy
from qgym.scoring import percent_of_optimum, share_of_optimum
from qgym.training.envs import encode_observations, horizon_of, keeps_states, single_env, wrap_env, wrapper
from qgym.training.rollouts import episode_returns, model_policy

__all__ = [
    "MAX_SOLVED_STATES",
    "Evaluation",
    "GreedyValuer",
    "evaluate",
    "exact_optimum",
    "exact_return",
    "finish_probability",
    "heuristic_for",
]

MAX_SOLVED_STATES = 1_000_000
"""Gymnasium envs with a toy-text model up to this many states are solved for their optimum."""


@dataclass(frozen=True)
class Evaluation:
    """How well a model plays ``env_id``: sampled mean and, where exact, share of the optimum."""

    env_id: str
    n_episodes: int
    mean_return: float
    std_return: float
    exact_return: float | None = None
    optimum: float | None = None
    heuristic_return: float | None = None
    difference_stderr: float | None = None
    heuristic_name: str | None = None
    finish_probability: float | None = None
    """The probability that the greedy policy ends an episode (a goal, a hole) before the time limit,
    exactly; None where episodes end only at the limit (the farms, the trading chains)."""
    horizon: int | None = None

    @property
    def percent_of_optimum(self) -> float | None:
        """The greedy policy's exact return (else the sampled mean) as % of the exact optimum."""
        if self.optimum is None:
            return None
        value = self.exact_return if self.exact_return is not None else self.mean_return
        return percent_of_optimum(value, self.optimum)

    @property
    def standard_error(self) -> float:
        """Standard error of the sampled mean (0 for one episode)."""
        return float(self.std_return / max(1, self.n_episodes) ** 0.5)

    def summary(self) -> str:
        """Lines a person reads, each saying what its figure is, e.g. ``greedy policy: 112.40 = 99.0% of
        the exact optimum 113.52``."""
        sampled = f"{self.n_episodes} episode{'s' if self.n_episodes != 1 else ''} of the greedy policy"
        if self.n_episodes > 1:
            sampled = f"standard error {self.standard_error:.2f}, {sampled}"
        exact = "" if self.exact_return is None else f"; its exact expectation is {self.exact_return:.2f}"
        lines = [f"sampled mean return {self.mean_return:.2f} ({sampled}{exact})"]
        if self.exact_return is not None and self.optimum is not None:
            lines.append(
                "greedy policy (the agent's best action in every state), valued exactly: "
                + share_of_optimum(self.exact_return, self.optimum)
            )
        elif self.optimum is not None:
            lines.append(
                "sampled mean (not valued exactly: the env_wrapper changes what a state is): "
                + share_of_optimum(self.mean_return, self.optimum)
            )
        else:
            lines.append("no exact optimum is known for this env")
        ending = self._ending()
        if ending:
            lines.append(ending)
        if self.optimum is not None and self.mean_return > self.optimum and self.standard_error > 0:
            lines.append(
                f"(the sampled mean beats the optimum by luck of the draw, "
                f"{(self.mean_return - self.optimum) / self.standard_error:.1f} standard errors: "
                f"the optimum is an expectation, a mean of {self.n_episodes} episodes scatters around it)"
            )
        if self.heuristic_return is not None:
            spread = (
                "" if self.difference_stderr is None else f" (standard error {self.difference_stderr:.2f})"
            )
            lines.append(
                f"heuristic ({self.heuristic_name}) on the same episodes: {self.heuristic_return:.2f}; "
                f"agent minus heuristic: {self.mean_return - self.heuristic_return:+.2f}{spread}"
            )
        return "\n".join(lines)

    def _ending(self) -> str:
        """A line when the greedy policy often runs to the time limit instead of ending an episode."""
        chance, limit = self.finish_probability, self.horizon
        if chance is None or limit is None or chance >= 0.99:
            return ""
        if chance < 0.005:
            return (
                f"the greedy policy never ends an episode (no goal, no hole) within the {limit:,}-step "
                "limit: it goes round in circles or into a wall, and its return is what the whole limit "
                "costs"
            )
        if self.optimum is not None and self.optimum < 0:
            return (
                f"the greedy policy ends an episode within the {limit:,}-step limit with probability "
                f"{chance:.2f}; the other episodes pay every step up to the limit"
            )
        return ""

    def as_dict(self) -> dict[str, Any]:
        """Plain values for YAML."""
        return {
            "env_id": self.env_id,
            "n_episodes": self.n_episodes,
            "mean_return": self.mean_return,
            "std_return": self.std_return,
            "exact_return": self.exact_return,
            "optimum": self.optimum,
            "percent_of_optimum": self.percent_of_optimum,
            "heuristic_return": self.heuristic_return,
            "difference_stderr": self.difference_stderr,
        }


def evaluate(
    model: Any,
    env_id: str,
    n_episodes: int = 100,
    seed: int = 0,
    env_wrapper: Any = None,
    env_kwargs: dict[str, Any] | None = None,
) -> Evaluation:
    """Mean return of ``model``'s greedy policy over ``n_episodes`` (episode ``i`` seeded ``seed + i``)
    and, where the env has an exact model whose states are the observations, the exact expected
    return of that policy; where no optimum is known, the env family's heuristic plays the same
    seeded episodes, so the two means differ by policy, not by luck of the draw.

    Returns are the env's own: the reward wrappers of ``env_wrapper`` (``qgym.wrappers.ScaleReward``)
    are left out, since the policy sees the same observations with or without them. ``env_kwargs`` go
    to ``gym.make`` (the optimum is then the one of the env they make)."""
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be a positive number, got {n_episodes}")
    kwargs = dict(env_kwargs or {})
    env = single_env(env_id, wrapper(env_wrapper, own_rewards=True), **kwargs)
    try:
        returns = episode_returns(env, model_policy(model), n_episodes, seed)
    finally:
        env.close()
    optimum = exact_optimum(env_id, kwargs)  # the env's, whatever the wrappers: the sampled mean is its share
    found = (
        _greedy_on_model(model, env_id, env_wrapper, kwargs)
        if optimum is not None and keeps_states(env_wrapper)
        else None
    )
    exact = None if found is None else planning.policy_return(found[0], found[1], horizon=found[2])
    heuristic = _heuristic_on(env_id, returns, seed, kwargs) if optimum is None else None
    name, theirs, stderr = heuristic if heuristic is not None else (None, None, None)
    finish = None if found is None else _finish_probability(*found)
    return Evaluation(
        env_id,
        n_episodes,
        float(returns.mean()),
        float(returns.std()),
        exact,
        optimum,
        theirs,
        stderr,
        name,
        finish,
        horizon_of(env_id, kwargs),
    )


def exact_optimum(env_id: str, env_kwargs: dict[str, Any] | None = None) -> float | None:
    """The exact optimal expected return over the horizon ``env_id`` is judged on, or None when no
    exact model is known (qgym's optima are registered; Gymnasium's toy-text envs are solved, and so is
    any env made with ``env_kwargs``, whose model they may change). Solved once a process."""
    if not env_kwargs:
        return _exact_optimum(env_id, "{}")
    try:
        key = json.dumps(env_kwargs, sort_keys=True)
    except (TypeError, ValueError):  # arguments that are no plain data (a price array): not cached
        return _solve(env_id, dict(env_kwargs))
    return _exact_optimum(env_id, key)


@functools.cache
def _exact_optimum(env_id: str, kwargs_json: str) -> float | None:
    kwargs = json.loads(kwargs_json)
    known = None if kwargs else known_optimum(env_id)
    if known is not None or (env_id.startswith("qgym/") and not kwargs):
        return known
    return _solve(env_id, kwargs)


def _solve(env_id: str, kwargs: dict[str, Any]) -> float | None:
    env = single_env(env_id, **kwargs)
    try:
        model = planning.model_of(env)
    except ValueError:
        return None
    finally:
        env.close()
    if model.n_states > MAX_SOLVED_STATES:
        return None
    horizon = horizon_of(env_id, kwargs)
    return planning.expected_return(model, planning.backward_induction(model, horizon).values)


def exact_return(
    model: Any, env_id: str, env_wrapper: Any = None, env_kwargs: dict[str, Any] | None = None
) -> float | None:
    """Exact expected return of the model's greedy policy over the judged horizon, when the env's
    states are its observations (as the observation wrappers of ``env_wrapper`` encode them)."""
    found = _greedy_on_model(model, env_id, env_wrapper, env_kwargs)
    if found is None:
        return None
    transitions, policy, horizon = found
    return planning.policy_return(transitions, policy, horizon=horizon)


def finish_probability(
    model: Any, env_id: str, env_wrapper: Any = None, env_kwargs: dict[str, Any] | None = None
) -> float | None:
    """The probability that the model's greedy policy ends an episode (a terminal state: a goal, a hole)
    within the judged horizon, exactly; None when it cannot be valued or the env never terminates."""
    found = _greedy_on_model(model, env_id, env_wrapper, env_kwargs)
    return None if found is None else _finish_probability(*found)


def _finish_probability(
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


class GreedyValuer:
    """Values a model's greedy policy exactly, as often as asked: the env's model and the observation of
    each of its states are built once. ``ready`` is False when the env's states are not its observations
    (as the observation wrappers of ``env_wrapper`` encode them), and a call then gives None."""

    def __init__(
        self, env_id: str, env_wrapper: Any = None, env_kwargs: dict[str, Any] | None = None
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


def _greedy_on_model(
    model: Any, env_id: str, env_wrapper: Any, env_kwargs: dict[str, Any] | None
) -> tuple[planning.TransitionModel, np.ndarray, int] | None:
    """The env's exact model, the model's greedy action in each of its states and the judged horizon,
    when the env's states are its observations; else None."""
    valuer = GreedyValuer(env_id, env_wrapper, env_kwargs)
    policy = valuer.policy(model)
    return None if policy is None else (valuer.transitions, policy, valuer.horizon)


def heuristic_for(env: gym.Env[Any, Any]) -> Policy:
    """The hand-written policy of the env's family (:class:`qgym.envs.interface.HasHeuristic`)."""
    base = env.unwrapped
    if not isinstance(base, HasHeuristic):
        raise ValueError(
            f"no heuristic for {type(base).__name__}; qgym's farm (grid observations) and market envs "
            "(feature observations) have one"
        )
    return base.heuristic()


def _heuristic_on(
    env_id: str, returns: np.ndarray, seed: int, env_kwargs: dict[str, Any]
) -> tuple[str, float, float | None] | None:
    """The heuristic of ``env_id``'s family over the episodes that gave ``returns`` (the same seeds):
    its name, mean return and the standard error of the paired difference; None without one."""
    env = single_env(env_id, **env_kwargs)
    try:
        try:
            heuristic = heuristic_for(env)
        except ValueError:
            return None
        theirs = episode_returns(env, heuristic, len(returns), seed)
    finally:
        env.close()
    difference = returns - theirs
    stderr = float(difference.std(ddof=1) / np.sqrt(len(difference))) if len(difference) > 1 else None
    return type(heuristic).__name__, float(theirs.mean()), stderr


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
