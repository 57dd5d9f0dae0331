"""A batch of TD updates applied bit-identically to applying them one after the other: the batched
loop's updates for a rule with a batch form (one table, no draws of its own: Q-learning, Expected SARSA).

Pure functions over numpy arrays and the rule (:class:`qgym.agents.rules.Rule`), so each is testable
alone; the compiled loop of :mod:`qgym.agents.kernels` gives the same bits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from qgym.agents.rules import BATCH, ONE, Rule

__all__ = ["MIN_RUN", "apply_updates", "learn_from_batch"]


def learn_from_batch(
    q: NDArray[np.float64],
    visits: NDArray[np.int64],
    transitions: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[Any], NDArray[np.int64]],
    alpha: float,
    epsilon: float,
    rule: Rule,
) -> None:
    """Update ``q`` and ``visits`` in place from a batch of (state, action, reward, next state), exactly
    as one update after the other would (``next_states[i]`` is -1 when episode ``i`` terminated).

    Visit counts and visit-decay step sizes come from the rule's step sizes (the ``k``-th update of a
    pair in the batch gets count ``n + k``). The batch is cut into runs that one numpy pass can apply:
    no pair twice, and no target reading a row an earlier update of the run wrote, so every update of a
    run reads the table as it was before the run; in such a run one-after-the-other and all-at-once are
    the same float operations. Where the runs get short (many envs on a few pairs: the sequential order is
    the work itself) the rest of the batch is applied one update after the other on rows as Python
    lists, which costs less than a numpy pass per handful of updates.
    """
    states, actions, rewards, next_states = transitions
    n = len(states)
    cells = states * q.shape[1] + actions
    steps = rule.step_sizes.counted(visits, cells, alpha)
    batch = _Batch(states, actions, np.asarray(rewards, dtype=np.float64), next_states, steps)
    if _conflicted(states[:MIN_RUN], cells[:MIN_RUN], next_states[:MIN_RUN]):
        _apply_in_order(q, batch, epsilon, rule)  # the first run is short: a crowded batch
        return
    waits_for = _waits_for(states, next_states, cells)
    start = 0
    while start < n:
        later = np.flatnonzero(waits_for[start + 1 :] >= start)
        end = start + 1 + int(later[0]) if later.size else n
        if end - start < MIN_RUN:
            _apply_in_order(q, batch.part(start, n), epsilon, rule)
            return
        _apply_at_once(q, batch.part(start, end), epsilon, rule)
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


def _apply_at_once(q: NDArray[np.float64], batch: _Batch, epsilon: float, rule: Rule) -> None:
    """Updates of distinct pairs, none reading a row another writes first: all from the table as it is."""
    states, actions, rewards, next_states = batch.states, batch.actions, batch.rewards, batch.next_states
    bootstrapped = next_states >= 0
    if bootstrapped.all():
        goals = rule.target(rewards, q[next_states], epsilon, BATCH)
    else:
        goals = np.empty(len(states))
        goals[bootstrapped] = rule.target(rewards[bootstrapped], q[next_states[bootstrapped]], epsilon, BATCH)
        goals[~bootstrapped] = rule.target(rewards[~bootstrapped], None, epsilon, BATCH)
    old = q[states, actions]
    q[states, actions] = old + batch.steps * (goals - old)


def _apply_in_order(q: NDArray[np.float64], batch: _Batch, epsilon: float, rule: Rule) -> None:
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
        rule,
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
    rule: Rule,
) -> None:
    """``row[a] <- row[a] + step * (target - row[a])`` for each transition in order, on table rows as
    lists, with one step size per transition or one for all; ``next_state`` -1 is a termination. The
    same operations as the per-transition update (:meth:`Rule.target`, with its bootstrap called
    directly: this loop is the hot path of a crowded batch)."""
    bootstrap, gamma = rule.bootstrap, rule.gamma
    if isinstance(steps, list):
        for state, action, reward, next_state, step in zip(*transitions, steps, strict=True):
            goal = (
                reward if next_state < 0 else reward + gamma * bootstrap(rows[next_state], epsilon, ONE, None)
            )
            row = rows[state]
            old = row[action]
            row[action] = old + step * (goal - old)
        return
    for state, action, reward, next_state in zip(*transitions, strict=True):
        goal = reward if next_state < 0 else reward + gamma * bootstrap(rows[next_state], epsilon, ONE, None)
        row = rows[state]
        old = row[action]
        row[action] = old + steps * (goal - old)
