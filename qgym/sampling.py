"""Drawing the outcomes of a tabular model with one uniform number each (inverse CDF).

The model-driven vector env (:mod:`qgym.envs.model_vector`) and the lockstep learners
(:mod:`qgym.agents.lockstep_rules`) both sample :class:`qgym.planning.TabularModel` outcomes; the
thresholds they compare their uniforms with are built here once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["OutcomeDraws", "outcome_thresholds"]


def outcome_thresholds(probs: NDArray[Any]) -> NDArray[np.float64]:
    """Cumulative probabilities over the last axis without its last column, every threshold from the
    last possible outcome on set to infinity.

    The outcome a uniform ``u`` in [0, 1) draws is the number of thresholds ``<= u``, so it never lands
    past the last outcome with a probability, even where rounding leaves the sum just below 1.
    """
    width = probs.shape[-1]
    cumulative = np.cumsum(probs, axis=-1, dtype=np.float64)
    last = width - 1 - np.argmax(probs[..., ::-1] > 0, axis=-1)
    cumulative[np.arange(width) >= last[..., None]] = np.inf
    thresholds: NDArray[np.float64] = cumulative[..., : width - 1]
    return thresholds


class OutcomeDraws:
    """Rows of outcome probabilities, (rows, width), ready to draw from: :meth:`cells` turns one
    uniform per chosen row into the flat index ``row * width + outcome`` of the outcome it draws."""

    COLUMNS = 8
    """Up to this many thresholds a row (toy text has at most 2) are compared a contiguous column at a
    time, which is faster than one 2-D comparison."""

    def __init__(self, probs: NDArray[Any]) -> None:
        self.width = probs.shape[1]
        self.thresholds = outcome_thresholds(probs).reshape(probs.shape[0], self.width - 1)
        self._columns: list[NDArray[np.float64]] | None = None
        if self.width - 1 <= self.COLUMNS:
            self._columns = [np.ascontiguousarray(self.thresholds[:, k]) for k in range(self.width - 1)]

    def cells(self, rows: NDArray[np.int64], draws: NDArray[np.float64]) -> NDArray[np.int64]:
        """``rows * width`` plus each row's outcome: how many of its thresholds its uniform has passed."""
        cells: NDArray[np.int64] = rows * self.width
        if self._columns is not None:
            for column in self._columns:
                cells += column.take(rows) <= draws
        else:
            cells += np.add.reduce(self.thresholds[rows] <= draws[:, None], axis=1, dtype=np.int64)
        return cells
