"""What an env offers the rest of qgym: a view for the viewers, a heuristic for evaluation.

Play, enjoy, record, the plots and the evaluation never import an env family or read a private name:
they ask the env (its ``unwrapped``) through these protocols. A family implements :class:`EnvView`
(every qgym env), :class:`StateNames` (envs with an exact model: readable names of its states),
:class:`GridView` (envs whose agent walks a grid: policy pictures), :class:`AgentOnCells` (the same
moment with the agent on each cell: value heat maps), :class:`HasLegend` (what the frame's symbols
mean) and :class:`HasHeuristic` (a hand-written policy to beat where no exact optimum is known).
``qgym.viewing.views`` gives Gymnasium's toy-text envs and any other env the same :class:`EnvView`, so
a new family gets play, enjoy, record and plots by implementing these methods, without editing the
viewers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "AgentOnCells",
    "CellMark",
    "EnvView",
    "GridMarks",
    "GridView",
    "HasHeuristic",
    "HasLegend",
    "Overlay",
    "Policy",
    "StateNames",
]

Policy = Callable[[Any, int], int]
"""A policy as the rollouts call it: ``policy(observation, step) -> action`` (``step`` counts from 0
in each episode; a finite-horizon optimal policy needs it, most policies ignore it)."""


@dataclass(frozen=True)
class Overlay:
    """What a viewer asks an env to draw on its own frame."""

    action: int | None = None
    """An advised action, drawn where it acts (an arrow from the farmer, a marker on the price)."""
    cell_values: tuple[float, ...] | None = None
    """A value for every cell of the env's grid (row-major, :class:`GridView` envs), drawn as a heat map
    with a colour bar; other envs ignore it."""
    values_title: str = "value"
    """What ``cell_values`` are, for the colour bar (e.g. ``"V* if the farmer stood here"``)."""
    size: tuple[int, int] | None = None
    """The (width, height) in pixels the frame should fill, the drawing scaled and centred in it;
    None: the env's own size, the one ``render()`` gives."""


@runtime_checkable
class EnvView(Protocol):
    """What every viewer shows: action names, the env's status lines and its frame."""

    @property
    def action_names(self) -> tuple[str, ...]:
        """A short readable name for every action, in action order."""
        ...

    def status_lines(self) -> list[str]:
        """Lines for a head-up display beyond step and return: weather, regime, position."""
        ...

    def draw(self, overlay: Overlay | None = None) -> NDArray[np.uint8]:
        """The current frame, (H, W, 3) uint8, with ``overlay`` drawn on it (``render()`` without one)."""
        ...


@runtime_checkable
class StateNames(Protocol):
    """Readable names of the states of an env's exact model (the rows of a Q-table)."""

    def state_label(self, state: int) -> str:
        """A short label of model state ``state``, e.g. ``"s.R @1"``."""
        ...

    def state_legend(self) -> str:
        """How to read the labels, one line."""
        ...


@runtime_checkable
class GridView(Protocol):
    """An env whose agent stands on one cell of a grid: what it observes on each cell."""

    @property
    def grid_size(self) -> tuple[int, int]:
        """Rows and columns of the grid."""
        ...

    def grid_observations(self, context: Sequence[int] | None = None) -> list[Any]:
        """The observation with the agent on each cell (row-major), the rest of the state set by
        ``context`` (the farm: every plot's crop stage; empty by default)."""
        ...


@dataclass(frozen=True)
class CellMark:
    """What a policy picture says on one cell besides the agent's values."""

    label: str = ""
    """What the cell is (a crop stage, a hole, the goal), or nothing."""
    terminal: bool = False
    """An episode ends on this cell (or the agent cannot stand on it): it has no policy to draw."""
    idle_actions: tuple[int, ...] = ()
    """Actions that change nothing with the agent on this cell (a move into the edge of the farm)."""


@runtime_checkable
class GridMarks(Protocol):
    """A grid env that says what each cell is, for policy pictures (see :class:`GridView`)."""

    def cell_marks(self, context: Sequence[int] | None = None) -> list[CellMark]:
        """One mark per cell, row-major, the rest of the state set by ``context`` as in
        :meth:`GridView.grid_observations`."""
        ...


@runtime_checkable
class AgentOnCells(Protocol):
    """A grid env's present moment with the agent moved to each cell: for a value heat map."""

    def observations_on_cells(self) -> list[Any]:
        """The observation with the agent on each cell (row-major), the rest of the state as it is now."""
        ...

    def states_on_cells(self) -> list[int]:
        """The exact model's state index with the agent on each cell, the rest as now (model envs only)."""
        ...


@runtime_checkable
class HasLegend(Protocol):
    """An env whose frame uses symbols a viewer should explain (crop stages, markers)."""

    def legend(self, size: int) -> list[tuple[str, NDArray[np.uint8]]]:
        """What each symbol means: ``(label, icon)`` pairs, each icon (size, size, 3) uint8, drawn as
        the frame draws it."""
        ...


@runtime_checkable
class HasHeuristic(Protocol):
    """An env family's hand-written policy: the bar a learner must clear where no optimum is known."""

    def heuristic(self) -> Policy:
        """The heuristic for this env's observations; a ValueError says why when there is none."""
        ...
