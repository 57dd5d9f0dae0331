"""The farm's hand-written policy: the bar a learner must clear on the rungs too large to solve."""

from __future__ import annotations

from typing import Any

import numpy as np

from qgym.envs.farm.rules import N_CROPS, Action, Crop, FarmConfig

__all__ = ["FarmHeuristic"]

_WORK = {
    Crop.EMPTY: Action.PLANT,
    Crop.SEED_DRY: Action.WATER,
    Crop.GROWING_DRY: Action.WATER,
    Crop.RIPE: Action.HARVEST,
    Crop.DEAD: Action.HARVEST,
}


class FarmHeuristic:
    """Work the plot underfoot (plant an empty plot, water a dry crop, harvest a ripe or dead one), else
    walk to the nearest plot that needs work (ties to the first in row-major order), else wait.

    It reads the ``grid`` observation (``obs_mode="grid"``, the observation of the rungs it serves).
    """

    def __init__(self, config: FarmConfig) -> None:
        if config.obs_mode != "grid":
            raise ValueError("FarmHeuristic reads the 'grid' observation of a GridFarm env (obs_mode='grid')")
        self.grid_shape = (N_CROPS + 1, config.rows, config.cols)

    def __call__(self, observation: Any, step: int = 0) -> int:
        """The action for one grid observation (``step`` is not used)."""
        planes = np.asarray(observation).reshape(self.grid_shape)
        crops = planes[:-1].argmax(axis=0)
        row, col = (int(i[0]) for i in np.nonzero(planes[-1]))
        here = int(crops[row, col])
        if here in _WORK:
            return int(_WORK[Crop(here)])
        needy = [(r, c) for r, c in np.ndindex(crops.shape) if int(crops[r, c]) in _WORK]
        if not needy:
            return int(Action.WAIT)
        target_row, target_col = min(needy, key=lambda rc: (abs(rc[0] - row) + abs(rc[1] - col), rc))
        if target_row != row:
            return int(Action.SOUTH if target_row > row else Action.NORTH)
        return int(Action.EAST if target_col > col else Action.WEST)
