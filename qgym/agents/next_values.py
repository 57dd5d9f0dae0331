"""What a TD target reads of the next state's action values, in the two forms a rule meets: one row (a
list of floats, the per-transition loops) and a batch of rows (a 2-D array, the batched loop and the
lockstep learners).

A rule writes its target once, with the reductions of a :class:`Reductions` argument: :data:`ONE_ROW`
for one transition, :data:`ROWS` for a batch. Each reduction does the very same float operations in
both forms, so the target gives the same bits per transition and per batch. ``max`` is exact either
way. A sum is not: numpy sums an array pairwise, and Python 3.12's ``sum`` of floats is compensated;
``total`` adds left to right in both forms, which is what ``sum`` did up to Python 3.11 (the tables
qgym's tests pin were made so). ``ONE_ROW.greatest`` is the builtin ``max`` itself: the per-transition
loops run it once a step, and a Python function around it would cost them a tenth of their time.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["ONE_ROW", "ROWS", "NextValues", "Reductions", "Values", "rows_greatest"]

NextValues = Sequence[float] | NDArray[np.float64]
"""Q(s', .) of one transition (a list of floats) or of a batch (a 2-D array, one row each)."""
Values = Any
"""A float for one transition, a 1-D float64 array for a batch."""


@dataclass(frozen=True)
class Reductions:
    """The reductions of Q(s', .) a target may take, for one form of ``next_values``."""

    greatest: Callable[[Any], Values]
    """The largest action value (of each row)."""
    total: Callable[[Any], Values]
    """The sum of the action values (of each row), added left to right from 0.0."""
    count: Callable[[Any], int]
    """The number of actions."""
    first_greatest: Callable[[Any], Any]
    """The lowest action with the largest value (of each row)."""
    pick: Callable[[Any, Any], Values]
    """The value of a given action (one per row)."""


def _row_total(values: Sequence[float]) -> float:
    result = 0.0
    for value in values:
        result += value
    return result


def _row_first_greatest(values: list[float]) -> int:
    return values.index(max(values))


def rows_greatest(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """The greatest value of each row of a 2-D array."""
    if values.shape[1] > 16:
        greatest: NDArray[np.float64] = values.max(axis=1)
        return greatest
    # Column by column: numpy's row reduction costs twice as much on the few actions of a table (max
    # is exact, so the order changes no bit).
    greatest = values[:, 0].copy()
    for column in range(1, values.shape[1]):
        np.maximum(greatest, values[:, column], out=greatest)
    return greatest


def _rows_total(values: NDArray[np.float64]) -> NDArray[np.float64]:
    sums = np.zeros(len(values))
    for column in values.T:
        sums += column
    return sums


def _rows_count(values: NDArray[np.float64]) -> int:
    return int(values.shape[1])


def _rows_first_greatest(values: NDArray[np.float64]) -> NDArray[np.int64]:
    return np.asarray(values.argmax(axis=1), dtype=np.int64)


def _rows_pick(values: NDArray[np.float64], actions: NDArray[np.int64]) -> NDArray[np.float64]:
    return np.asarray(values[np.arange(len(values)), actions])


ONE_ROW = Reductions(
    greatest=max, total=_row_total, count=len, first_greatest=_row_first_greatest, pick=operator.getitem
)
"""For one transition's ``next_values``, a list of floats (``pick`` is ``values[action]`` itself, a C
function: Double Q-learning and SARSA call it once a step)."""
ROWS = Reductions(
    greatest=rows_greatest,
    total=_rows_total,
    count=_rows_count,
    first_greatest=_rows_first_greatest,
    pick=_rows_pick,
)
"""For a batch's ``next_values``, a 2-D array of rows."""
