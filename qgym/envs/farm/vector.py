"""N grid farms in lockstep: the native vector version of :class:`qgym.envs.farm.env.GridFarmEnv`."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from qgym.envs.farm import rules
from qgym.envs.farm.env import GridFarmEnv
from qgym.envs.farm.render import draw_frame, status_line
from qgym.envs.farm.rules import N_CROPS
from qgym.envs.native_vector import FloatArray, IntArray, NativeVectorEnv, Selection

__all__ = ["GridFarmVectorEnv"]

ArrayLikeInt = int | list[int] | list[list[int]] | NDArray[np.integer[Any]]


class GridFarmVectorEnv(NativeVectorEnv):
    """N grid farms in lockstep, stepped by the same rules as the single env.

    Takes the single env's arguments plus ``num_envs``, ``max_episode_steps`` (the season; the farm
    itself never ends) and ``render_mode`` (None, or ``"rgb_array"`` for a frame per sub-env).
    Observations stack the single env's (all three ``obs_mode``); ``info`` holds arrays ``day``,
    ``rained`` and ``action_mask`` (N, 8).
    """

    def __init__(
        self,
        num_envs: int = 1,
        max_episode_steps: int | None = 100,
        render_mode: str | None = None,
        **config: Any,
    ) -> None:
        single = GridFarmEnv(**config)
        super().__init__(single, num_envs, max_episode_steps, render_mode)
        self.config = single.config
        n, plots = self.num_envs, self.config.n_plots
        self._crops = np.zeros((n, plots), dtype=np.int8)
        self._cells = np.zeros(n, dtype=np.int64)
        self._rained = np.zeros(n, dtype=np.bool_)
        # Each sub-env's return and last reward, for its frame's status line (kept when rendering).
        self._returns = np.zeros(n, dtype=np.float64)
        self._last_rewards = np.zeros(n, dtype=np.float64)

    def _reset_envs(self, selection: Selection, count: int) -> None:
        if self.render_mode is not None:
            self._returns[selection] = 0.0
            self._last_rewards[selection] = 0.0
        self._crops[selection] = 0
        self._cells[selection] = self.np_random.integers(self.config.n_plots, size=count)
        self._rained[selection] = False

    def _advance(self, actions: IntArray, selection: Selection, count: int) -> FloatArray:
        crops, cells, rewards, rain = rules.step(
            self._crops[selection], self._cells[selection], actions[selection], self.np_random, self.config
        )
        self._crops[selection] = crops
        self._cells[selection] = cells
        self._rained[selection] = rain
        if self.render_mode is not None:
            self._returns[selection] += rewards
            self._last_rewards[selection] = rewards
        return rewards

    def _frame(self, index: int) -> NDArray[np.uint8]:
        rained = bool(self._rained[index])
        status = status_line(
            int(self._elapsed[index]), float(self._returns[index]), float(self._last_rewards[index]), rained
        )
        return draw_frame(self._crops[index], int(self._cells[index]), self.config, status, rained)

    def _observations(self) -> Any:
        return rules.observations(self._crops, self._cells, self.config)

    def _infos(self) -> dict[str, Any]:
        return {
            "day": self._elapsed.copy(),
            "rained": self._rained.copy(),
            "action_mask": rules.action_masks(self._crops, self._cells, self.config),
        }

    # --- state access, for tests and planners ----------------------------------------------------

    @property
    def crops(self) -> NDArray[np.int8]:
        """A copy of every sub-env's plot stages, shape (N, plots)."""
        return self._crops.copy()

    @property
    def cells(self) -> IntArray:
        """A copy of every sub-env's farmer cell (row-major), shape (N,)."""
        return self._cells.copy()

    @property
    def state_indices(self) -> IntArray:
        """Every sub-env's state index in the exact model."""
        return rules.state_indices(self._crops, self._cells, self.config)

    def set_state(self, crops: ArrayLikeInt, cells: ArrayLikeInt) -> None:
        """Put every sub-env in the given state (crops broadcast to (N, plots), cells to (N,))."""
        new_crops = np.broadcast_to(np.asarray(crops, dtype=np.int8), self._crops.shape)
        new_cells = np.broadcast_to(np.asarray(cells, dtype=np.int64), self._cells.shape)
        if new_crops.min() < 0 or new_crops.max() >= N_CROPS:
            raise ValueError(f"crops must be stages in [0, {N_CROPS - 1}], got {crops!r}")
        if new_cells.min() < 0 or new_cells.max() >= self.config.n_plots:
            raise ValueError(f"cells must be in [0, {self.config.n_plots - 1}], got {cells!r}")
        self._crops[:] = new_crops
        self._cells[:] = new_cells
