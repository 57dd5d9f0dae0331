"""How well a model plays: the sampled mean return and, where the env has an exact model, the exact
value of its greedy policy as a share of the exact optimum; elsewhere the env family's heuristic
played on the very same seeded episodes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from qgym import planning
from qgym.envs import known_optimum
from qgym.envs.interface import HasHeuristic, Policy
from qgym.scoring import percent_of_optimum
from qgym.training.envs import encode_observations, horizon_of, keeps_states, single_env, wrap_env, wrapper
from qgym.training.rollouts import episode_returns, model_policy

__all__ = ["MAX_SOLVED_STATES", "Evaluation", "evaluate", "exact_optimum", "exact_return", "heuristic_for"]

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
        sampled = f"{self.n_episodes} episode{'s' if self.n_episodes != 1 else ''}"
        if self.n_episodes > 1:
            sampled = f"standard error {self.standard_error:.2f}, {sampled}"
        exact = "" if self.exact_return is None else f"; the exact expectation is {self.exact_return:.2f}"
        lines = [f"sampled mean return {self.mean_return:.2f} ({sampled}{exact})"]
        percent = self.percent_of_optimum
        if self.exact_return is not None and percent is not None:
            lines.append(
                f"greedy policy: {self.exact_return:.2f} = {percent:.1f}% "
                f"of the exact optimum {self.optimum:.2f}"
            )
        elif percent is not None:
            lines.append(f"sampled mean = {percent:.1f}% of the exact optimum {self.optimum:.2f}")
        else:
            lines.append("no exact optimum is known for this env")
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
) -> Evaluation:
    """Mean return of ``model``'s greedy policy over ``n_episodes`` (episode ``i`` seeded ``seed + i``)
    and, where the env has an exact model whose states are the observations, the exact expected
    return of that policy; where no optimum is known, the env family's heuristic plays the same
    seeded episodes, so the two means differ by policy, not by luck of the draw.

    Returns are the env's own: the reward wrappers of ``env_wrapper`` (``qgym.wrappers.ScaleReward``)
    are left out, since the policy sees the same observations with or without them."""
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be a positive number, got {n_episodes}")
    env = single_env(env_id, wrapper(env_wrapper, own_rewards=True))
    try:
        returns = episode_returns(env, model_policy(model), n_episodes, seed)
    finally:
        env.close()
    optimum = exact_optimum(env_id)  # the env's, whatever the wrappers: the sampled mean is its share
    exact = (
        exact_return(model, env_id, env_wrapper)
        if optimum is not None and keeps_states(env_wrapper)
        else None
    )
    heuristic = _heuristic_on(env_id, returns, seed) if optimum is None else None
    name, theirs, stderr = heuristic if heuristic is not None else (None, None, None)
    return Evaluation(
        env_id, n_episodes, float(returns.mean()), float(returns.std()), exact, optimum, theirs, stderr, name
    )


@functools.cache
def exact_optimum(env_id: str) -> float | None:
    """The exact optimal expected return over the horizon ``env_id`` is judged on, or None when it is not
    known (qgym's optima are registered, as is CartPole's maximum; Gymnasium's toy-text envs are solved)."""
    known = known_optimum(env_id)
    if known is not None or env_id.startswith("qgym/"):
        return known
    env = gym.make(env_id)
    try:
        model = planning.model_of(env)
    except ValueError:
        return None
    finally:
        env.close()
    if model.n_states > MAX_SOLVED_STATES:
        return None
    return planning.expected_return(model, planning.backward_induction(model, horizon_of(env_id)).values)


def exact_return(model: Any, env_id: str, env_wrapper: Any = None) -> float | None:
    """Exact expected return of the model's greedy policy over the judged horizon, when the env has an
    exact model whose states are its observations (as the observation wrappers of ``env_wrapper``
    encode them); else None (CartPole's optimum is known, its model is not: it is judged by sampling)."""
    env = gym.make(env_id)
    try:
        transitions = planning.model_of(env)
    except ValueError:
        env.close()
        return None
    observations = _all_observations(env.observation_space, transitions.n_states)
    if observations is not None and env_wrapper is not None:
        observations = encode_observations(wrap_env(env, env_wrapper, own_rewards=True), observations)
    env.close()
    if observations is None:
        return None
    table = getattr(model, "q_table", None)
    if table is not None and env_wrapper is None and np.shape(table)[0] == transitions.n_states:
        policy = planning.greedy_policy(np.asarray(table))
    else:
        chunks = [
            model.predict(observations[i : i + 65_536], deterministic=True)[0]
            for i in range(0, len(observations), 65_536)
        ]
        policy = np.concatenate(chunks).astype(np.int64).reshape(-1)
    return planning.policy_return(transitions, policy, horizon=horizon_of(env_id))


def heuristic_for(env: gym.Env[Any, Any]) -> Policy:
    """The hand-written policy of the env's family (:class:`qgym.envs.interface.HasHeuristic`)."""
    base = env.unwrapped
    if not isinstance(base, HasHeuristic):
        raise ValueError(
            f"no heuristic for {type(base).__name__}; qgym's farm (grid observations) and market envs "
            "(feature observations) have one"
        )
    return base.heuristic()


def _heuristic_on(env_id: str, returns: np.ndarray, seed: int) -> tuple[str, float, float | None] | None:
    """The heuristic of ``env_id``'s family over the episodes that gave ``returns`` (the same seeds):
    its name, mean return and the standard error of the paired difference; None without one."""
    env = single_env(env_id)
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
