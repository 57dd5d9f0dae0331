"""Exploration and step-size schedules, and learning-rate schedules as plain data for saving.

All schedules are functions of SB3's ``progress_remaining`` (1 at the start of training, 0 at the end).
Stable-Baselines3's schedule classes are recognised without importing SB3: an object can only be one
of them once SB3 is imported (a many-seeds run of tables never imports it).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from qgym.validation import is_number

__all__ = [
    "TABULATION_POINTS",
    "LearningRate",
    "TabulatedSchedule",
    "constant_value",
    "learning_rate_function",
    "linear_epsilon",
    "schedule_from_data",
    "schedule_to_data",
]

LearningRate = float | Callable[[float], float]
TABULATION_POINTS = 101


def linear_epsilon(initial: float, final: float, fraction: float, progress_remaining: float) -> float:
    """DQN's exploration rate: from ``initial`` to ``final`` over the first ``fraction`` of training."""
    elapsed = 1.0 - progress_remaining
    if elapsed >= fraction:
        return final
    return initial + elapsed * (final - initial) / fraction


def constant_value(learning_rate: LearningRate) -> float | None:
    """The value of a learning rate that does not change with progress, or None for a real schedule."""
    sb3 = _sb3_schedules()
    if sb3 is not None and isinstance(learning_rate, sb3.FloatSchedule):
        return constant_value(learning_rate.value_schedule)
    if sb3 is not None and isinstance(learning_rate, sb3.ConstantSchedule):
        return float(learning_rate.val)
    if is_number(learning_rate):
        return float(learning_rate)
    return None


def learning_rate_function(learning_rate: LearningRate) -> Callable[[float], float]:
    """The step size at a ``progress_remaining``: a number's constant, or the schedule itself."""
    constant = constant_value(learning_rate)
    if constant is not None:
        return lambda progress_remaining: constant
    assert callable(learning_rate)
    return learning_rate


def _sb3_schedules() -> Any:
    """Stable-Baselines3's module of schedule classes when SB3 is imported, else None."""
    return sys.modules.get("stable_baselines3.common.utils")


class TabulatedSchedule:
    """Piecewise-linear schedule through ``values`` at evenly spaced progress points from 0 to 1."""

    def __init__(self, values: list[float]) -> None:
        if len(values) < 2 or not all(np.isfinite(values)):
            raise ValueError("a tabulated schedule needs at least two finite values")
        self.values = [float(v) for v in values]
        self._grid = np.linspace(0.0, 1.0, len(self.values))

    def __call__(self, progress_remaining: float) -> float:
        return float(np.interp(progress_remaining, self._grid, self.values))

    def __repr__(self) -> str:
        return f"TabulatedSchedule({len(self.values)} points from {self.values[-1]} to {self.values[0]})"


def schedule_to_data(learning_rate: LearningRate) -> float | dict[str, Any]:
    """Describe a learning rate as JSON-ready data.

    A number or constant schedule is stored as a number, SB3's ``LinearSchedule`` by its three
    parameters, and any other callable by its values at ``TABULATION_POINTS`` progress points (it is
    reloaded as a piecewise-linear :class:`TabulatedSchedule`: code is never stored).
    """
    constant = constant_value(learning_rate)
    if constant is not None:
        return constant
    sb3 = _sb3_schedules()
    is_float_schedule = sb3 is not None and isinstance(learning_rate, sb3.FloatSchedule)
    schedule = learning_rate.value_schedule if is_float_schedule else learning_rate  # type: ignore[union-attr]
    if sb3 is not None and isinstance(schedule, sb3.LinearSchedule):
        return {
            "type": "linear",
            "start": float(schedule.start),
            "end": float(schedule.end),
            "end_fraction": float(schedule.end_fraction),
        }
    if isinstance(schedule, TabulatedSchedule):
        return {"type": "tabulated", "values": list(schedule.values)}
    assert callable(schedule)
    grid = np.linspace(0.0, 1.0, TABULATION_POINTS)
    return {"type": "tabulated", "values": [float(schedule(float(p))) for p in grid]}


def schedule_from_data(data: Any) -> LearningRate:
    """Inverse of :func:`schedule_to_data`, validating every field."""
    if isinstance(data, int | float) and not isinstance(data, bool):
        return float(data)
    if not isinstance(data, dict):
        raise ValueError(f"a learning rate must be a number or a schedule description, got {data!r}")
    kind = data.get("type")
    if kind == "linear":
        fields = ("start", "end", "end_fraction")
        if set(data) != {"type", *fields} or not all(is_number(data[f]) for f in fields):
            raise ValueError(f"a linear schedule needs numbers start, end and end_fraction, got {data}")
        from stable_baselines3.common.utils import LinearSchedule

        return LinearSchedule(float(data["start"]), float(data["end"]), float(data["end_fraction"]))
    if kind == "tabulated":
        values = data.get("values")
        if set(data) != {"type", "values"} or not isinstance(values, list) or not all(map(is_number, values)):
            raise ValueError(f"a tabulated schedule needs a list of numbers 'values', got {data}")
        return TabulatedSchedule(values)
    raise ValueError(f"learning rate schedule type must be 'linear' or 'tabulated', got {kind!r}")
