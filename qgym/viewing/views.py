"""Every env seen through qgym's viewer interface (:mod:`qgym.envs.interface`).

qgym's envs implement the interface themselves. Gymnasium's toy-text envs get their documented
action names, their grid and readable states from an adapter here; any other env gets numbered
actions and its own ``rgb_array`` frame. Viewers call :func:`view_of` and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.toy_text import CliffWalkingEnv, FrozenLakeEnv, TaxiEnv
from numpy.typing import NDArray

from qgym import planning
from qgym.envs.interface import (
    AgentOnCells,
    CellMark,
    EnvView,
    GridMarks,
    GridView,
    HasLegend,
    Overlay,
    StateNames,
)
from qgym.envs.pygame_frames import import_pygame

__all__ = [
    "GenericView",
    "ToyTextGridView",
    "ToyTextView",
    "action_mask",
    "agent_on_cells",
    "cell_marks",
    "episode_end",
    "grid_view",
    "legend_of",
    "state_names",
    "toy_text_keys",
    "view_of",
]

# Gymnasium's documented action meanings of its toy-text envs.
_TOY_TEXT_ACTIONS: dict[type, tuple[str, ...]] = {
    FrozenLakeEnv: ("left", "down", "right", "up"),
    CliffWalkingEnv: ("up", "right", "down", "left"),
    TaxiEnv: ("south", "north", "east", "west", "pickup", "dropoff"),
}


def toy_text_keys(env: gym.Env[Any, Any]) -> dict[tuple[int, ...], int] | None:
    """Keys to play Gymnasium's toy-text envs (which ship none): the arrows, and p and d for Taxi's
    pickup and dropoff; None for any other env."""
    base = env.unwrapped
    if type(base) not in _TOY_TEXT_ACTIONS:
        return None
    pygame = import_pygame()
    arrows = {"up": pygame.K_UP, "down": pygame.K_DOWN, "left": pygame.K_LEFT, "right": pygame.K_RIGHT}
    arrows |= {"north": pygame.K_UP, "south": pygame.K_DOWN, "west": pygame.K_LEFT, "east": pygame.K_RIGHT}
    arrows |= {"pickup": pygame.K_p, "dropoff": pygame.K_d}
    return {(arrows[name],): action for action, name in enumerate(_TOY_TEXT_ACTIONS[type(base)])}


def view_of(env: gym.Env[Any, Any]) -> EnvView:
    """What a viewer asks of ``env``: the env itself when it implements the interface, else an adapter."""
    base = env.unwrapped
    if isinstance(base, EnvView):
        return base
    if isinstance(base, FrozenLakeEnv | CliffWalkingEnv):
        return ToyTextGridView(env)
    if type(base) in _TOY_TEXT_ACTIONS:
        return ToyTextView(env)
    return GenericView(env)


_END_WORDS = {"hole": "fell into a hole", "goal": "reached the goal", "cliff": "fell off the cliff"}


def episode_end(env: gym.Env[Any, Any], terminated: bool, truncated: bool, steps: int) -> str | None:
    """How the episode just ended, in words for the screen: the cell it ended on (a hole, the goal) or
    the time limit; None while it goes on."""
    if terminated:
        marks = cell_marks(env)
        if marks is not None:
            try:
                label = marks[planning.current_state(env)].label
            except (ValueError, IndexError):
                label = ""
            if label:
                return f"the episode is over: {_END_WORDS.get(label, f'reached the {label}')}"
        return "the episode is over: the env ended it"
    if truncated:
        return f"time is up: {steps} steps, the episode's limit"
    return None


def action_mask(env: gym.Env[Any, Any]) -> NDArray[np.bool_] | None:
    """The actions that change something now (the env's ``action_masks()``, sb3-contrib's convention), or
    None for an env without masks."""
    masks = getattr(env.unwrapped, "action_masks", None)
    if not callable(masks):
        return None
    return np.asarray(masks(), dtype=bool).reshape(-1)


def grid_view(env: gym.Env[Any, Any]) -> GridView | None:
    """The env's grid (qgym's farm, FrozenLake, CliffWalking), or None for an env without one."""
    view = view_of(env)
    return view if isinstance(view, GridView) else None


def state_names(env: gym.Env[Any, Any]) -> StateNames | None:
    """Readable names of the env's model states, or None when it names none."""
    view = view_of(env)
    return view if isinstance(view, StateNames) else None


def cell_marks(env: gym.Env[Any, Any], context: Sequence[int] | None = None) -> list[CellMark] | None:
    """What each cell of a grid env is (labels, cells where episodes end, moves that stay), or None."""
    view = view_of(env)
    return view.cell_marks(context) if isinstance(view, GridMarks) else None


def legend_of(env: gym.Env[Any, Any]) -> HasLegend | None:
    """What the env's frame symbols mean, or None for an env that explains none."""
    view = view_of(env)
    return view if isinstance(view, HasLegend) else None


def agent_on_cells(env: gym.Env[Any, Any]) -> AgentOnCells | None:
    """The env's present moment with its agent on each cell (qgym's farm), or None."""
    view = view_of(env)
    return view if isinstance(view, AgentOnCells) else None


class GenericView:
    """Any env: actions by number, no status lines, its own ``rgb_array`` frame."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        self.env = env

    @property
    def action_names(self) -> tuple[str, ...]:
        return tuple(str(i) for i in range(int(getattr(self.env.action_space, "n", 0))))

    def status_lines(self) -> list[str]:
        return []

    def draw(self, overlay: Overlay | None = None) -> NDArray[np.uint8]:
        frame = self.env.render()
        if not isinstance(frame, np.ndarray) or frame.ndim != 3:
            name = self.env.spec.id if self.env.spec is not None else type(self.env.unwrapped).__name__
            raise ValueError(
                f"{name} did not render an rgb_array frame (make it with render_mode='rgb_array')"
            )
        return np.asarray(frame, dtype=np.uint8)


class ToyTextView(GenericView):
    """Gymnasium's toy-text envs: their documented action names, states by number."""

    @property
    def action_names(self) -> tuple[str, ...]:
        return _TOY_TEXT_ACTIONS[type(self.env.unwrapped)]

    def state_label(self, state: int) -> str:
        return f"s{state}"

    def state_legend(self) -> str:
        return "the env's state number"


class ToyTextGridView(ToyTextView):
    """FrozenLake and CliffWalking: one state per cell of a grid, numbered row-major."""

    @property
    def grid_size(self) -> tuple[int, int]:
        base: Any = self.env.unwrapped
        shape = np.asarray(base.desc).shape if isinstance(base, FrozenLakeEnv) else base.shape
        return int(shape[0]), int(shape[1])

    def grid_observations(self, context: Sequence[int] | None = None) -> list[Any]:
        rows, cols = self.grid_size
        return list(range(rows * cols))

    def state_label(self, state: int) -> str:
        row, col = divmod(int(state), self.grid_size[1])
        return f"row {row} col {col}"

    def state_legend(self) -> str:
        return "the agent's cell (row 0 at the top)"

    def cell_marks(self, context: Sequence[int] | None = None) -> list[CellMark]:
        """FrozenLake's start, holes and goal (from its map); CliffWalking's start, cliff and goal."""
        base: Any = self.env.unwrapped
        rows, cols = self.grid_size
        if isinstance(base, FrozenLakeEnv):
            letters = [
                str(letter, "utf-8") if isinstance(letter, bytes) else str(letter)
                for letter in np.asarray(base.desc).reshape(-1)
            ]
            names = {"S": ("start", False), "H": ("hole", True), "G": ("goal", True), "F": ("", False)}
            return [CellMark(*names[letter]) for letter in letters]
        marks = [CellMark() for _ in range(rows * cols)]
        bottom = (rows - 1) * cols
        marks[bottom] = CellMark("start")
        for cell in range(bottom + 1, bottom + cols - 1):
            marks[cell] = CellMark("cliff", terminal=True)  # stepping on it sends the agent back to start
        marks[bottom + cols - 1] = CellMark("goal", terminal=True)
        return marks
