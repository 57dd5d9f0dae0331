"""The timed loops the benchmarks share: steps per second of one env, and summed over a vector env's."""

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


def env_rate(env: Any, seconds: float) -> float:
    """Steps per second of one env (a ``gym.Env``) under random actions (seed 0), reset at episode ends."""
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(env.action_space.n, size=4096).tolist()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for action in actions[:512]:
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
        steps += 512
    return steps / (time.perf_counter() - start)
