"""The step size alpha of a TD update: the scheduled one, or with visit decay ``w`` the per-(state,
action) ``max(n ** -w, alpha)`` of the pair's n-th update (Robbins-Monro for ``w`` in (0.5, 1]).

One rule in three forms that give the same floats: :meth:`StepSizes.one` for one update (the
per-transition loops), :meth:`StepSizes.counted` for a batch of updates in order (the batched loop and
the lockstep learners; the k-th update of a pair within the batch counts ``n + k``), and the compiled
loop of :mod:`qgym.agents.kernels`, which reads :meth:`StepSizes.powers`. Every power comes from
``math.pow``; the compiled and numpy forms read a table of them.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["StepSizes"]

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]


class StepSizes:
    """Counts the visits of (state, action) pairs and gives each update its step size.

    :param visit_decay: the exponent ``w``, or None for the scheduled alpha alone.
    """

    def __init__(self, visit_decay: float | None) -> None:
        self.visit_decay = visit_decay
        self._powers: Floats | None = None

    def one(self, visits: Ints, state: int, action: int, alpha: float) -> float:
        """Count one visit of (state, action) in ``visits`` and return its step size."""
        n = visits.item(state, action) + 1
        visits[state, action] = n
        if self.visit_decay is None:
            return alpha
        return max(math.pow(n, -self.visit_decay), alpha)

    def counted(self, visits: Ints, cells: Ints, alpha: float, distinct: bool = False) -> float | Floats:
        """Count a visit of each cell (flat ``state * n_actions + action`` indices of ``visits``, in
        update order) and return their step sizes: one float without visit decay, else one per update.
        ``distinct``: no cell repeats, which spares ranking them."""
        flat = visits.reshape(-1)
        if self.visit_decay is None:
            if distinct:
                flat[cells] += 1
            else:
                np.add.at(flat, cells, 1)
            return alpha
        counts = flat[cells] + (1 if distinct else _ranks(cells) + 1)
        if distinct:
            flat[cells] = counts
        else:
            np.add.at(flat, cells, 1)
        steps: Floats = np.maximum(self.powers(int(counts.max()) if len(counts) else 0)[counts], alpha)
        return steps

    def powers(self, largest: int) -> Floats:
        """``n ** -visit_decay`` for n = 0 .. ``largest`` at least (kept between calls, grown by half
        again when outrun)."""
        assert self.visit_decay is not None, "powers are for visit decay"
        table = self._powers
        if table is None or len(table) <= largest:
            size = max(2 * largest, 1024)
            table = np.array([0.0] + [math.pow(n, -self.visit_decay) for n in range(1, size + 1)])
            self._powers = table
        return table


def _ranks(cells: Ints) -> Ints:
    """For each update, how many earlier updates of the batch have its cell."""
    n = len(cells)
    # A stable sort of 16-bit keys is a radix sort, about 10x a stable sort of 64-bit ones: same order.
    keys = cells.astype(np.int16) if n and int(cells.max()) < 2**15 else cells
    order = np.argsort(keys, kind="stable")
    ordered = cells[order]
    first = np.ones(n, dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    position = np.arange(n)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = position - np.maximum.accumulate(np.where(first, position, 0))
    return rank
