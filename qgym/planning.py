"""Exact planning over a known transition model: optimal values, optimal policies, value of any policy.

Works on any env that exposes Gymnasium's toy-text model ``P[s][a] = [(prob, next_state, reward,
terminated), ...]`` (FrozenLake, Taxi, CliffWalking, the small qgym rungs) and on any object that
follows :class:`TransitionModel` (the grid farm's factored model, exact for fields too large for a dict).

>>> import gymnasium as gym
>>> from qgym import planning
>>> model = planning.model_of(gym.make("CliffWalking-v1"))
>>> round(planning.expected_return(model, planning.value_iteration(model, gamma=1.0).values), 6)
-13.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "KEEP_ALL_VALUES",
    "FiniteHorizonSolution",
    "OptimalValues",
    "Solution",
    "TabularModel",
    "TransitionModel",
    "backward_induction",
    "current_state",
    "evaluate_policy",
    "expected_return",
    "greedy_policy",
    "model_of",
    "policy_return",
    "policy_returns",
    "value_iteration",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@runtime_checkable
class TransitionModel(Protocol):
    """What the planners need: sizes, a start distribution and a one-step Bellman backup."""

    @property
    def n_states(self) -> int: ...

    @property
    def n_actions(self) -> int: ...

    @property
    def initial_distribution(self) -> FloatArray: ...

    def backup(self, values: FloatArray, gamma: float) -> FloatArray:
        """Return ``Q[s, a] = E[r + gamma * (1 - terminated) * values[s'] | s, a]``, shape (S, A)."""
        ...


@dataclass(frozen=True)
class TabularModel:
    """A transition model as padded arrays: outcome ``k`` of ``(s, a)`` has ``probs[s, a, k]``, etc."""

    next_states: IntArray
    probs: FloatArray
    rewards: FloatArray
    terminated: NDArray[np.bool_]
    initial_distribution: FloatArray

    def __post_init__(self) -> None:
        shape = self.probs.shape
        if len(shape) != 3:
            raise ValueError(f"probs must have shape (n_states, n_actions, n_outcomes), got {shape}")
        for name in ("next_states", "rewards", "terminated"):
            if getattr(self, name).shape != shape:
                raise ValueError(
                    f"{name} must have the shape of probs {shape}, got {getattr(self, name).shape}"
                )
        if not np.allclose(self.probs.sum(axis=2), 1.0, atol=1e-9):
            raise ValueError("probs must sum to 1 over the outcomes of every (state, action)")
        if self.initial_distribution.shape != (shape[0],):
            raise ValueError(f"initial_distribution must have shape ({shape[0]},)")

    @property
    def n_states(self) -> int:
        return int(self.probs.shape[0])

    @property
    def n_actions(self) -> int:
        return int(self.probs.shape[1])

    def backup(self, values: FloatArray, gamma: float) -> FloatArray:
        continuation = np.where(self.terminated, 0.0, values[self.next_states])
        q: FloatArray = np.einsum("sak,sak->sa", self.probs, self.rewards + gamma * continuation)
        return q

    def outcomes(self, state: int, action: int) -> list[tuple[float, int, float, bool]]:
        """The toy-text row ``P[state][action]``: ``(prob, next_state, reward, terminated)`` tuples."""
        return [
            (float(p), int(s_next), float(r), bool(done))
            for p, s_next, r, done in zip(
                self.probs[state, action],
                self.next_states[state, action],
                self.rewards[state, action],
                self.terminated[state, action],
                strict=True,
            )
            if p > 0
        ]

    @classmethod
    def from_toy_text(
        cls,
        transitions: Mapping[int, Mapping[int, Sequence[tuple[float, int, float, bool]]]],
        initial_distribution: ArrayLike,
    ) -> TabularModel:
        """Build from a toy-text ``P[s][a] = [(prob, next_state, reward, terminated), ...]``."""
        n_states = len(transitions)
        n_actions = len(transitions[0])
        width = max(len(outcomes) for row in transitions.values() for outcomes in row.values())
        next_states = np.zeros((n_states, n_actions, width), dtype=np.int64)
        probs = np.zeros((n_states, n_actions, width))
        rewards = np.zeros((n_states, n_actions, width))
        terminated = np.zeros((n_states, n_actions, width), dtype=bool)
        for s in range(n_states):
            for a in range(n_actions):
                for k, (p, s_next, r, done) in enumerate(transitions[s][a]):
                    next_states[s, a, k] = s_next
                    probs[s, a, k] = p
                    rewards[s, a, k] = r
                    terminated[s, a, k] = done
        isd = np.asarray(initial_distribution, dtype=np.float64)
        return cls(next_states, probs, rewards, terminated, isd)


@dataclass(frozen=True)
class Solution:
    """Result of discounted value iteration: ``q`` (S, A), ``values`` (S,), greedy ``policy`` (S,)."""

    q: FloatArray
    values: FloatArray
    policy: IntArray
    gamma: float
    iterations: int


@dataclass(frozen=True)
class FiniteHorizonSolution:
    """Result of backward induction: values and Q at the first step, optimal action per (step, state)."""

    q: FloatArray
    values: FloatArray
    policy: NDArray[np.integer[Any]]
    horizon: int


def model_of(env: Any) -> TransitionModel:
    """Return the exact transition model of ``env`` (a qgym env or a Gymnasium toy-text env)."""
    base = getattr(env, "unwrapped", env)
    if hasattr(base, "transition_model"):
        model = base.transition_model()
        if not isinstance(model, TransitionModel):
            raise TypeError(f"{type(base).__name__}.transition_model() did not return a TransitionModel")
        return model
    transitions = getattr(base, "P", None)
    isd = getattr(base, "initial_state_distrib", None)
    if transitions is None or isd is None:
        raise ValueError(
            f"env {type(base).__name__} exposes no transition model: it needs a transition_model() "
            "method or toy-text attributes P and initial_state_distrib"
        )
    return TabularModel.from_toy_text(transitions, isd)


def current_state(env: Any) -> int:
    """Index of the env's current state in its model (``state_index`` of qgym envs, ``s`` of toy-text)."""
    base = getattr(env, "unwrapped", env)
    for name in ("state_index", "s"):
        if hasattr(base, name):
            return int(getattr(base, name))
    raise ValueError(f"env {type(base).__name__} does not expose its state index (state_index or s)")


def value_iteration(
    model: TransitionModel, gamma: float = 0.99, tol: float = 1e-10, max_iterations: int = 1_000_000
) -> Solution:
    """Optimal discounted values and a greedy optimal policy, to ``tol`` in the sup norm.

    ``gamma=1`` is allowed for models where every policy worth following terminates (e.g. Taxi,
    CliffWalking); if values do not settle within ``max_iterations`` a ``RuntimeError`` says so.
    """
    _check_gamma(gamma)
    values = np.zeros(model.n_states)
    for iteration in range(1, max_iterations + 1):
        q = model.backup(values, gamma)
        new_values = q.max(axis=1)
        delta = float(np.max(np.abs(new_values - values))) if values.size else 0.0
        values = new_values
        if delta <= tol:
            q = model.backup(values, gamma)
            return Solution(q, q.max(axis=1), greedy_policy(q), gamma, iteration)
    raise RuntimeError(f"value iteration did not converge within max_iterations={max_iterations}")


def backward_induction(model: TransitionModel, horizon: int, gamma: float = 1.0) -> FiniteHorizonSolution:
    """Optimal expected return over ``horizon`` steps (time-dependent optimal policy)."""
    if horizon < 1:
        raise ValueError(f"horizon must be a positive number of steps, got {horizon}")
    _check_gamma(gamma)
    dtype = np.int8 if model.n_actions <= 127 else np.int64
    policy = np.empty((horizon, model.n_states), dtype=dtype)
    values = np.zeros(model.n_states)
    q = np.zeros((model.n_states, model.n_actions))
    for step in reversed(range(horizon)):
        q = model.backup(values, gamma)
        policy[step] = greedy_policy(q)
        values = q.max(axis=1)
    return FiniteHorizonSolution(q, values, policy, horizon)


KEEP_ALL_VALUES = 10_000_000
""":class:`OptimalValues` keeps every step's values up to this many floats (80 MB); above, checkpoints."""


class OptimalValues:
    """The optimal values ``V*_t`` of every step ``t = 0 .. horizon`` of a finite-horizon problem, and
    ``Q*_t(s, .)`` of any state: what grading a move (:mod:`qgym.scoring`) and an optimal hint need.

    ``V*_t`` is the best expected return with ``horizon - t`` steps left (``V*_horizon = 0``). Keeping
    every step takes ``(horizon + 1) x n_states`` floats: 565 MB for the 2x3 farm's 100-step season.
    Up to :data:`KEEP_ALL_VALUES` floats every step is kept; above, only every ``k``-th step
    (``k = ceil(sqrt(horizon))``) is, and the steps between two kept ones are recomputed from the one
    above when first asked and kept until another block is asked: about ``2 sqrt(horizon)`` value
    tables in memory, and a walk forwards through the season (a game, a graded episode) recomputes each
    block once, one more backward induction in all.
    """

    def __init__(
        self, model: TransitionModel, horizon: int, gamma: float = 1.0, keep_all: int = KEEP_ALL_VALUES
    ) -> None:
        if horizon < 1:
            raise ValueError(f"horizon must be a positive number of steps, got {horizon}")
        _check_gamma(gamma)
        self.model = model
        self.horizon = horizon
        self.gamma = gamma
        self.keep_every = 1 if (horizon + 1) * model.n_states <= keep_all else math.isqrt(horizon - 1) + 1
        values = np.zeros(model.n_states)
        self._kept: dict[int, FloatArray] = {horizon: values}
        for step in reversed(range(horizon)):
            values = model.backup(values, gamma).max(axis=1)
            if step % self.keep_every == 0:
                self._kept[step] = values
        self._block: dict[int, FloatArray] = {}
        self._q: tuple[int, FloatArray] | None = None

    @property
    def tables_held(self) -> int:
        """How many value tables (one per step, ``n_states`` floats each) are in memory now."""
        return len(self._kept) + len(self._block)

    @property
    def optimum(self) -> float:
        """The optimal expected return from the start distribution (:func:`expected_return` of ``V*_0``)."""
        return expected_return(self.model, self.values(0))

    def values(self, step: int) -> FloatArray:
        """``V*_step`` for every state (read-only: the array is shared)."""
        if not 0 <= step <= self.horizon:
            raise ValueError(f"step must be in [0, {self.horizon}], got {step}")
        if step in self._kept:
            return self._kept[step]
        if step not in self._block:
            base = step - step % self.keep_every
            top = min(base + self.keep_every, self.horizon)
            values, block = self._kept[top], {}
            for earlier in reversed(range(base + 1, top)):
                values = self.model.backup(values, self.gamma).max(axis=1)
                block[earlier] = values
            self._block = block
        return self._block[step]

    def q(self, step: int, state: int) -> FloatArray:
        """``Q*_step(state, a)`` for every action: the best expected return from ``state`` at ``step``
        after taking ``a`` (a fresh array)."""
        if not 0 <= step < self.horizon:
            raise ValueError(
                f"step must be in [0, {self.horizon - 1}] (a move comes before the end), got {step}"
            )
        if not 0 <= state < self.model.n_states:
            raise ValueError(f"state must be in [0, {self.model.n_states - 1}], got {state}")
        if self._q is None or self._q[0] != step:
            self._q = (step, self.model.backup(self.values(step + 1), self.gamma))
        return np.array(self._q[1][state], dtype=np.float64)


def evaluate_policy(
    model: TransitionModel,
    policy: ArrayLike,
    gamma: float = 1.0,
    horizon: int | None = None,
    tol: float = 1e-12,
    max_iterations: int = 1_000_000,
) -> FloatArray:
    """Exact value of a stationary policy in every state.

    ``policy`` is either an action per state, shape (S,), or action probabilities, shape (S, A).
    With ``horizon`` the value is the expected (discounted) return over that many steps; without it,
    the infinite-horizon value, which needs ``gamma < 1`` or a policy that terminates.
    """
    _check_gamma(gamma)
    weights = _policy_weights(model, policy)
    values = np.zeros(model.n_states)
    if horizon is not None:
        if horizon < 0:
            raise ValueError(f"horizon must be None or a non-negative number of steps, got {horizon}")
        for _ in range(horizon):
            values = np.einsum("sa,sa->s", weights, model.backup(values, gamma))
        return values
    for _ in range(max_iterations):
        new_values: FloatArray = np.einsum("sa,sa->s", weights, model.backup(values, gamma))
        delta = float(np.max(np.abs(new_values - values))) if values.size else 0.0
        values = new_values
        if delta <= tol * max(1.0, float(np.max(np.abs(values)))):
            return values
    raise RuntimeError(
        f"policy evaluation did not converge within max_iterations={max_iterations}: with gamma=1 "
        "the policy must terminate; pass horizon=... or gamma<1"
    )


def policy_return(
    model: TransitionModel, policy: ArrayLike, gamma: float = 1.0, horizon: int | None = None
) -> float:
    """Exact expected return of ``policy`` from the start distribution (see :func:`evaluate_policy`)."""
    return expected_return(model, evaluate_policy(model, policy, gamma=gamma, horizon=horizon))


def policy_returns(
    model: TransitionModel, policies: ArrayLike, horizon: int, gamma: float = 1.0
) -> FloatArray:
    """Exact expected returns of many deterministic policies, (K, S) actions -> (K,): all at once for a
    :class:`TabularModel`, else one :func:`policy_return` each."""
    pi = np.asarray(policies, dtype=np.int64)
    if not isinstance(model, TabularModel) or pi.ndim != 2:
        return np.array([policy_return(model, row, gamma, horizon) for row in pi.reshape(-1, model.n_states)])
    if pi.shape[1] != model.n_states or pi.min(initial=0) < 0 or pi.max(initial=0) >= model.n_actions:
        raise ValueError(f"policies must be (K, {model.n_states}) actions in [0, {model.n_actions - 1}]")
    n_policies, n_states = pi.shape
    rows = np.arange(n_states)
    probs, nexts = model.probs[rows, pi], model.next_states[rows, pi]  # (K, S, outcomes)
    live, means = ~model.terminated[rows, pi], (probs * model.rewards[rows, pi]).sum(axis=2)
    # The K value rows side by side in one flat array, each with a last entry that stays 0: an outcome
    # that ends the episode reads it, so one gather gives every next value (0 after the end).
    starts = (n_states + 1) * np.arange(n_policies)[:, None, None]
    flat, values = np.where(live, nexts + starts, starts + n_states), np.zeros((n_policies, n_states + 1))
    current, stored = values[:, :n_states], values.reshape(-1)
    for _ in range(horizon):
        ahead = (probs * stored[flat]).sum(axis=2)
        current[...] = means + (ahead if gamma == 1.0 else gamma * ahead)
    return np.asarray(np.ascontiguousarray(current) @ model.initial_distribution)


def expected_return(model: TransitionModel, values: ArrayLike) -> float:
    """Expected value under the model's start distribution."""
    return float(np.dot(model.initial_distribution, np.asarray(values, dtype=np.float64)))


def greedy_policy(q: FloatArray) -> IntArray:
    """Greedy action per state; ties go to the lowest action index (deterministic)."""
    return np.asarray(np.argmax(q, axis=-1), dtype=np.int64)


def _policy_weights(model: TransitionModel, policy: ArrayLike) -> FloatArray:
    pi = np.asarray(policy)
    n_states, n_actions = model.n_states, model.n_actions
    if pi.shape == (n_states,):
        if not np.issubdtype(pi.dtype, np.integer) or pi.min(initial=0) < 0 or pi.max(initial=0) >= n_actions:
            raise ValueError(f"policy must hold integer actions in [0, {n_actions - 1}] for each state")
        weights = np.zeros((n_states, n_actions))
        weights[np.arange(n_states), pi] = 1.0
        return weights
    if pi.shape == (n_states, n_actions):
        weights = pi.astype(np.float64)
        if np.any(weights < 0) or not np.allclose(weights.sum(axis=1), 1.0, atol=1e-9):
            raise ValueError("policy probabilities must be non-negative and sum to 1 in every state")
        return weights
    raise ValueError(
        f"policy must have shape ({n_states},) (an action per state) or ({n_states}, {n_actions}) "
        f"(action probabilities), got {pi.shape}"
    )


def _check_gamma(gamma: float) -> None:
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
