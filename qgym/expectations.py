"""Exact expectations of a policy beyond its expected return: the expected sum of any per-step
quantity (what a policy harvests, trades or pays on average) and the variance of its return.

Both walk the exact model backwards over the horizon, as :func:`qgym.planning.evaluate_policy` does,
under a deterministic policy that may change with the step (the finite-horizon optimum of
:func:`qgym.planning.backward_induction` does). The env families build their optimal policy's field
figures on them (a trader's Sharpe ratio, a farm's expected harvests).

>>> import gymnasium as gym
>>> from qgym import expectations, planning
>>> env = gym.make("qgym/Trading-Chain-v0")
>>> model = planning.model_of(env)
>>> best = planning.backward_induction(model, 100).policy
>>> mean, variance = expectations.return_moments(model, best, 100)
>>> round(mean, 4), variance > 0
(11.3726, True)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qgym.planning import TabularModel, TransitionModel, expected_return

__all__ = ["policy_totals", "return_moments"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def policy_totals(
    model: TransitionModel, policy: ArrayLike, horizon: int, quantities: Mapping[str, ArrayLike]
) -> dict[str, float]:
    """Expected sums over ``horizon`` steps of per-step quantities under a deterministic policy, from the
    start distribution: what a policy harvests, trades or pays on average, exactly.

    A quantity counted at every step is a reward of its own, so its expected sum is that reward's value
    under the policy: ``W_t(s) = q(s, pi_t(s)) + E[W_{t+1}(s')]``, ``W_horizon = 0``. ``policy`` is an
    action per state (S,) or per step and state (horizon, S), as :func:`backward_induction` gives it.
    A quantity is a function of the state and action (S, A) or, on a :class:`TabularModel`, of each
    outcome (S, A, outcomes): the reward itself (``model.rewards``), its square, an indicator.
    """
    steps = _policy_steps(model, policy, horizon)
    names = list(quantities)
    tables = [np.asarray(quantities[name], dtype=np.float64) for name in names]
    for name, table in zip(names, tables, strict=True):
        per_outcome = isinstance(model, TabularModel) and table.shape == model.probs.shape
        if table.shape != (model.n_states, model.n_actions) and not per_outcome:
            allowed = f"({model.n_states}, {model.n_actions})"
            if isinstance(model, TabularModel):
                allowed += f" or {model.probs.shape}"
            raise ValueError(f"quantity {name!r} must have shape {allowed}, got {table.shape}")
    totals = np.zeros((len(names), model.n_states))
    for step in reversed(range(horizon)):
        actions = steps[step]
        ahead = _expected_next(model, totals, actions)
        for i, table in enumerate(tables):
            totals[i] = _expected_now(model, table, actions) + ahead[i]
    return {name: expected_return(model, totals[i]) for i, name in enumerate(names)}


def return_moments(model: TransitionModel, policy: ArrayLike, horizon: int) -> tuple[float, float]:
    """The mean and variance of the undiscounted return over ``horizon`` steps under a deterministic
    policy, from the start distribution, by the second-moment recursion

        V_t(s) = E[r + V_{t+1}(s')],   M_t(s) = E[r^2 + 2 r V_{t+1}(s') + M_{t+1}(s')].

    Needs the reward of each outcome: a :class:`TabularModel`, or a model whose rewards are a function
    of the state and action alone and say so with a ``reward_table`` (S, A) (the farm's model).
    """
    steps = _policy_steps(model, policy, horizon)
    values, moments = np.zeros(model.n_states), np.zeros(model.n_states)
    rows = np.arange(model.n_states)
    if isinstance(model, TabularModel):
        for step in reversed(range(horizon)):
            actions = steps[step]
            probs, rewards = model.probs[rows, actions], model.rewards[rows, actions]
            live = ~model.terminated[rows, actions]
            nexts = model.next_states[rows, actions]
            ahead, ahead_moment = np.where(live, values[nexts], 0.0), np.where(live, moments[nexts], 0.0)
            values, moments = (
                (probs * (rewards + ahead)).sum(axis=1),
                (probs * (rewards**2 + 2 * rewards * ahead + ahead_moment)).sum(axis=1),
            )
    else:
        table = getattr(model, "reward_table", None)
        if table is None:
            raise ValueError(
                f"return_moments needs the reward of each outcome: a TabularModel, or a model with a "
                f"reward_table (rewards a function of state and action); {type(model).__name__} has neither"
            )
        rewards_of = np.asarray(table, dtype=np.float64)
        for step in reversed(range(horizon)):
            actions = steps[step]
            rewards = rewards_of[rows, actions]
            ahead, ahead_moment = _expected_next(model, np.stack([values, moments]), actions)
            values, moments = rewards + ahead, rewards**2 + 2 * rewards * ahead + ahead_moment
    mean = expected_return(model, values)
    return mean, max(0.0, expected_return(model, moments) - mean**2)


def _policy_steps(model: TransitionModel, policy: ArrayLike, horizon: int) -> IntArray:
    """The policy as an action per step and state (horizon, S), checked."""
    if horizon < 1:
        raise ValueError(f"horizon must be a positive number of steps, got {horizon}")
    pi = np.asarray(policy)
    if pi.shape == (model.n_states,):
        pi = np.broadcast_to(pi, (horizon, model.n_states))
    if pi.shape != (horizon, model.n_states) or not np.issubdtype(pi.dtype, np.integer):
        raise ValueError(
            f"policy must be integer actions of shape ({model.n_states},) or ({horizon}, {model.n_states}), "
            f"got {pi.dtype} {pi.shape}"
        )
    if pi.min(initial=0) < 0 or pi.max(initial=0) >= model.n_actions:
        raise ValueError(f"policy must hold actions in [0, {model.n_actions - 1}]")
    return np.asarray(pi, dtype=np.int64)


def _expected_now(model: TransitionModel, table: FloatArray, actions: IntArray) -> FloatArray:
    """The expected value of a quantity (S, A) or (S, A, outcomes) at each state under ``actions``."""
    rows = np.arange(model.n_states)
    if table.ndim == 2:
        return np.asarray(table[rows, actions])
    assert isinstance(model, TabularModel)
    return np.asarray((model.probs[rows, actions] * table[rows, actions]).sum(axis=1))


def _expected_next(model: TransitionModel, tables: FloatArray, actions: IntArray) -> FloatArray:
    """``E[table(s') | s, actions[s]]`` for each row of ``tables`` (K, S); 0 past a termination."""
    rows = np.arange(model.n_states)
    if isinstance(model, TabularModel):
        probs = model.probs[rows, actions] * ~model.terminated[rows, actions]
        nexts = model.next_states[rows, actions]
        return np.asarray((probs[None] * tables[:, nexts]).sum(axis=2))
    # Any TransitionModel: its backup is r(s, a) + E[table(s')], so the backup of 0 takes r away.
    base = model.backup(np.zeros(model.n_states), 1.0)[rows, actions]
    return np.stack([model.backup(table, 1.0)[rows, actions] - base for table in tables])
