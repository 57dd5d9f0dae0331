"""Drawing the outcomes of a tabular model with one uniform number each (inverse CDF).

The model-driven vector env (:mod:`qgym.envs.model_vector`) and the lockstep learners
(:mod:`qgym.agents.lockstep_rules`) both sample :class:`qgym.planning.TabularModel` outcomes; the
thresholds they compare their uniforms with are built here once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["outcome_thresholds"]


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
