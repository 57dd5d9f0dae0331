"""The pieces of a lockstep step (:mod:`qgym.agents.lockstep`): epsilon-greedy for rows of values, the
model's outcomes drawn from uniforms, and the four TD rules applied to one update per learner.

A rule takes the learners' stacked tables and one transition per learner (distinct learners, so
their table rows are disjoint and one numpy pass is exact) and returns the actions it already chose in
the next states (SARSA) or None.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qgym.agents import batch
from qgym.agents.algorithms import SARSA, DoubleQLearning
from qgym.agents.base import TabularAlgorithm
from qgym.agents.next_values import ROWS, rows_greatest
from qgym.planning import TabularModel
from qgym.sampling import OutcomeDraws, outcome_thresholds

__all__ = ["OutcomeSampler", "Rule", "StackedTables", "epsilon_greedy", "rule_of"]

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]


class StackedTables:
    """K learners' tables as one array (n_tables, K * S, A), their visit counts, and their step sizes."""

    def __init__(self, template: TabularAlgorithm, n_learners: int) -> None:
        initial = template.policy.tables  # (n_tables, S, A)
        self.template = template
        self.n_states, self.n_actions = initial.shape[1], initial.shape[2]
        stacked = np.repeat(initial[:, None], n_learners, axis=1)
        self.tables = stacked.reshape(initial.shape[0], n_learners * self.n_states, self.n_actions)
        self.visits = np.zeros(self.tables.shape, dtype=np.int64)
        self.flat = [table.reshape(-1) for table in self.tables]  # views, indexed by cell
        self.flat_visits = [visits.reshape(-1) for visits in self.visits]
        decay = template.visit_decay
        self.powers = None if decay is None else batch.decay_powers(decay, 1024)

    def decay_powers(self, largest: int) -> Floats:
        """``n ** -visit_decay`` for n = 0..largest at least, grown when a count outruns it."""
        assert self.powers is not None, "decay_powers needs visit_decay"
        if largest >= len(self.powers):
            self.powers = batch.decay_powers(self.template.visit_decay or 1.0, largest)
        return self.powers

    def step_sizes(self, table: int, cells: Ints, alpha: float) -> Any:
        """Count one visit of each cell (distinct within a pass) and return their step sizes."""
        visits = self.flat_visits[table]
        if self.powers is None:
            visits[cells] += 1
            return alpha
        counts = visits[cells] + 1
        visits[cells] = counts
        if counts.max() >= len(self.powers):
            self.powers = batch.decay_powers(self.template.visit_decay or 1.0, int(counts.max()))
        return np.maximum(self.powers[counts], alpha)


Rule = Callable[[StackedTables, Ints, Ints, Floats, Ints, float, float, Floats], Ints | None]
"""``rule(tables, rows, actions, rewards, next_rows, alpha, epsilon, draws)``; ``next_rows`` -1 at a
termination; ``draws`` one uniform per update for the rule's own choices."""


def _rows_count_true(flags: NDArray[np.bool_]) -> Ints:
    """How many flags of each row are set (column by column: a few actions sum faster so)."""
    if flags.shape[1] > 16:
        return np.asarray(flags.sum(axis=1), dtype=np.int64)
    counts = flags[:, 0].astype(np.int64)
    for column in range(1, flags.shape[1]):
        counts += flags[:, column]
    return counts


def epsilon_greedy(values: Floats, epsilon: float, draws: Floats) -> Ints:
    """Epsilon-greedy actions for rows of action values, one uniform ``u`` a row: explore when
    ``u < epsilon`` (action ``floor(u / epsilon * n_actions)``), else the greedy action with ties broken
    by ``(u - epsilon) / (1 - epsilon)``, as :func:`qgym.agents.batch.batch_epsilon_greedy` does."""
    n_actions = values.shape[1]
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    chosen: Ints = values.argmax(axis=1)
    if epsilon < 1.0:
        best = rows_greatest(values)
        is_best = values == best[:, None]
        tied = np.flatnonzero(_rows_count_true(is_best) > 1)
        if tied.size:
            # The rank-th best action of each tied row (rank 0, argmax's, where nothing ties).
            ties = is_best[tied]
            counts = ties.sum(axis=1)
            share = (draws[tied] - epsilon) / (1.0 - epsilon)
            rank = np.minimum((share * counts).astype(np.int64), counts - 1)
            chosen[tied] = (np.cumsum(ties, axis=1) > rank[:, None]).argmax(axis=1)
    if epsilon > 0.0:
        explore = draws < epsilon
        if explore.any():
            guesses = np.minimum((draws / epsilon * n_actions).astype(np.int64), n_actions - 1)
            chosen = np.where(explore, guesses, chosen)
    return chosen


class OutcomeSampler:
    """Draws outcomes of a :class:`TabularModel` from uniforms: next states, rewards, terminations."""

    def __init__(self, model: TabularModel) -> None:
        self._n_actions = model.n_actions
        self._draws = OutcomeDraws(model.probs.reshape(model.n_states * model.n_actions, -1))
        self._next_states = model.next_states.reshape(-1)
        self._rewards = model.rewards.reshape(-1)
        self._terminated = model.terminated.reshape(-1)
        self._start = outcome_thresholds(model.initial_distribution)

    def step(self, states: Ints, actions: Ints, draws: Floats) -> tuple[Ints, Floats, NDArray[np.bool_]]:
        """The outcome of each (state, action), drawn with its uniform."""
        pairs = states * self._n_actions + actions
        cells = self._draws.cells(pairs, draws)
        return self._next_states.take(cells), self._rewards.take(cells), self._terminated.take(cells)

    def start(self, draws: Floats) -> Ints:
        """Start states drawn from the initial distribution."""
        return np.asarray(np.searchsorted(self._start, draws, side="right"), dtype=np.int64)


def goals(target: Callable[..., Any], q: Floats, rewards: Floats, next_rows: Ints, epsilon: float) -> Floats:
    """The rule's targets; where ``next_rows`` is -1 (a termination) the target without a next state.
    (Row -1 is read as any other and its target dropped: one pass instead of two masked ones.)"""
    values = np.asarray(target(rewards, q[next_rows], epsilon, ROWS), dtype=np.float64)
    ended = next_rows < 0
    if ended.any():
        values = np.where(ended, target(rewards, None, epsilon, ROWS), values)
    return values


def _target_rule(
    tables: StackedTables,
    rows: Ints,
    actions: Ints,
    rewards: Floats,
    next_rows: Ints,
    alpha: float,
    epsilon: float,
    draws: Floats,
) -> None:
    """Q-learning, Expected SARSA: the rule's TD target in its batch form."""
    cells = rows * tables.n_actions + actions
    steps = tables.step_sizes(0, cells, alpha)
    targets = goals(tables.template._target, tables.tables[0], rewards, next_rows, epsilon)
    flat = tables.flat[0]
    old = flat[cells]
    flat[cells] = old + steps * (targets - old)


def _sarsa_rule(
    tables: StackedTables,
    rows: Ints,
    actions: Ints,
    rewards: Floats,
    next_rows: Ints,
    alpha: float,
    epsilon: float,
    draws: Floats,
) -> Ints:
    """SARSA: the next action, drawn epsilon-greedily now, is both the bootstrap and the next move."""
    q = tables.tables[0]
    steps = tables.step_sizes(0, rows * tables.n_actions + actions, alpha)
    going = next_rows >= 0
    next_actions = np.full(len(rows), -1, dtype=np.int64)
    next_actions[going] = epsilon_greedy(q[next_rows[going]], epsilon, draws[going])
    targets = rewards.copy()
    targets[going] = rewards[going] + tables.template.gamma * q[next_rows[going], next_actions[going]]
    old = q[rows, actions]
    q[rows, actions] = old + steps * (targets - old)
    return next_actions


def _double_rule(
    tables: StackedTables,
    rows: Ints,
    actions: Ints,
    rewards: Floats,
    next_rows: Ints,
    alpha: float,
    epsilon: float,
    draws: Floats,
) -> None:
    """Double Q-learning: a coin picks the table to update; it picks the next action, the other values it."""
    first = draws < 0.5
    for table, which in ((0, first), (1, ~first)):
        if not which.any():
            continue
        updated, other = tables.tables[table], tables.tables[1 - table]
        at, acts, going = rows[which], actions[which], next_rows[which]
        steps = tables.step_sizes(table, at * tables.n_actions + acts, alpha)
        targets = rewards[which].copy()
        ahead = going >= 0
        best = updated[going[ahead]].argmax(axis=1)
        targets[ahead] = targets[ahead] + tables.template.gamma * other[going[ahead], best]
        old = updated[at, acts]
        updated[at, acts] = old + steps * (targets - old)


def rule_of(template: TabularAlgorithm) -> Rule:
    """The lockstep form of ``template``'s rule; a ValueError when it has none."""
    if isinstance(template, SARSA):
        return _sarsa_rule
    if isinstance(template, DoubleQLearning):
        return _double_rule
    if type(template)._has_batch_rule:
        return _target_rule
    raise ValueError(
        f"{type(template).__name__} has no batch form of its rule (a _target), so it cannot run in lockstep"
    )


def is_target_rule(rule: Rule) -> bool:
    """Whether ``rule`` is the plain TD-target rule (Q-learning, Expected SARSA)."""
    return rule is _target_rule


def is_sarsa_rule(rule: Rule) -> bool:
    """Whether ``rule`` chooses the next action (SARSA)."""
    return rule is _sarsa_rule
