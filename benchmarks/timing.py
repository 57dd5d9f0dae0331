"""The timed loop the vector-env benchmarks share: steps per second summed over the envs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np


def vector_rate(
    step: Callable[[np.ndarray], Any], actions: np.ndarray, seconds: float, at_least: int = 1
) -> float:
    """Steps per second summed over envs: ``step`` called with the rows of ``actions`` (one row per
    step, one action per env) in turn for ``seconds``, and at least ``at_least`` times."""
    steps, start = 0, time.perf_counter()
    while steps < at_least or time.perf_counter() - start < seconds:
        step(actions[steps % len(actions)])
        steps += 1
    return steps * actions.shape[1] / (time.perf_counter() - start)
