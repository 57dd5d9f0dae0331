"""One farm's step on Python numbers, read from the very tables of :mod:`qgym.envs.farm.rules`.

The single env steps one farm at a time, and numpy's per-call cost on arrays of one farm would be most
of its step. So it reads the rule tables the batched rules read (``rule_tables``: moves, rewards, masks;
``WORK_DONE``; ``nature_cdf``; ``index_weights``) as cached Python tuples and applies the same
comparisons to them. Nothing here states a rule of its own: ``tests/envs/test_farm_scalar.py`` checks
every method against its batched twin in :mod:`~qgym.envs.farm.rules` on random states, actions and
uniforms (thresholds included), and the single env against the vector env's episodes.
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qgym.envs.farm.rules import (
    N_CROPS,
    WORK_DONE,
    FarmConfig,
    index_weights,
    nature_cdf,
    rule_tables,
)

__all__ = ["ScalarRules", "scalar_rules"]

_LAST_STAGE = N_CROPS - 1


@dataclass(frozen=True)
class ScalarRules:
    """The rules of one farm as Python tuples: a farm is its crops (a list) and its cell (an int)."""

    config: FarmConfig
    moves: tuple[tuple[int, ...], ...]
    """[cell][action] -> cell (``rule_tables(config).moves``)."""
    rewards: tuple[tuple[float, ...], ...]
    """[action][crop] -> reward (``rule_tables(config).rewards``)."""
    work: tuple[tuple[int, ...], ...]
    """[action][crop] -> the plot's stage after the action (``WORK_DONE``)."""
    masks: tuple[tuple[NDArray[np.int8], ...], ...]
    """[cell][crop under the farmer] -> read-only action mask (``rule_tables(config).masks``)."""
    thresholds: tuple[tuple[tuple[float, ...], ...], ...]
    """[rain][crop] -> the 6 lowest of the 7 thresholds of ``nature_cdf(config)``, sorted: the next
    stage counts the thresholds at or below the plot's uniform, at most 6 (a count does not depend on
    the order, and when all 6 lowest are counted the count is at least 6)."""
    plots: tuple[int, ...]
    """0 .. plots - 1, the column of each plot in the grid observation's planes."""
    weights: tuple[int, ...]
    """The state index's weight of each plot (``index_weights``), empty unless ``obs_mode`` is index."""
    draws: int
    """Uniforms of one step: the rain's, then one per plot (``rules.step`` for a batch of one)."""

    def step(
        self, crops: list[int], cell: int, action: int, draws: list[float]
    ) -> tuple[list[int], int, float, bool]:
        """:func:`rules.step` for one farm given its ``draws``: new crops, cell, reward, rain."""
        crop = crops[cell]
        acted = crops.copy()
        acted[cell] = self.work[action][crop]
        rain = draws[0] < self.config.p_rain
        # nature_step's stage is min(count of thresholds <= u, 6): bisect over the 6 lowest thresholds.
        rows = map(self.thresholds[rain].__getitem__, acted)
        new_crops = list(map(bisect_right, rows, draws[1:]))
        return new_crops, self.moves[cell][action], self.rewards[action][crop], rain

    def observation(self, crops: list[int], cell: int) -> Any:
        """:func:`rules.observations` of one farm: an int, or a fresh int64 / float32 array."""
        mode = self.config.obs_mode
        if mode == "index":
            index = cell
            for crop, weight in zip(crops, self.weights, strict=True):
                index += crop * weight
            return index
        if mode == "factored":
            return np.array([*crops, *divmod(cell, self.config.cols)], dtype=np.int64)
        planes = np.zeros((N_CROPS + 1, self.config.n_plots), dtype=np.float32)
        planes[crops, self.plots] = 1.0
        planes[N_CROPS, cell] = 1.0
        return planes.reshape(-1)

    def action_mask(self, crops: list[int], cell: int) -> NDArray[np.int8]:
        """:func:`rules.action_masks` of one farm, a fresh array."""
        return self.masks[cell][crops[cell]].copy()


@functools.lru_cache(maxsize=64)
def scalar_rules(config: FarmConfig) -> ScalarRules:
    """The :class:`ScalarRules` of ``config`` (one per config)."""
    tables = rule_tables(config)
    cdf = nature_cdf(config)
    weights = index_weights(config).tolist() if config.obs_mode == "index" else []
    return ScalarRules(
        config=config,
        moves=_rows(tables.moves.tolist()),
        rewards=_rows(tables.rewards.tolist()),
        work=_rows(WORK_DONE.tolist()),
        masks=tuple(
            tuple(tables.masks[cell, crop] for crop in range(N_CROPS)) for cell in range(config.n_plots)
        ),
        thresholds=tuple(
            tuple(tuple(sorted(row)[:_LAST_STAGE]) for row in cdf[rain].tolist()) for rain in (0, 1)
        ),
        plots=tuple(range(config.n_plots)),
        weights=tuple(weights),
        draws=1 + config.n_plots,
    )


def _rows(table: list[list[Any]]) -> tuple[tuple[Any, ...], ...]:
    return tuple(tuple(row) for row in table)
