"""Type checks for values read from users and files: one home for "is this a real integer?".

``bool`` is an ``int`` to Python; none of these accept it, because ``True`` where a count or a
rate belongs is always a mistake.
"""

from __future__ import annotations

import math
from typing import Any, TypeGuard

import numpy as np

__all__ = ["brief", "is_finite_number", "is_int", "is_number", "require_int"]


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
