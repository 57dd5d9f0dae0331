"""The batched loop's machinery: epsilon-greedy for a batch of states, and a batch of TD updates that
comes out bit-identical to applying them one after the other.

Pure functions over numpy arrays and the rule's target function, so each is testable alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Target", "apply_updates", "batch_epsilon_greedy", "decay_powers", "learn_from_batch", "uniforms"]

Target = Callable[[float, Sequence[float] | None, float], float]
"""A rule's TD target: ``target(reward, next_values, epsilon)``; ``next_values`` is None at a termination."""


def uniforms(getrandbits: Callable[[int], int], n: int) -> NDArray[np.float64]:
    """``n`` uniforms in [0, 1) with 53 random bits each, from a ``random.Random``'s ``getrandbits``."""
    bits = np.frombuffer(getrandbits(64 * n).to_bytes(8 * n, "little"), dtype="<u8")
    return (bits >> np.uint64(11)).astype(np.float64) * 2.0**-53


def batch_epsilon_greedy(
    q: NDArray[np.float64], states: NDArray[np.int64], epsilon: float, draws: NDArray[np.float64]
) -> NDArray[np.int64]:
    """Epsilon-greedy action indices of a batch of states, one uniform ``u`` per state.

    The state explores when ``u < epsilon``, taking action ``floor(u / epsilon * n_actions)``;
    otherwise it takes the greedy action, ties broken by ``(u - epsilon) / (1 - epsilon)``: the same
    distribution as the per-env loop's two draws, from one draw.
    """
    n, n_actions = len(states), q.shape[1]
    # Greedy actions and ties per table row when the table has fewer rows than the batch.
    per_row = q.shape[0] <= n
    values = q if per_row else q[states]
    greedy = values.argmax(axis=1)
    is_best = values == values.max(axis=1)[:, None]
    tie_counts = is_best.sum(axis=1)
    if per_row:
        greedy, tie_counts = greedy[states], tie_counts[states]
    chosen = greedy
    tied = np.flatnonzero(tie_counts > 1)
    if tied.size and epsilon < 1.0:
        ties = is_best[states[tied]] if per_row else is_best[tied]
        share = (draws[tied] - epsilon) / (1.0 - epsilon)
        n_ties = ties.sum(axis=1)
        rank = np.minimum((share * n_ties).astype(np.int64), n_ties - 1)  # share may round to 1
        chosen[tied] = (np.cumsum(ties, axis=1) > rank[:, None]).argmax(axis=1)
    if epsilon > 0.0:
        explore = np.flatnonzero(draws < epsilon)
        chosen[explore] = np.minimum((draws[explore] / epsilon * n_actions).astype(np.int64), n_actions - 1)
    return np.asarray(chosen, dtype=np.int64)


def learn_from_batch(
    q: NDArray[np.float64],
    visits: NDArray[np.int64],
    transitions: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[Any], NDArray[np.int64]],
    alpha: float,
    epsilon: float,
    visit_decay: float | None,
    powers: Callable[[int], NDArray[np.float64]],
    target: Target,
) -> None:
    """Update ``q`` and ``visits`` in place from a batch of (state, action, reward, next state), exactly
    as one update after the other would (``next_states[i]`` is -1 when episode ``i`` terminated).

    Visit counts and visit-decay step sizes come from numpy (the ``k``-th update of a pair in the
    batch gets count ``n + k``); the value updates run in one pass of plain Python floats over the
    rows the batch touches, with the very float operations of the per-transition update.
    """
    states, actions, rewards, next_states = transitions
    flat_visits = visits.reshape(-1)
    cells = states * q.shape[1] + actions
    if visit_decay is None:
        steps = [alpha] * len(cells)
    else:
        order = np.argsort(cells, kind="stable")
        ordered = cells[order]
        first = np.ones(len(cells), dtype=bool)
        first[1:] = ordered[1:] != ordered[:-1]
        position = np.arange(len(cells))
        rank = np.empty(len(cells), dtype=np.int64)
        rank[order] = position - np.maximum.accumulate(np.where(first, position, 0))
        counts = flat_visits[cells] + rank + 1
        steps = np.maximum(powers(int(counts.max()))[counts], alpha).tolist()
    np.add.at(flat_visits, cells, 1)
    terminal = next_states < 0
    whole_table = q.shape[0] <= 2 * len(cells)
    if whole_table:
        rows = q.tolist()
        local_states, local_next = states, next_states
    else:
        touched, inverse = np.unique(
            np.concatenate((states, np.where(terminal, states, next_states))), return_inverse=True
        )
        rows = q[touched].tolist()
        local_states = inverse[: len(cells)]
        local_next = np.where(terminal, -1, inverse[len(cells) :])
    apply_updates(
        rows,
        (local_states.tolist(), actions.tolist(), rewards.astype(np.float64).tolist(), local_next.tolist()),
        steps,
        epsilon,
        target,
    )
    if whole_table:
        q[...] = rows
    else:
        q[touched] = rows


def apply_updates(
    rows: list[list[float]],
    transitions: tuple[list[int], list[int], list[float], list[int]],
    steps: list[float],
    epsilon: float,
    target: Target,
) -> None:
    """``row[a] <- row[a] + step * (target - row[a])`` for each transition in order, on table rows as
    lists; ``next_state`` -1 is a termination. The same operations as the per-transition update."""
    for state, action, reward, next_state, step in zip(*transitions, steps, strict=True):
        goal = target(reward, None if next_state < 0 else rows[next_state], epsilon)
        row = rows[state]
        old = row[action]
        row[action] = old + step * (goal - old)


def decay_powers(visit_decay: float, largest: int) -> NDArray[np.float64]:
    """``n ** -visit_decay`` for n = 0..2 * largest, each from ``math.pow`` as the per-transition path."""
    size = max(2 * largest, 1024)
    return np.array([0.0] + [math.pow(n, -visit_decay) for n in range(1, size + 1)])
