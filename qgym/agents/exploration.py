"""Epsilon-greedy, the behaviour policy of every tabular agent, in its two forms.

* :func:`choose_one`, for one state's action values (a list of floats), draws one or two uniforms from
  a generator: ``u < epsilon`` explores with a second uniform, else the greedy action, ties broken by
  a second uniform. The per-transition loops and ``predict`` use it.
* :func:`choose_rows`, for rows of action values (a 2-D array), takes one uniform ``u`` a row: it
  explores when ``u < epsilon`` (action ``floor(u / epsilon * n_actions)``), else takes the greedy
  action with ties broken by ``(u - epsilon) / (1 - epsilon)``: the same distribution from one draw.
  The batched loop, the lockstep learners and SARSA's batch bootstrap use it; its compiled twin
  (:mod:`qgym.agents.kernels`) is checked against it bit for bit.

No form touches a global generator: the caller passes its own.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from qgym.agents.next_values import rows_greatest

__all__ = ["Uniform", "choose_for_states", "choose_one", "choose_rows", "uniforms"]

Uniform = Callable[[], float]
"""A generator's ``random``: a uniform float in [0, 1) a call."""

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]


def choose_one(values: list[float], epsilon: float, uniform: Uniform) -> int:
    """The epsilon-greedy action index for one state's ``values``, ties among the greedy actions broken
    uniformly at random."""
    if uniform() < epsilon:
        return int(uniform() * len(values))
    best = max(values)
    if values.count(best) == 1:
        return values.index(best)
    ties = [i for i, value in enumerate(values) if value == best]
    return ties[int(uniform() * len(ties))]


def choose_rows(values: Floats, epsilon: float, draws: Floats) -> Ints:
    """Epsilon-greedy action indices for rows of action values, one uniform of ``draws`` a row."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    greedy: Ints = values.argmax(axis=1)
    if epsilon < 1.0:
        is_best = values == rows_greatest(values)[:, None]
        greedy = _break_ties(greedy, is_best, _count_true(is_best), np.arange(len(values)), epsilon, draws)
    return _explore(greedy, values.shape[1], epsilon, draws)


def choose_for_states(q: Floats, states: Ints, epsilon: float, draws: Floats) -> Ints:
    """``choose_rows(q[states], epsilon, draws)``, faster when the batch is larger than the table: the
    greedy actions and ties are then found once per table row."""
    if q.shape[0] > len(states):
        return choose_rows(q[states], epsilon, draws)
    greedy: Ints = q.argmax(axis=1)[states]
    if epsilon < 1.0:
        is_best = q == rows_greatest(q)[:, None]
        greedy = _break_ties(greedy, is_best, _count_true(is_best)[states], states, epsilon, draws)
    return _explore(greedy, q.shape[1], epsilon, draws)


def uniforms(getrandbits: Callable[[int], int], n: int) -> Floats:
    """``n`` uniforms in [0, 1) with 53 random bits each, from a ``random.Random``'s ``getrandbits``."""
    bits = np.frombuffer(getrandbits(64 * n).to_bytes(8 * n, "little"), dtype="<u8")
    return (bits >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _break_ties(
    greedy: Ints, is_best: NDArray[np.bool_], tie_counts: Ints, rows: Ints, epsilon: float, draws: Floats
) -> Ints:
    """The ``rank``-th greedy action of each item whose row ties, ``rank`` from its draw's share of
    ``1 - epsilon`` (argmax's first greedy action where nothing ties). ``rows[i]`` is item i's row of
    ``is_best``."""
    tied = np.flatnonzero(tie_counts > 1)
    if tied.size == 0:
        return greedy
    ties = is_best[rows[tied]]
    counts = tie_counts[tied]
    share = (draws[tied] - epsilon) / (1.0 - epsilon)
    rank = np.minimum((share * counts).astype(np.int64), counts - 1)  # share may round to 1
    chosen = greedy.copy()
    chosen[tied] = (np.cumsum(ties, axis=1) > rank[:, None]).argmax(axis=1)
    return chosen


def _explore(greedy: Ints, n_actions: int, epsilon: float, draws: Floats) -> Ints:
    """Where ``draw < epsilon``, action ``floor(draw / epsilon * n_actions)`` instead of ``greedy``."""
    if epsilon <= 0.0:
        return np.asarray(greedy, dtype=np.int64)
    explore = draws < epsilon
    if not explore.any():
        return np.asarray(greedy, dtype=np.int64)
    guesses = np.minimum((draws / epsilon * n_actions).astype(np.int64), n_actions - 1)
    return np.asarray(np.where(explore, guesses, greedy), dtype=np.int64)


def _count_true(flags: NDArray[np.bool_]) -> Ints:
    """How many flags of each row are set (column by column for a few actions: numpy's row reduction
    costs twice as much there)."""
    if flags.shape[1] > 16:
        return np.asarray(flags.sum(axis=1), dtype=np.int64)
    counts = flags[:, 0].astype(np.int64)
    for column in range(1, flags.shape[1]):
        counts += flags[:, column]
    return counts
