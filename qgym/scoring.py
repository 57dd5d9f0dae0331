"""Grading moves against the exact optimum: the regret of every move and the costliest ones.

The regret of taking ``a`` in state ``s`` at step ``t`` is ``max_b Q*_t(s, b) - Q*_t(s, a)``: what the
choice costs in expectation, compared with the best one, before the weather or the price has moved.
Over an episode the return splits exactly into three parts:

    return = V*_0(s_0) - sum of regrets + luck,

where luck (``sum_t r_t + V*_{t+1}(s_{t+1}) - Q*_t(s_t, a_t)``) averages zero over episodes whatever the
moves. So the total regret grades the choices without the luck of the draw, and ``V*_0(s_0) - E[return]``
is the expected total regret of the policy.

>>> import gymnasium as gym
>>> from qgym import scoring
>>> values = scoring.optimal_values(gym.make("qgym/GridFarm-1x1-v0"))
>>> grade = scoring.score_moves(values, [(0, 7)])  # day 0, state 0 (the empty plot): wait
>>> grade.moves[0].best_action, round(grade.total_regret, 4)  # planting was best; waiting cost 0.5072
(4, 0.5072)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qgym import planning

__all__ = [
    "TIE",
    "Grade",
    "Move",
    "grade_move",
    "optimal_values",
    "percent_of_optimum",
    "score_moves",
    "share_of_optimum",
]

TIE = 1e-9
"""Actions whose Q* are this close to the best are all optimal (ties are common: a move into a fence
is a wait)."""


@dataclass(frozen=True)
class Move:
    """One move graded against Q*: at ``step``, in model state ``state``, the person took ``action``."""

    step: int
    state: int
    action: int
    q: NDArray[np.float64]
    """``Q*_step(state, a)`` of every action ``a``."""

    @property
    def best_action(self) -> int:
        """An optimal action (the lowest-numbered one when several are)."""
        return int(np.argmax(self.q))

    @property
    def best_actions(self) -> tuple[int, ...]:
        """Every optimal action (within :data:`TIE` of the best)."""
        return tuple(int(a) for a in np.flatnonzero(self.q >= self.q.max() - TIE))

    @property
    def regret(self) -> float:
        """``max_a Q*(s, a) - Q*(s, action)``: 0 for an optimal move, never negative."""
        gap = float(self.q.max() - self.q[self.action])
        return 0.0 if gap <= TIE else gap


@dataclass(frozen=True)
class Grade:
    """Moves graded against Q*, with the optimum they are measured from."""

    moves: tuple[Move, ...]
    optimum: float
    """The optimal expected return from the start distribution."""

    @property
    def total_regret(self) -> float:
        """The sum of the moves' regrets: the expected return the choices gave away."""
        return float(sum(move.regret for move in self.moves))

    def regret_by_kind(self, kinds: Sequence[str], by: str = "taken") -> dict[str, float]:
        """The total regret split by kind of decision: ``kinds[a]`` names the kind of action ``a`` (the
        farm's four moves are one kind, ``move``). ``by="taken"`` charges each move's regret to the kind
        of action taken (what the moves that cost were), ``by="best"`` to the kind of the best action
        (what should have been done instead). Every kind appears, in the order of ``kinds``."""
        if by not in ("taken", "best"):
            raise ValueError(f"by must be 'taken' or 'best', got {by!r}")
        totals = dict.fromkeys(kinds, 0.0)
        for move in self.moves:
            action = move.action if by == "taken" else move.best_action
            if not 0 <= action < len(kinds):
                raise ValueError(f"kinds names {len(kinds)} actions; a move took action {action}")
            totals[kinds[action]] += move.regret
        return totals

    def costliest(self, n: int = 3) -> list[Move]:
        """The ``n`` moves of highest regret (earliest first among equals); optimal moves never appear."""
        if n < 0:
            raise ValueError(f"n must be a number of moves >= 0, got {n}")
        costly = [move for move in self.moves if move.regret > 0]
        return sorted(costly, key=lambda move: (-move.regret, move.step))[:n]


def optimal_values(env: Any, horizon: int | None = None) -> planning.OptimalValues:
    """The per-step optimal values of ``env``'s exact model over ``horizon`` steps (default: the
    registered ``max_episode_steps``). A ValueError says why when the env has no exact model or no horizon."""
    if horizon is None:
        spec = getattr(env, "spec", None)
        horizon = None if spec is None else spec.max_episode_steps
        if horizon is None:
            raise ValueError(
                "the env has no max_episode_steps, so its finite-horizon optimum is undefined; pass horizon="
            )
    return planning.OptimalValues(planning.model_of(env), horizon)


def score_moves(values: planning.OptimalValues, moves: Iterable[Sequence[int]], first_step: int = 0) -> Grade:
    """Grade a sequence of moves, each ``(state, action)`` (made at steps ``first_step``, ``first_step + 1``,
    ...) or ``(step, state, action)``; states are the model's state indices
    (:func:`qgym.planning.current_state` of the env before the move)."""
    graded = []
    for index, move in enumerate(moves):
        if len(move) == 2:
            step, (state, action) = first_step + index, move
        elif len(move) == 3:
            step, state, action = move
        else:
            raise ValueError(f"a move must be (state, action) or (step, state, action), got {tuple(move)}")
        graded.append(grade_move(values, int(step), int(state), int(action)))
    return Grade(tuple(graded), values.optimum)


def grade_move(values: planning.OptimalValues, step: int, state: int, action: int) -> Move:
    """One move graded: ``Q*_step(state, .)`` and the action taken."""
    q = values.q(step, state)
    if not 0 <= action < q.shape[0]:
        raise ValueError(f"action must be in [0, {q.shape[0] - 1}], got {action}")
    return Move(step, state, action, q)


def share_of_optimum(value: float, optimum: float) -> str:
    """``value`` against ``optimum`` in words a learner reads, e.g. ``46.92 = 98.9% of the exact optimum
    47.42``; a negative optimum is a cost, said as one (``-17.00 against the exact optimum -13.00: a
    cost 1.31 times the least possible``)."""
    percent = percent_of_optimum(value, optimum)
    if optimum > 0 and percent is not None:
        return f"{value:.2f} = {percent:.1f}% of the exact optimum {optimum:.2f}"
    if optimum < 0 and percent is not None:
        if abs(value - optimum) <= 1e-9 * abs(optimum):
            return f"{value:.2f}, the exact optimum (the least cost possible)"
        return (
            f"{value:.2f} against the exact optimum {optimum:.2f}: a cost {value / optimum:.2f} times the "
            f"least possible ({percent:.1f}% of the optimum, as qgym counts a cost: optimum / value)"
        )
    return f"{value:.2f} against the exact optimum {optimum:.2f}"


def percent_of_optimum(value: float, optimum: float) -> float | None:
    """``value`` as a percentage of ``optimum``: 100% at the optimum, less for worse.

    A positive optimum is a reward to reach: ``100 * value / optimum``. A negative one is a cost to
    pay (CliffWalking's -13): ``100 * optimum / value``, so a policy that costs twice as much scores
    50%, not 200%. None when the ratio means nothing (an optimum of 0, or a cost optimum against a
    value of 0 or more, which only a sampled mean can reach).
    """
    if optimum > 0:
        return 100.0 * value / optimum
    if optimum < 0 and value < 0:
        return 100.0 * optimum / value
    return None
