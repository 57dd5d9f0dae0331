"""The grid farm's rules as pure functions over a small state, shared by the env and its exact model.

A state is the crop stage of every plot (row-major) and the agent's cell. One step is the agent's
action (deterministic, :func:`act`) followed by nature: field-wide rain with probability ``p_rain``,
then every plot moves independently by the row of :func:`nature_matrices` for that weather.

Every function works on a batch of N farms: the single env is a batch of one, the vector env a batch
of N, and the exact model applies :func:`act` to every state at once. The state index, the three
observation modes and the action masks are defined here and nowhere else.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Any

import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from qgym.validation import is_number, require_int

__all__ = [
    "ACTION_NAMES",
    "CROP_NAMES",
    "OBS_MODES",
    "WORK_DONE",
    "Action",
    "Crop",
    "FarmConfig",
    "RuleTables",
    "act",
    "action_masks",
    "decode_states",
    "index_weights",
    "nature_cdf",
    "nature_matrices",
    "nature_step",
    "observation_space",
    "observations",
    "rule_tables",
    "state_indices",
    "step",
]

OBS_MODES = ("index", "factored", "grid")
MAX_SIDE = 32


class Crop(IntEnum):
    """Stage of one plot. Planted crops need water to grow; dry ones may wither, ripe ones may rot."""

    EMPTY = 0
    SEED_DRY = 1
    SEED_WET = 2
    GROWING_DRY = 3
    GROWING_WET = 4
    RIPE = 5
    DEAD = 6


class Action(IntEnum):
    """The agent's moves and farm work; work applies to the plot the agent stands on."""

    NORTH = 0
    SOUTH = 1
    WEST = 2
    EAST = 3
    PLANT = 4
    WATER = 5
    HARVEST = 6
    WAIT = 7


N_CROPS = len(Crop)
N_ACTIONS = len(Action)
ACTION_NAMES = tuple(action.name.lower() for action in Action)
CROP_NAMES = ("empty", "seeded, dry", "seeded, wet", "growing, dry", "growing, wet", "ripe", "withered")
"""What each :class:`Crop` stage is called in legends and help texts."""
_STEPS = {Action.NORTH: (-1, 0), Action.SOUTH: (1, 0), Action.WEST: (0, -1), Action.EAST: (0, 1)}


def _work_table() -> NDArray[np.int8]:
    """``WORK_DONE[action, crop]``: the plot's stage after the agent's action (identity where nothing
    applies)."""
    work = np.tile(np.arange(len(Crop), dtype=np.int8), (len(Action), 1))
    work[Action.PLANT, Crop.EMPTY] = Crop.SEED_DRY
    work[Action.WATER, Crop.SEED_DRY] = Crop.SEED_WET
    work[Action.WATER, Crop.GROWING_DRY] = Crop.GROWING_WET
    work[Action.HARVEST, Crop.RIPE] = Crop.EMPTY
    work[Action.HARVEST, Crop.DEAD] = Crop.EMPTY
    return work


WORK_DONE = _work_table()


@dataclass(frozen=True)
class FarmConfig:
    """Size, weather and prices of a farm, validated when built."""

    rows: int = 2
    cols: int = 2
    p_rain: float = 0.25
    p_grow: float = 0.15
    p_evap: float = 0.2
    p_wither: float = 0.05
    p_rot: float = 0.05
    plant_cost: float = 1.0
    water_cost: float = 0.5
    harvest_reward: float = 10.0
    obs_mode: str = "index"

    def __post_init__(self) -> None:
        for name in ("rows", "cols"):
            require_int(name, getattr(self, name), 1, MAX_SIDE)
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name.startswith("p_") and not (is_number(value) and 0.0 <= value <= 1.0):
                raise ValueError(f"{field.name} must be a probability in [0, 1], got {value!r}")
        for name in ("plant_cost", "water_cost"):
            value = getattr(self, name)
            if not (is_number(value) and 0.0 <= value < np.inf):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not (is_number(self.harvest_reward) and 0.0 < self.harvest_reward < np.inf):
            raise ValueError(f"harvest_reward must be a finite number > 0, got {self.harvest_reward!r}")
        if self.obs_mode not in OBS_MODES:
            raise ValueError(f"obs_mode must be one of {', '.join(OBS_MODES)}; got {self.obs_mode!r}")

    @property
    def n_plots(self) -> int:
        return self.rows * self.cols

    @property
    def n_states(self) -> int:
        """Crop stages of every plot times the agent's cells (a Python int: it may exceed int64)."""
        return int(N_CROPS**self.n_plots * self.n_plots)

    @property
    def is_deterministic(self) -> bool:
        return all(getattr(self, f.name) in (0.0, 1.0) for f in fields(self) if f.name.startswith("p_"))


def act(
    crops: NDArray[np.int8], positions: NDArray[np.int64], actions: NDArray[np.int64], config: FarmConfig
) -> tuple[NDArray[np.int8], NDArray[np.int64], NDArray[np.float64]]:
    """The agent's part of a step for a batch of N farms: new crops (N, plots), cells (N,), rewards (N,).

    Moving off the field, and work that does not apply to the plot (planting a planted plot,
    watering a wet one, harvesting an unripe one), change nothing and cost nothing.
    """
    tables = rule_tables(config)
    farms = np.arange(len(positions))
    crop = crops[farms, positions]
    new_crops = crops.copy()
    new_crops[farms, positions] = WORK_DONE[actions, crop]
    return new_crops, tables.moves[positions, actions], tables.rewards[actions, crop]


def step(
    crops: NDArray[np.int8],
    cells: NDArray[np.int64],
    actions: NDArray[np.int64],
    rng: np.random.Generator,
    config: FarmConfig,
) -> tuple[NDArray[np.int8], NDArray[np.int64], NDArray[np.float64], NDArray[np.bool_]]:
    """One whole step of N farms: the agents act, then nature, driven by ``rng``.

    Returns the new crops, cells, rewards and rain flags. It draws N uniforms for the rain, then
    (N, plots) for the plots: a batch of one draws what the single env always drew.
    """
    acted, new_cells, rewards = act(crops, cells, actions, config)
    rain = rng.random(len(cells)) < config.p_rain
    uniforms = rng.random((len(cells), config.n_plots))
    return nature_step(acted, rain, uniforms, config), new_cells, rewards, rain


def action_masks(crops: NDArray[np.int8], cells: NDArray[np.int64], config: FarmConfig) -> NDArray[np.int8]:
    """(N, actions): 1 for every action that changes something, 0 for the no-ops (``wait`` is always 1)."""
    under = crops[np.arange(len(cells)), cells]
    masks: NDArray[np.int8] = rule_tables(config).masks[cells, under]
    return masks


def state_indices(crops: NDArray[np.int8], cells: NDArray[np.int64], config: FarmConfig) -> NDArray[np.int64]:
    """State index of N farms: ``ravel_multi_index((*crops, cell), (7,) * plots + (plots,))``."""
    indices: NDArray[np.int64] = crops.astype(np.int64) @ index_weights(config) + cells
    return indices


def decode_states(states: Any, config: FarmConfig) -> tuple[NDArray[np.int8], NDArray[np.int64]]:
    """Crops (N, plots) and cells (N,) of N state indices; a ValueError names an index out of range."""
    indices = np.asarray(states, dtype=np.int64).reshape(-1)
    if indices.size and (indices.min() < 0 or indices.max() >= config.n_states):
        raise ValueError(f"a state index must be in [0, {config.n_states - 1}], got {states!r}")
    rest, cells = np.divmod(indices, config.n_plots)
    crops = np.empty((len(indices), config.n_plots), dtype=np.int8)
    for plot in reversed(range(config.n_plots)):
        rest, crops[:, plot] = np.divmod(rest, N_CROPS)
    return crops, cells


def observation_space(config: FarmConfig) -> spaces.Space[Any]:
    """The observation space of ``config.obs_mode`` (see :func:`observations`)."""
    if config.obs_mode == "index":
        if config.n_states > np.iinfo(np.int64).max // 2:
            raise ValueError(
                f"obs_mode 'index' cannot number the states of a "
                f"{config.rows}x{config.cols} field; use obs_mode 'factored' or 'grid'"
            )
        return spaces.Discrete(config.n_states)
    if config.obs_mode == "factored":
        return spaces.MultiDiscrete([N_CROPS] * config.n_plots + [config.rows, config.cols])
    return spaces.Box(0.0, 1.0, shape=((N_CROPS + 1) * config.n_plots,), dtype=np.float32)


def observations(crops: NDArray[np.int8], cells: NDArray[np.int64], config: FarmConfig) -> NDArray[Any]:
    """What N farms observe in ``config.obs_mode``: ``index``, the state index (N,); ``factored``, every
    plot's stage then the agent's row and column (N, plots + 2); ``grid``, flat one-hot planes
    (N, 8 * plots): 7 crop planes and the agent's, ``reshape(8, rows, cols)`` per farm."""
    if config.obs_mode == "index":
        return state_indices(crops, cells, config)
    n = len(cells)
    if config.obs_mode == "factored":
        rows, cols = np.divmod(cells, config.cols)
        return np.concatenate([crops.astype(np.int64), rows[:, None], cols[:, None]], axis=1)
    plots = config.n_plots
    planes = np.zeros((n, N_CROPS + 1, plots), dtype=np.float32)
    farms = np.arange(n)
    planes[farms[:, None], crops, np.arange(plots)] = 1.0
    planes[farms, N_CROPS, cells] = 1.0
    return planes.reshape(n, -1)


def nature_step(
    crops: NDArray[np.int8], rain: NDArray[np.bool_], uniforms: NDArray[np.float64], config: FarmConfig
) -> NDArray[np.int8]:
    """Nature's part of a step for N farms, driven by rain flags (N,) and uniforms (N, plots) in [0, 1)."""
    thresholds = nature_cdf(config)[rain.astype(np.int64)[:, None], crops]
    stage = (uniforms[..., None] >= thresholds).sum(axis=-1)
    next_crops: NDArray[np.int8] = np.minimum(stage, N_CROPS - 1).astype(np.int8)
    return next_crops


def nature_matrices(config: FarmConfig) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-plot transition matrices ``(dry_day, rainy_day)``: ``T[c, c']`` is P(c -> c' | weather).

    Rain wets every planted plot. A wet crop grows one stage with ``p_grow`` (seed -> growing -> ripe)
    and, unless it rains, dries out with ``p_evap``. A dry crop withers with ``p_wither``. A ripe crop
    rots with ``p_rot``. Empty and dead plots stay as they are.
    """
    return _nature_matrix(config, rain=False), _nature_matrix(config, rain=True)


@dataclass(frozen=True)
class RuleTables:
    """The rules of one farm as lookup tables, so one step is a few array look-ups."""

    moves: NDArray[np.int64]  # (cells, actions) -> cell
    rewards: NDArray[np.float64]  # (actions, crops) -> reward
    masks: NDArray[np.int8]  # (cells, crops, actions) -> 1 where the action changes something


@functools.lru_cache(maxsize=64)
def rule_tables(config: FarmConfig) -> RuleTables:
    cells = config.n_plots
    moves = np.tile(np.arange(cells, dtype=np.int64)[:, None], (1, N_ACTIONS))
    for cell in range(cells):
        row, col = divmod(cell, config.cols)
        for action, (d_row, d_col) in _STEPS.items():
            if 0 <= row + d_row < config.rows and 0 <= col + d_col < config.cols:
                moves[cell, action] = (row + d_row) * config.cols + col + d_col
    rewards = np.zeros((N_ACTIONS, N_CROPS))
    rewards[Action.PLANT, Crop.EMPTY] = -config.plant_cost
    rewards[Action.WATER, [Crop.SEED_DRY, Crop.GROWING_DRY]] = -config.water_cost
    rewards[Action.HARVEST, Crop.RIPE] = config.harvest_reward
    moved = moves != np.arange(cells)[:, None]  # (cells, actions)
    worked = np.arange(N_CROPS)[:, None] != WORK_DONE.T  # (crops, actions)
    masks = (moved[:, None, :] | worked[None, :, :]).astype(np.int8)
    masks[:, :, Action.WAIT] = 1
    for table in (moves, rewards, masks):
        table.flags.writeable = False
    return RuleTables(moves, rewards, masks)


@functools.lru_cache(maxsize=64)
def index_weights(config: FarmConfig) -> NDArray[np.int64]:
    """``7 ** (plots - 1 - i) * plots`` for plot i: the state index is a dot product with the crops."""
    if config.n_states > np.iinfo(np.int64).max:
        raise ValueError(f"a {config.rows}x{config.cols} field has more states than an int64 can number")
    return np.array([N_CROPS ** (config.n_plots - 1 - i) * config.n_plots for i in range(config.n_plots)])


@functools.lru_cache(maxsize=64)
def nature_cdf(config: FarmConfig) -> NDArray[np.float64]:
    """Cumulative rows of both matrices, exactly 1.0 from each row's last possible outcome on."""
    matrices = np.stack(nature_matrices(config))
    cumulative = np.cumsum(matrices, axis=2)
    for weather, crop in np.ndindex(2, N_CROPS):
        last = int(np.flatnonzero(matrices[weather, crop])[-1])
        cumulative[weather, crop, last:] = 1.0
    return cumulative


def _nature_matrix(config: FarmConfig, rain: bool) -> NDArray[np.float64]:
    matrix = np.zeros((N_CROPS, N_CROPS))
    matrix[Crop.EMPTY, Crop.EMPTY] = 1.0
    matrix[Crop.DEAD, Crop.DEAD] = 1.0
    matrix[Crop.RIPE, Crop.DEAD] = config.p_rot
    matrix[Crop.RIPE, Crop.RIPE] = 1.0 - config.p_rot
    stages = ((Crop.SEED_DRY, Crop.SEED_WET), (Crop.GROWING_DRY, Crop.GROWING_WET))
    p_dry_out = 0.0 if rain else config.p_evap
    for stage, (dry, wet) in enumerate(stages):
        for crop, is_wet in ((dry, False), (wet, True)):
            if not (is_wet or rain):
                matrix[crop, Crop.DEAD] += config.p_wither
                matrix[crop, crop] += 1.0 - config.p_wither
                continue
            if stage == len(stages) - 1:
                matrix[crop, Crop.RIPE] += config.p_grow
            else:
                next_dry, next_wet = stages[stage + 1]
                matrix[crop, next_dry] += config.p_grow * p_dry_out
                matrix[crop, next_wet] += config.p_grow * (1.0 - p_dry_out)
            matrix[crop, dry] += (1.0 - config.p_grow) * p_dry_out
            matrix[crop, wet] += (1.0 - config.p_grow) * (1.0 - p_dry_out)
    return matrix
