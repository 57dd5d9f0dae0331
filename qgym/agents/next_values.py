"""What a TD target reads of the next state's action values, written once for both forms a rule meets:
one row (a list of floats, the per-transition loops) and a batch of rows (a 2-D array, the batched loop).

Each reduction does the very same float operations in both forms, so a target written with them gives
the same bits per transition and per batch. ``max`` is exact either way. A sum is not: numpy sums an
array pairwise, and Python 3.12's ``sum`` of floats is compensated; :func:`total` adds left to right in
both forms, which is what ``sum`` did up to Python 3.11 (the tables qgym's tests pin were made so).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["NextValues", "Values", "count", "greatest", "total"]

NextValues = Sequence[float] | NDArray[np.float64]
"""Q(s', .) of one transition (a sequence of floats) or of a batch (a 2-D array, one row each)."""
Values = Any
"""A float for one transition, a 1-D float64 array for a batch."""


# Each function tests for a list first: the loops' one row is a list, and that test is their whole cost.


def greatest(values: NextValues) -> Values:
    """The largest action value of each row."""
    if type(values) is list or not isinstance(values, np.ndarray):
        return max(values)
    return values.max(axis=1)


def total(values: NextValues) -> Values:
    """The sum of each row's action values, added left to right from 0.0."""
    if type(values) is list or not isinstance(values, np.ndarray):
        result = 0.0
        for value in values:
            result += value
        return result
    sums = np.zeros(len(values))
    for column in values.T:
        sums += column
    return sums


def count(values: NextValues) -> int:
    """The number of actions in a row."""
    if type(values) is list or not isinstance(values, np.ndarray):
        return len(values)
    return int(values.shape[1])
