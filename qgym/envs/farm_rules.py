"""The grid farm's rules as pure functions over a small state, shared by the env and its exact model.

A state is the crop stage of every plot (row-major) and the agent's cell. One step is the agent's
action (deterministic, :func:`act`) followed by nature: field-wide rain with probability ``p_rain``,
then every plot moves independently by the row of :func:`nature_matrices` for that weather.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ACTION_NAMES",
    "OBS_MODES",
    "Action",
    "Crop",
    "FarmConfig",
    "act",
    "action_mask",
    "nature_matrices",
    "nature_step",
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
_STEPS = {Action.NORTH: (-1, 0), Action.SOUTH: (1, 0), Action.WEST: (0, -1), Action.EAST: (0, 1)}


def _work_table() -> NDArray[np.int8]:
    """``_WORK[action, crop]``: the plot's stage after the agent's action (identity where nothing applies)."""
    work = np.tile(np.arange(len(Crop), dtype=np.int8), (len(Action), 1))
    work[Action.PLANT, Crop.EMPTY] = Crop.SEED_DRY
    work[Action.WATER, Crop.SEED_DRY] = Crop.SEED_WET
    work[Action.WATER, Crop.GROWING_DRY] = Crop.GROWING_WET
    work[Action.HARVEST, Crop.RIPE] = Crop.EMPTY
    work[Action.HARVEST, Crop.DEAD] = Crop.EMPTY
    return work


_WORK = _work_table()


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
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | np.integer)
                or not 1 <= value <= MAX_SIDE
            ):
                raise ValueError(f"{name} must be an integer from 1 to {MAX_SIDE}, got {value!r}")
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name.startswith("p_") and not (_is_real(value) and 0.0 <= value <= 1.0):
                raise ValueError(f"{field.name} must be a probability in [0, 1], got {value!r}")
        for name in ("plant_cost", "water_cost"):
            value = getattr(self, name)
            if not (_is_real(value) and 0.0 <= value < np.inf):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not (_is_real(self.harvest_reward) and 0.0 < self.harvest_reward < np.inf):
            raise ValueError(f"harvest_reward must be a finite number > 0, got {self.harvest_reward!r}")
        if self.obs_mode not in OBS_MODES:
            raise ValueError(f"obs_mode must be one of {', '.join(OBS_MODES)}; got {self.obs_mode!r}")

    @property
    def n_plots(self) -> int:
        return self.rows * self.cols

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
    tables = _tables(config)
    farms = np.arange(len(positions))
    crop = crops[farms, positions]
    new_crops = crops.copy()
    new_crops[farms, positions] = _WORK[actions, crop]
    return new_crops, tables.moves[positions, actions], tables.rewards[actions, crop]


def action_mask(crops: NDArray[np.int8], position: int, config: FarmConfig) -> NDArray[np.int8]:
    """1 for every action that changes something in this state, 0 for the no-ops (``wait`` is always 1)."""
    mask: NDArray[np.int8] = _tables(config).masks[position, crops[position]].copy()
    return mask


def nature_step(
    crops: NDArray[np.int8], rain: NDArray[np.bool_], uniforms: NDArray[np.float64], config: FarmConfig
) -> NDArray[np.int8]:
    """Nature's part of a step for N farms, driven by rain flags (N,) and uniforms (N, plots) in [0, 1)."""
    thresholds = _nature_cdf(config)[rain.astype(np.int64)[:, None], crops]
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
class _Tables:
    """The rules of one farm as lookup tables, so one step is a few array look-ups."""

    moves: NDArray[np.int64]  # (cells, actions) -> cell
    rewards: NDArray[np.float64]  # (actions, crops) -> reward
    masks: NDArray[np.int8]  # (cells, crops, actions) -> 1 where the action changes something


@functools.lru_cache(maxsize=64)
def _tables(config: FarmConfig) -> _Tables:
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
    worked = np.arange(N_CROPS)[:, None] != _WORK.T  # (crops, actions)
    masks = (moved[:, None, :] | worked[None, :, :]).astype(np.int8)
    masks[:, :, Action.WAIT] = 1
    for table in (moves, rewards, masks):
        table.flags.writeable = False
    return _Tables(moves, rewards, masks)


@functools.lru_cache(maxsize=64)
def _nature_cdf(config: FarmConfig) -> NDArray[np.float64]:
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


def _is_real(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
