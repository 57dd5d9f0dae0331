"""How well a model plays: the sampled mean return and, where the env has an exact model, the exact
value of its greedy policy as a share of the exact optimum; elsewhere the env family's heuristic
played on the very same seeded episodes. Beside them, the env family's field figures (a portfolio's,
a farm's; :mod:`qgym.training.field_metrics`), the optimal policy's, and the look-ahead alarm.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from qgym import planning
from qgym.envs import KNOWN_MAXIMA, known_optimum
from qgym.envs.interface import EpisodeChart, FieldReport, HasHeuristic, Policy
from qgym.expectations import return_moments
from qgym.scoring import percent_of_optimum, share_of_optimum
from qgym.training.envs import horizon_of, keeps_states, single_env, wrapper
from qgym.training.field_metrics import (
    LookAheadCheck,
    RecordCollector,
    field_lines,
    look_ahead_check,
    seed_line,
    unseen_prices,
)
from qgym.training.greedy_value import (
    GreedyValuer,
    ending_probability,
    exact_return,
    finish_probability,
    greedy_on_model,
)
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
    "optimal_return_std",
]

MAX_SOLVED_STATES = 1_000_000
"""Gymnasium envs with a toy-text model up to this many states are solved for their optimum."""
MAX_MOMENT_STATES = 100_000
"""The optimal policy's return deviation (the look-ahead alarm's floor) is computed up to this many states."""


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
    first_seed: int | None = None
    """Episode ``i`` was reset with seed ``first_seed + i``."""
    training_seeds: tuple[int, ...] | None = None
    """The seeds the run's training envs started from, where known."""
    metrics: FieldReport | None = None
    """The env family's field figures over the episodes (a portfolio's, a farm's), or None."""
    optimal_metrics: FieldReport | None = None
    """The same figures of the exact optimal policy, where the env has an exact model."""
    optimal_std: float | None = None
    """The standard deviation of the exact optimal policy's return, where computed (the alarm's floor)."""
    notes: tuple[str, ...] = ()
    """What else the reader should know first (which of the user's prices were evaluated on)."""
    finish_probability: float | None = None
    """The probability that the greedy policy ends an episode (a goal, a hole) before the time limit,
    exactly; None where episodes end only at the limit (the farms, the trading chains)."""
    horizon: int | None = None
    """The time limit the episodes were judged over."""
    first_chart: EpisodeChart | None = field(default=None, repr=False, compare=False)
    """The first episode as its field draws it, for a picture."""

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

    @property
    def look_ahead(self) -> LookAheadCheck | None:
        """The sampled mean against the exact optimum (the look-ahead alarm), where there is one."""
        return look_ahead_check(
            self.mean_return, self.std_return, self.n_episodes, self.optimum, self.optimal_std
        )

    def summary(self, field_metrics: bool = True) -> str:
        """Lines a person reads, each saying what its figure is, e.g. ``greedy policy: 112.40 = 99.0% of
        the exact optimum 113.52``; with ``field_metrics`` the family's block of figures after them."""
        sampled = f"{self.n_episodes} episode{'s' if self.n_episodes != 1 else ''} of the greedy policy"
        if self.n_episodes > 1:
            sampled = f"standard error {self.standard_error:.2f}, {sampled}"
        exact = "" if self.exact_return is None else f"; its exact expectation is {self.exact_return:.2f}"
        lines = list(self.notes)
        if self.first_seed is not None:
            lines.append(seed_line(self.first_seed, self.n_episodes, self.training_seeds))
        lines.append(f"sampled mean return {self.mean_return:.2f} ({sampled}{exact})")
        if self.exact_return is not None and self.optimum is not None:
            lines.append(
                "greedy policy (the agent's best action in every state), valued exactly: "
                + share_of_optimum(self.exact_return, self.optimum)
            )
        elif self.optimum is not None:
            why = (
                "the env has no exact model; its optimum is the most an episode can earn"
                if self.env_id in KNOWN_MAXIMA
                else "the env_wrapper changes what a state is"
            )
            lines.append(
                f"sampled mean (not valued exactly: {why}): "
                + share_of_optimum(self.mean_return, self.optimum)
            )
        else:
            lines.append("no exact optimum is known for this env")
        ending = self._ending()
        if ending:
            lines.append(ending)
        check = self.look_ahead
        if check is not None:
            lines += check.lines()
        if self.heuristic_return is not None:
            spread = (
                "" if self.difference_stderr is None else f" (standard error {self.difference_stderr:.2f})"
            )
            lines.append(
                f"heuristic ({self.heuristic_name}) on the same episodes: {self.heuristic_return:.2f}; "
                f"agent minus heuristic: {self.mean_return - self.heuristic_return:+.2f}{spread}"
            )
        if field_metrics and self.metrics is not None:
            lines += field_lines(self.metrics, self.optimal_metrics)
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
            "first_seed": self.first_seed,
            "look_ahead_alarm": None if self.look_ahead is None else self.look_ahead.fires,
            "field_metrics": None if self.metrics is None else self.metrics.as_dict(),
            "optimal_field_metrics": None if self.optimal_metrics is None else self.optimal_metrics.as_dict(),
        }


def evaluate(
    model: Any,
    env_id: str,
    n_episodes: int = 100,
    seed: int = 0,
    env_wrapper: Any = None,
    *,
    env_kwargs: Mapping[str, Any] | None = None,
    split: str | None = None,
    training_seeds: Sequence[int] | None = None,
    field_metrics: bool = True,
) -> Evaluation:
    """Mean return of ``model``'s greedy policy over ``n_episodes`` (episode ``i`` seeded ``seed + i``)
    and, where the env has an exact model whose states are the observations, the exact expected
    return of that policy; where no optimum is known, the env family's heuristic plays the same
    seeded episodes, so the two means differ by policy, not by luck of the draw.

    ``model`` is an SB3-style model (``predict``) or a policy ``policy(observation, step) -> action``.
    ``env_wrapper`` is a preset's (RL Zoo's ``env_wrapper``) or a function wrapping the env (your own
    wrapper: the return is then sampled only). Returns are the env's own: reward wrappers are left out,
    since the policy sees the same observations with or without them. ``env_kwargs`` are the
    arguments the run trained with; the user's own prices trained on ``split="train"`` are evaluated on
    ``split="test"`` unless ``split`` says otherwise. ``training_seeds`` (the seeds training started
    from) lets the summary say whether any evaluation episode could repeat a training one. With
    ``field_metrics`` the env family's figures over the episodes and the exact optimal policy's come too,
    and a mean beyond the optimum by more than chance allows raises the look-ahead alarm."""
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be a positive number, got {n_episodes}")
    kwargs, prices_note = unseen_prices(env_kwargs, split)
    own_wrapper = callable(env_wrapper)
    env = single_env(env_id, env_wrapper if own_wrapper else wrapper(env_wrapper, own_rewards=True), **kwargs)
    collector = RecordCollector(env)
    policy = model if callable(model) and not hasattr(model, "predict") else model_policy(model)
    try:
        returns = episode_returns(env, policy, n_episodes, seed, collector if field_metrics else None)
    finally:
        env.close()
    optimum = exact_optimum(env_id, kwargs)
    valued = (
        optimum is not None and not own_wrapper and keeps_states(env_wrapper) and hasattr(model, "predict")
    )
    found = greedy_on_model(model, env_id, env_wrapper, kwargs) if valued else None
    exact = None if found is None else planning.policy_return(found[0], found[1], horizon=found[2])
    finish = None if found is None else ending_probability(*found)
    heuristic = _heuristic_on(env_id, returns, seed, kwargs) if optimum is None else None
    name, theirs, stderr = heuristic if heuristic is not None else (None, None, None)
    report = collector.report() if field_metrics else None
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
        first_seed=seed,
        training_seeds=None if training_seeds is None else tuple(int(s) for s in training_seeds),
        metrics=report,
        optimal_metrics=collector.optimal(horizon_of(env_id)) if report is not None else None,
        optimal_std=optimal_return_std(env_id) if optimum is not None and not kwargs else None,
        notes=() if prices_note is None else (prices_note,),
        finish_probability=finish,
        horizon=horizon_of(env_id, kwargs),
        first_chart=collector.first_chart,
    )


def exact_optimum(env_id: str, env_kwargs: Mapping[str, Any] | None = None) -> float | None:
    """The exact optimal expected return over the horizon ``env_id`` is judged on, or None when no
    exact model is known (qgym's optima are registered, as is CartPole's maximum; Gymnasium's toy-text
    envs are solved, and so is any env made with ``env_kwargs``, whose model they may change). Solved
    once a process."""
    if not env_kwargs:
        return _registered_optimum(env_id)
    try:
        key = json.dumps(dict(env_kwargs), sort_keys=True)
    except (TypeError, ValueError):  # arguments that are no plain data (a price array): not cached
        return _optimum_with(env_id, env_kwargs)
    return _cached_optimum(env_id, key)


@functools.cache
def _registered_optimum(env_id: str) -> float | None:
    known = known_optimum(env_id)
    if known is not None or env_id.startswith("qgym/"):
        return known
    return _optimum_with(env_id, {})


@functools.cache
def _cached_optimum(env_id: str, kwargs_json: str) -> float | None:
    return _optimum_with(env_id, json.loads(kwargs_json))


@functools.cache
def optimal_return_std(env_id: str) -> float | None:
    """The standard deviation of the exact optimal policy's return over the judged horizon (the
    second-moment recursion of :func:`qgym.expectations.return_moments`), or None without an exact
    model of at most :data:`MAX_MOMENT_STATES` states whose rewards the recursion can read."""
    model = _model_of(env_id, {}, MAX_MOMENT_STATES) if exact_optimum(env_id) is not None else None
    if model is None:
        return None
    horizon = horizon_of(env_id)
    try:
        _, variance = return_moments(model, planning.backward_induction(model, horizon).policy, horizon)
    except ValueError:
        return None
    return math.sqrt(variance)


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
    env_id: str, returns: np.ndarray, seed: int, env_kwargs: Mapping[str, Any] | None = None
) -> tuple[str, float, float | None] | None:
    """The heuristic of ``env_id``'s family over the episodes that gave ``returns`` (the same seeds):
    its name, mean return and the standard error of the paired difference; None without one."""
    env = single_env(env_id, **(env_kwargs or {}))
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


def _optimum_with(env_id: str, env_kwargs: Mapping[str, Any]) -> float | None:
    """The exact optimum of ``env_id`` made with ``env_kwargs`` (its model solved), or None."""
    model = _model_of(env_id, env_kwargs, MAX_SOLVED_STATES)
    if model is None:
        return None
    horizon = horizon_of(env_id, dict(env_kwargs))
    return planning.expected_return(model, planning.backward_induction(model, horizon).values)


def _model_of(env_id: str, env_kwargs: Mapping[str, Any], limit: int) -> planning.TransitionModel | None:
    """The exact model of ``env_id`` made with ``env_kwargs``, or None without one of at most ``limit``
    states."""
    env = single_env(env_id, **env_kwargs)
    try:
        model = planning.model_of(env)
    except ValueError:
        return None
    finally:
        env.close()
    return model if model.n_states <= limit else None
