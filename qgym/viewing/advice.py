"""Advice for a person at play: the exact optimum's Q-values and the regret of each move, or an agent's.

:class:`OptimalAdvisor` answers from :mod:`qgym.planning` (``Q*_t`` of the env's current state with the
steps left) and grades every move with :mod:`qgym.scoring`; :func:`agent_hint` answers from a trained
model. Both give a :class:`~qgym.viewing.screen.Hint` for the panel and values per cell for the heat map.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from qgym import planning, scoring
from qgym.viewing.screen import Hint
from qgym.viewing.trained_model import Agent
from qgym.viewing.views import action_mask, agent_on_cells

__all__ = ["OptimalAdvisor", "agent_cell_values", "agent_hint", "summary_lines"]


class OptimalAdvisor:
    """Q* hints and move grades for an env with an exact model, over its registered horizon."""

    def __init__(self, env: gym.Env[Any, Any], values: planning.OptimalValues) -> None:
        self.env = env
        self.values = values

    @classmethod
    def for_env(cls, env: gym.Env[Any, Any], env_id: str) -> OptimalAdvisor:
        """Solve ``env`` exactly; a ValueError says why there is no optimal hint and what to do instead."""
        try:
            values = scoring.optimal_values(env)
        except ValueError as error:
            raise ValueError(
                f"--hint optimal needs an exact model, and {env_id} has none ({error}); train an agent "
                f"(e.g. qgym train --algo dqn --env {env_id}) and pass --hint MODEL instead"
            ) from None
        return cls(env, values)

    @classmethod
    def where_solvable(cls, env: gym.Env[Any, Any], env_id: str, required: bool) -> OptimalAdvisor | None:
        """The advisor where ``env`` has an exact model, else None (or, when ``required``, the
        ValueError of :meth:`for_env`). Solving a large model says so first: it takes seconds."""
        try:
            model = planning.model_of(env)
        except ValueError:
            if required:
                cls.for_env(env, env_id)  # raises the sentence that says what to do
            return None
        if model.n_states > 100_000:
            print(
                f"solving {env_id} exactly ({model.n_states:,} states) to grade the moves...", file=sys.stderr
            )
        return cls.for_env(env, env_id)

    @property
    def optimum(self) -> float:
        return self.values.optimum

    def state(self) -> int:
        """The env's current state in the model."""
        return planning.current_state(self.env)

    def hint(self, step: int, show_action: bool = True) -> Hint | None:
        """``Q*_step`` of every action here, the optimal ones highlighted; None once the season is over.
        An optimal action that changes nothing here (the env's action mask) is not advised when another
        optimal action does something (at position +1 of the trading chain, buy is hold: hold is said)."""
        if step >= self.values.horizon:
            return None
        q = self.values.q(step, self.state())
        best = tuple(int(a) for a in np.flatnonzero(q >= q.max() - scoring.TIE))
        left = self.values.horizon - step
        caption = f"Q* with {left} step{'s' if left != 1 else ''} left"
        useful = _useful(best, action_mask(self.env))
        idle = next((a for a in best if a not in useful), None)  # as good, but it changes nothing here
        return Hint(useful[0], q, show_action, source="optimal", best=useful, caption=caption, idle=idle)

    def grade(self, step: int, action: int) -> scoring.Move:
        """The move about to be made, graded (call before stepping the env)."""
        return scoring.grade_move(self.values, step, self.state(), action)

    def cell_values(self, step: int) -> tuple[float, ...] | None:
        """``V*_step`` with the agent on each cell and the rest as now (grid envs), else None."""
        cells = agent_on_cells(self.env)
        if cells is None:
            return None
        table = self.values.values(min(step, self.values.horizon))
        return tuple(float(table[state]) for state in cells.states_on_cells())


def agent_hint(
    agent: Agent, observation: Any, show_action: bool, with_q: bool, mask: NDArray[np.bool_] | None = None
) -> Hint:
    """The agent's greedy action here, with its Q-values when asked (and when it has them).

    With the env's action ``mask``: when the greedy action changes nothing here (buy while already
    long: the same as hold) the advice is the agent's best action among those that do something, and
    the hint says which top-valued action was passed over."""
    q = agent.q_values(observation)
    action = agent.act(observation)
    best = () if q is None else tuple(int(a) for a in np.flatnonzero(q >= q.max() - scoring.TIE))
    idle = None
    if mask is not None and q is not None and not mask[action] and mask.any():
        valid = np.flatnonzero(mask)
        idle, action = action, int(valid[np.argmax(q[valid])])
        best = _useful(best, mask) if any(mask[a] for a in best) else (action,)
    return Hint(
        action,
        q if with_q else None,
        show_action,
        source="agent",
        best=best,
        caption="agent's Q-values",
        idle=idle,
    )


def _useful(best: tuple[int, ...], mask: NDArray[np.bool_] | None) -> tuple[int, ...]:
    """The optimal actions that do something here (all of them when none does, or with no mask)."""
    if mask is None:
        return best
    useful = tuple(a for a in best if a < len(mask) and mask[a])
    return useful or best


def agent_cell_values(agent: Agent, env: gym.Env[Any, Any]) -> tuple[float, ...] | None:
    """The agent's max-Q with its farmer on each cell and the rest as now, or None (no grid or no Q)."""
    cells = agent_on_cells(env)
    if cells is None:
        return None
    values = []
    for observation in cells.observations_on_cells():
        q = agent.q_values(observation)
        if q is None:
            return None
        values.append(float(np.max(q)))
    return tuple(values)


def summary_lines(
    total: float,
    optimum: float | None,
    grade: scoring.Grade | None,
    state_label: Callable[[int], str],
    action_names: Sequence[str],
    person: bool = True,
    state_legend: str | None = None,
    kinds: Sequence[str] | None = None,
    field: Sequence[str] = (),
) -> list[str]:
    """The end of an episode: the return against the optimum, then (with the moves graded) the total
    regret split by kind of decision (``kinds``, one per action), the luck, and the three costliest
    moves with their step and state; then the ``field`` lines (the episode's field figures)."""
    who = "you got" if person else "the agent got"
    lines = [
        f"{who} {total:.1f}"
        + (f"; the best possible on average is {optimum:.1f}" if optimum is not None else "")
    ]
    if grade is None or optimum is None:
        return [*lines, *field]
    luck = total - (optimum - grade.total_regret)
    whose = "your" if person else "its"
    lines.append(
        f"{whose} choices gave away {grade.total_regret:.1f} on average (total regret over "
        f"{len(grade.moves)} moves); luck of the draw {luck:+.1f}"
    )
    if kinds is not None:
        lines += _regret_by_kind(grade, kinds, person)
    costly = grade.costliest(3)
    if not costly:
        lines.append("every move was optimal: the rest was luck")
    for move in costly:
        lines.append(
            f"  step {move.step} at {state_label(move.state)}: {_name(action_names, move.action)}, "
            f"best {_name(action_names, move.best_action)} (cost {move.regret:.2f})"
        )
    if costly and state_legend:
        lines.append(f"  (states: {state_legend})")
    return [*lines, *field]


def _regret_by_kind(grade: scoring.Grade, kinds: Sequence[str], person: bool) -> list[str]:
    """Where the regret went: by the kind of move made, and by the kind that was best instead."""
    leads = {"taken": f"by what {'you' if person else 'it'} did", "best": "by what was best instead"}
    out = []
    for by, lead in leads.items():
        split = sorted(grade.regret_by_kind(kinds, by=by).items(), key=lambda item: -item[1])
        parts = [f"{kind} {value:.1f}" for kind, value in split if value >= 0.05]
        if parts:
            out.append(f"  {lead}: {', '.join(parts)}")
    return out


def _name(names: Sequence[str], action: int) -> str:
    return names[action] if action < len(names) else str(action)
