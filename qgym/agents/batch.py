"""The batched loop's machinery: epsilon-greedy for a batch of states, and a batch of TD updates that
comes out bit-identical to applying them one after the other.

Pure functions over numpy arrays and the rule's target function, so each is testable alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qgym.agents.next_values import ROWS, Values

__all__ = [
    "Target",
    "apply_updates",
    "batch_epsilon_greedy",
    "decay_powers",
    "decayed_steps",
    "learn_from_batch",
    "uniforms",
]

Target = Callable[..., Values]
"""A rule's TD target: ``target(reward, next_values, epsilon)`` for one transition, ``target(rewards,
rows, epsilon, ROWS)`` for a batch (:mod:`qgym.agents.next_values`); ``next_values`` is None at a
termination."""


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
    batch gets count ``n + k``). The batch is cut into runs that one numpy pass can apply: no pair
    twice, and no target reading a row an earlier update of the run wrote, so every update of a run
    reads the table as it was before the run; in such a run one-after-the-other and all-at-once are the
    same float operations. Where the runs get short (many envs on a few pairs: the sequential order is
    the work itself) the rest of the batch is applied one update after the other on rows as Python
    lists, which costs less than a numpy pass per handful of updates.
    """
    states, actions, rewards, next_states = transitions
    n = len(states)
    cells = states * q.shape[1] + actions
    steps: float | NDArray[np.float64] = alpha
    if visit_decay is not None:
        steps = decayed_steps(visits.reshape(-1)[cells], cells, alpha, powers)
    np.add.at(visits.reshape(-1), cells, 1)
    batch = _Batch(states, actions, np.asarray(rewards, dtype=np.float64), next_states, steps)
    if _conflicted(states[:MIN_RUN], cells[:MIN_RUN], next_states[:MIN_RUN]):
        _apply_in_order(q, batch, epsilon, target)  # the first run is short: a crowded batch
        return
    waits_for = _waits_for(states, next_states, cells)
    start = 0
    while start < n:
        later = np.flatnonzero(waits_for[start + 1 :] >= start)
        end = start + 1 + int(later[0]) if later.size else n
        if end - start < MIN_RUN:
            _apply_in_order(q, batch.part(start, n), epsilon, target)
            return
        _apply_at_once(q, batch.part(start, end), epsilon, target)
        start = end


MIN_RUN = 16
"""Shorter conflict-free runs than this go one update after the other (a numpy pass costs about as
much as this many Python updates)."""


class _Batch:
    """The transitions of a batch and their step sizes (one, or one per transition), as numpy arrays."""

    def __init__(
        self,
        states: NDArray[np.int64],
        actions: NDArray[np.int64],
        rewards: NDArray[np.float64],
        next_states: NDArray[np.int64],
        steps: float | NDArray[np.float64],
    ) -> None:
        self.states, self.actions, self.rewards, self.next_states = states, actions, rewards, next_states
        self.steps = steps

    def part(self, start: int, end: int) -> _Batch:
        steps = self.steps[start:end] if isinstance(self.steps, np.ndarray) else self.steps
        return _Batch(
            self.states[start:end],
            self.actions[start:end],
            self.rewards[start:end],
            self.next_states[start:end],
            steps,
        )


def decayed_steps(
    visited: NDArray[np.int64],
    cells: NDArray[np.int64],
    alpha: float,
    powers: Callable[[int], NDArray[np.float64]],
) -> NDArray[np.float64]:
    """``max(count ** -visit_decay, alpha)`` of each update, the ``k``-th of a pair in the batch counting
    ``visited + k`` (``visited``: the pair's updates before the batch)."""
    n = len(cells)
    # A stable sort of 16-bit keys is a radix sort, about 10x a stable sort of 64-bit ones: same order.
    keys = cells.astype(np.int16) if n and int(cells.max()) < 2**15 else cells
    order = np.argsort(keys, kind="stable")
    ordered = cells[order]
    first = np.ones(n, dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    position = np.arange(n)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = position - np.maximum.accumulate(np.where(first, position, 0))
    counts = visited + rank + 1
    steps: NDArray[np.float64] = np.maximum(powers(int(counts.max()))[counts], alpha)
    return steps


def _conflicted(states: NDArray[np.int64], cells: NDArray[np.int64], next_states: NDArray[np.int64]) -> bool:
    """Whether these few updates (fewer than MIN_RUN, or a conflict among them) cannot make a run: one
    repeats an earlier one's pair or reads a row an earlier one wrote. Python sets: a crowded batch
    shows its first conflict within a few updates, and this is all it pays before going in order."""
    if len(cells) < MIN_RUN:
        return True
    written: set[int] = set()
    pairs: set[int] = set()
    for state, cell, next_state in zip(states.tolist(), cells.tolist(), next_states.tolist(), strict=True):
        if cell in pairs or next_state in written:
            return True
        pairs.add(cell)
        written.add(state)
    return False


def _waits_for(
    states: NDArray[np.int64], next_states: NDArray[np.int64], cells: NDArray[np.int64]
) -> NDArray[np.int64]:
    """For each update, the last earlier one it must come after (-1 for none): the last earlier update of
    its pair, or of any pair in the row its target reads."""
    n = len(states)
    position = np.arange(n)
    # Keys (value * n + position) sort by value, then position: neighbours in the same pair, and the
    # last write of a row before a read of it (the last key below row * n + position), by searchsorted.
    pairs = np.sort(cells * n + position)
    same_pair = np.full(n, -1, dtype=np.int64)
    same_pair[pairs[1:] % n] = np.where(pairs[1:] // n == pairs[:-1] // n, pairs[:-1] % n, -1)
    writes = np.sort(states * n + position)
    found = np.searchsorted(writes, next_states * n + position) - 1
    writer = writes[np.maximum(found, 0)]
    read_written = (next_states >= 0) & (found >= 0) & (writer // n == next_states)
    return np.maximum(same_pair, np.where(read_written, writer % n, -1))


def _apply_at_once(q: NDArray[np.float64], batch: _Batch, epsilon: float, target: Target) -> None:
    """Updates of distinct pairs, none reading a row another writes first: all from the table as it is."""
    states, actions, rewards, next_states = batch.states, batch.actions, batch.rewards, batch.next_states
    bootstrapped = next_states >= 0
    if bootstrapped.all():
        goals = target(rewards, q[next_states], epsilon, ROWS)
    else:
        goals = np.empty(len(states))
        goals[bootstrapped] = target(rewards[bootstrapped], q[next_states[bootstrapped]], epsilon, ROWS)
        goals[~bootstrapped] = target(rewards[~bootstrapped], None, epsilon, ROWS)
    old = q[states, actions]
    q[states, actions] = old + batch.steps * (goals - old)


def _apply_in_order(q: NDArray[np.float64], batch: _Batch, epsilon: float, target: Target) -> None:
    """The updates one after the other on the rows they touch, as Python lists."""
    states, next_states = batch.states, batch.next_states
    terminal = next_states < 0
    whole_table = q.shape[0] <= 2 * len(states)
    if whole_table:
        rows = q.tolist()
        local_states, local_next = states, next_states
    else:
        touched, inverse = np.unique(
            np.concatenate((states, np.where(terminal, states, next_states))), return_inverse=True
        )
        rows = q[touched].tolist()
        local_states = inverse[: len(states)]
        local_next = np.where(terminal, -1, inverse[len(states) :])
    steps = batch.steps.tolist() if isinstance(batch.steps, np.ndarray) else batch.steps
    apply_updates(
        rows,
        (local_states.tolist(), batch.actions.tolist(), batch.rewards.tolist(), local_next.tolist()),
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
    steps: list[float] | float,
    epsilon: float,
    target: Target,
) -> None:
    """``row[a] <- row[a] + step * (target - row[a])`` for each transition in order, on table rows as
    lists, with one step size per transition or one for all; ``next_state`` -1 is a termination. The
    same operations as the per-transition update."""
    if isinstance(steps, list):
        for state, action, reward, next_state, step in zip(*transitions, steps, strict=True):
            goal = target(reward, None if next_state < 0 else rows[next_state], epsilon)
            row = rows[state]
            old = row[action]
            row[action] = old + step * (goal - old)
        return
    for state, action, reward, next_state in zip(*transitions, strict=True):
        goal = target(reward, None if next_state < 0 else rows[next_state], epsilon)
        row = rows[state]
        old = row[action]
        row[action] = old + steps * (goal - old)


def decay_powers(visit_decay: float, largest: int) -> NDArray[np.float64]:
    """``n ** -visit_decay`` for n = 0..2 * largest, each from ``math.pow`` as the per-transition path."""
    size = max(2 * largest, 1024)
    return np.array([0.0] + [math.pow(n, -visit_decay) for n in range(1, size + 1)])
