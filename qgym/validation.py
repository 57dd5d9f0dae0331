"""Type checks for values read from users and files: one home for "is this a real integer?".

``bool`` is an ``int`` to Python; none of these accept it, because ``True`` where a count or a
rate belongs is always a mistake.
"""

from __future__ import annotations

import math
import os
from typing import Any, TypeGuard

import numpy as np

__all__ = [
    "MAX_N_ENVS",
    "MEMORY_LIMIT_VARIABLE",
    "MemoryBoundError",
    "brief",
    "check_memory",
    "is_finite_number",
    "is_int",
    "is_number",
    "memory_limit",
    "require_int",
]

MAX_N_ENVS = 65_536
"""The most envs one model trains on (a preset's ``n_envs``, a saved model's)."""
MEMORY_LIMIT_VARIABLE = "QGYM_MEMORY_LIMIT_GB"
"""The environment variable that sets :func:`memory_limit`, in GiB."""
DEFAULT_MEMORY_LIMIT_GB = 4.0


class MemoryBoundError(ValueError):
    """A request whose estimated memory exceeds :func:`memory_limit`, refused before allocating."""


def is_int(value: Any) -> TypeGuard[int]:
    """True for Python and numpy integers, never for ``bool``."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def is_number(value: Any) -> TypeGuard[float]:
    """True for Python and numpy integers and floats (NaN and infinities included), never for ``bool``."""
    return is_int(value) or isinstance(value, float | np.floating)


def is_finite_number(value: Any) -> TypeGuard[float]:
    """A number that is neither NaN nor infinite."""
    return is_number(value) and math.isfinite(float(value))


def require_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is an integer in ``[minimum, maximum]``."""
    if not is_int(value) or value < minimum or (maximum is not None and value > maximum):
        allowed = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        raise ValueError(f"{name} must be an integer {allowed}, got {value!r}")


def brief(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters: an error message never repeats a whole input."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def memory_limit() -> int:
    """The most memory, in bytes, one request may ask for: ``QGYM_MEMORY_LIMIT_GB`` GiB (default 4)."""
    text = os.environ.get(MEMORY_LIMIT_VARIABLE)
    if text is None:
        return int(DEFAULT_MEMORY_LIMIT_GB * 2**30)
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{MEMORY_LIMIT_VARIABLE}={text!r} must be a positive number of GiB, e.g. 16")
    return int(value * 2**30)


def check_memory(what: str, need: float) -> None:
    """Raise a :class:`MemoryBoundError` saying what ``what`` would take unless ``need`` bytes (an
    estimate made before allocating) fit under :func:`memory_limit`."""
    limit = memory_limit()
    if need > limit:
        now = os.environ.get(MEMORY_LIMIT_VARIABLE) or f"{DEFAULT_MEMORY_LIMIT_GB:g} by default"
        raise MemoryBoundError(
            f"{what} would need about {_size(need)} of memory, more than the {_size(limit)} qgym allows; "
            f"nothing was allocated (set {MEMORY_LIMIT_VARIABLE}, now {now}, to raise the bound if the "
            "machine has the memory)"
        )


def _size(count: float) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count / 2**10:,.1f} KiB"
