"""What an env offers the rest of qgym: a view for the viewers, a heuristic for evaluation.

Play, enjoy, record, the plots and the evaluation never import an env family or read a private name:
they ask the env (its ``unwrapped``) through these protocols. A family implements :class:`EnvView`
(every qgym env), :class:`StateNames` (envs with an exact model: readable names of its states),
:class:`GridView` (envs whose agent walks a grid: policy pictures), :class:`AgentOnCells` (the same
moment with the agent on each cell: value heat maps), :class:`HasLegend` (what the frame's symbols
mean), :class:`HasHeuristic` (a hand-written policy to beat where no exact optimum is known),
:class:`HasFieldMetrics` (the figures its field reads: a portfolio's Sharpe and drawdown, a farm's
accounts), :class:`HasActionKinds` (actions grouped by kind of decision, for regret summaries) and
:class:`HasWalkForward` (consecutive out-of-sample folds of the user's data).
``qgym.viewing.views`` gives Gymnasium's toy-text envs and any other env the same :class:`EnvView`, so
a new family gets play, enjoy, record and plots by implementing these methods, without editing the
viewers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "AgentOnCells",
    "CellMark",
    "EnvView",
    "EpisodeChart",
    "FieldReport",
    "Figure",
    "FigureSpec",
    "GridMarks",
    "GridView",
    "HasActionKinds",
    "HasFieldMetrics",
    "HasHeuristic",
    "HasLegend",
    "HasWalkForward",
    "Overlay",
    "Panel",
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


# --- field metrics: what a quant or an agronomist reads besides the return ---------------------------


@dataclass(frozen=True)
class FigureSpec:
    """What a field figure is: its key (in ``info["episode_metrics"]``), its name and its definition."""

    key: str
    label: str
    definition: str
    unit: str = ""
    """Printed after the value: ``" steps"``, ``" units"``, or nothing; ``"%"`` marks a fraction, printed
    as a percentage (the value stays a fraction: 0.55 prints ``55.0%``)."""
    decimals: int = 2
    quantity: str = ""
    """What the value measures, for an axis label (``"currency"``, ``"ratio"``, ``"crops"``)."""
    baseline: bool = False
    """A baseline measured on the same episodes (buy and hold), not the policy's own figure."""

    def format(self, value: float) -> str:
        """``value`` as this figure prints it, with its unit."""
        if self.unit == "%":
            return f"{100 * value:.{self.decimals}f}%"
        return f"{value:.{self.decimals}f}{self.unit}"


@dataclass(frozen=True)
class Figure:
    """One figure's value, with its 95% interval when it was sampled over episodes."""

    spec: FigureSpec
    value: float | None
    """None where the figure is undefined (a Sharpe ratio of a series that never varies)."""
    interval: tuple[float, float] | None = None
    how: str = ""
    """How a reference value was obtained (``"exact"``, ``"sampled"``), or nothing."""

    def text(self, interval: bool = True) -> str:
        """``0.21 [0.19, 0.23]``, ``55.0%``, or ``n/a`` for an undefined figure."""
        if self.value is None:
            return "n/a"
        shown = self.spec.format(self.value)
        if interval and self.interval is not None:
            low, high = (self.spec.format(bound).removesuffix(self.spec.unit) for bound in self.interval)
            shown += f" [{low}, {high}]"
        return shown


@dataclass(frozen=True)
class FieldReport:
    """A family's figures for one episode or over many: a block with a title and a line on its source."""

    title: str
    """What the block is, e.g. ``"trading metrics"`` or ``"farm accounting"``."""
    figures: tuple[Figure, ...]
    source: str = ""
    """Where the numbers come from, e.g. ``"100 episodes; [95% percentile bootstrap over episodes]"``."""
    note: str = ""
    """What holds for every figure, said once (``"per step, not annualised"``)."""

    def get(self, key: str) -> Figure | None:
        """The figure of ``key``, or None when the block has none."""
        return next((figure for figure in self.figures if figure.spec.key == key), None)

    def value(self, key: str) -> float | None:
        """The value of ``key`` (None when undefined or absent)."""
        figure = self.get(key)
        return None if figure is None else figure.value

    def as_dict(self) -> dict[str, Any]:
        """Plain values for YAML: ``{key: value}``, and ``{key}_interval: [low, high]`` where sampled."""
        out: dict[str, Any] = {}
        for figure in self.figures:
            out[figure.spec.key] = figure.value
            if figure.interval is not None:
                out[f"{figure.spec.key}_interval"] = [float(figure.interval[0]), float(figure.interval[1])]
        return out


@dataclass(frozen=True)
class Panel:
    """One panel of an episode's chart: lines over the steps of the episode, in one unit."""

    title: str
    ylabel: str
    lines: tuple[tuple[str, tuple[float, ...]], ...]
    """``(label, values)`` pairs, one value per step from the start (step 0) on."""
    fill: bool = False
    """Shade between each line and zero (drawdowns)."""


@dataclass(frozen=True)
class EpisodeChart:
    """An episode as its field draws it: titled panels sharing the step axis."""

    title: str
    xlabel: str
    panels: tuple[Panel, ...]


@runtime_checkable
class HasFieldMetrics(Protocol):
    """An env measured as its field measures it, beyond the return: a portfolio, a farm's accounts.

    The env records what the figures need as it steps and computes them when asked (at the end of
    an episode); its final step's ``info["episode_metrics"]`` holds :meth:`episode_metrics` too.
    """

    def episode_metrics(self) -> dict[str, float | None]:
        """The current episode's record: its figures and the sums behind them, plain numbers."""
        ...

    def field_report(self, records: Sequence[Mapping[str, float | None]]) -> FieldReport:
        """The figures of the episodes whose records are given (one record: that episode's), with 95%
        intervals over episodes when there are several."""
        ...

    def optimal_report(self, horizon: int) -> FieldReport | None:
        """The exact optimal policy's figures over ``horizon`` steps, exact where a moment of the model
        gives them and sampled (with the interval) where it does not; None without an exact model."""
        ...

    def episode_chart(self) -> EpisodeChart:
        """The current episode drawn as its field reads it (equity and drawdown beside buy and hold)."""
        ...


@runtime_checkable
class HasActionKinds(Protocol):
    """An env whose actions fall into kinds of decision (the farm's four moves are one: move)."""

    @property
    def action_kinds(self) -> tuple[str, ...]:
        """The kind of each action, in action order."""
        ...


@runtime_checkable
class HasWalkForward(Protocol):
    """An env trading the user's own prices: consecutive out-of-sample folds of them."""

    def walk_forward_folds(self, folds: int) -> list[tuple[str, dict[str, Any]]]:
        """``folds`` consecutive slices of the out-of-sample prices, oldest first: for each, a label
        (which prices) and the ``gym.make`` keyword arguments of an env trading only that slice.
        A ValueError says why when the env has no data of the user's or a fold is too short."""
        ...
