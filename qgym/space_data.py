"""Gymnasium spaces as plain JSON data, and back: how model files record the spaces they fit.

Only ``Discrete``, ``MultiDiscrete``, ``Box`` and a ``Tuple`` of ``Discrete`` spaces (Blackjack's) are
described. Reading validates every field and
bounds every size, so a crafted description is refused with a sentence, never a traceback or a huge
allocation. Infinite ``Box`` bounds are written as the strings ``"inf"`` and ``"-inf"`` (JSON has no
infinity).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium import spaces

from qgym.validation import is_int, is_number

__all__ = ["MAX_COMPONENTS", "space_from_data", "space_to_data"]

MAX_COMPONENTS = 100_000
"""Most components a described space may have (a Box of this many numbers is 400 kB of float32)."""
_MAX_INTEGER = 2**62
_INTEGER_DTYPES = frozenset({"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"})
_FLOAT_DTYPES = frozenset({"float16", "float32", "float64"})


def space_to_data(space: spaces.Space[Any]) -> dict[str, Any]:
    """Describe a Discrete, MultiDiscrete, Box or Tuple-of-Discretes space as JSON-ready plain data."""
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start), "dtype": str(space.dtype)}
    if isinstance(space, spaces.MultiDiscrete):
        return {
            "type": "MultiDiscrete",
            "nvec": space.nvec.astype(np.int64).tolist(),
            "start": np.asarray(space.start, dtype=np.int64).tolist(),
            "dtype": str(space.dtype),
        }
    if isinstance(space, spaces.Box):
        return {
            "type": "Box",
            "shape": [int(side) for side in space.shape],
            "low": [_bound_to_data(x) for x in space.low.reshape(-1).tolist()],
            "high": [_bound_to_data(x) for x in space.high.reshape(-1).tolist()],
            "dtype": str(space.dtype),
        }
    if isinstance(space, spaces.Tuple) and all(isinstance(part, spaces.Discrete) for part in space.spaces):
        return {"type": "Tuple", "spaces": [space_to_data(part) for part in space.spaces]}
    raise ValueError(
        "only Discrete, MultiDiscrete, Box and Tuple-of-Discrete spaces can be described as data, "
        f"got {space}"
    )


def space_from_data(
    data: Any,
) -> spaces.Discrete | spaces.MultiDiscrete | spaces.Box | spaces.Tuple[Any]:
    """Rebuild a space from :func:`space_to_data`'s description, validating every field."""
    if not isinstance(data, dict):
        raise ValueError(f"a space description must be a JSON object, got {type(data).__name__}")
    kind = data.get("type")
    if kind == "Discrete":
        _expect_keys(data, {"type", "n", "start", "dtype"})
        dtype = _dtype(data, _INTEGER_DTYPES)
        n, start = data["n"], data["start"]
        if not (is_int(n) and 1 <= n < _MAX_INTEGER and is_int(start) and abs(start) < _MAX_INTEGER):
            raise ValueError(
                f"a Discrete space needs an integer n from 1 to 2**62 and an integer start, got {data}"
            )
        _fits(dtype, [start, start + n - 1, n], "Discrete", "its n, start and start + n - 1")
        return spaces.Discrete(n, start=start, dtype=dtype)
    if kind == "MultiDiscrete":
        _expect_keys(data, {"type", "nvec", "start", "dtype"})
        dtype = _dtype(data, _INTEGER_DTYPES)
        nvec, start = data["nvec"], data["start"]
        valid = (
            isinstance(nvec, list)
            and isinstance(start, list)
            and 1 <= len(nvec) == len(start) <= MAX_COMPONENTS
            and all(is_int(v) and 1 <= v < 2**31 for v in nvec)
            and all(is_int(v) and abs(v) < 2**31 for v in start)
        )
        if not valid:
            raise ValueError(
                "a MultiDiscrete space needs lists nvec (each from 1 to 2**31) and start of equal length, "
                f"at most {MAX_COMPONENTS} components"
            )
        _fits(
            dtype,
            [*start, *nvec, *(a + b - 1 for a, b in zip(start, nvec, strict=True))],
            "MultiDiscrete",
            "its values",
        )
        return spaces.MultiDiscrete(
            np.array(nvec, dtype=dtype), dtype=dtype, start=np.array(start, dtype=dtype)
        )
    if kind == "Box":
        _expect_keys(data, {"type", "shape", "low", "high", "dtype"})
        dtype = _dtype(data, _FLOAT_DTYPES)
        shape = data["shape"]
        if not (
            isinstance(shape, list) and 1 <= len(shape) <= 8 and all(is_int(s) and s >= 1 for s in shape)
        ):
            raise ValueError("a Box space needs a shape: a list of 1 to 8 positive integers")
        size = math.prod(shape)
        if size > MAX_COMPONENTS:
            raise ValueError(f"a Box space may have at most {MAX_COMPONENTS} components, this one {size}")
        low, high = (_bounds(data[key], key, size) for key in ("low", "high"))
        if np.any(low > high):
            raise ValueError("a Box space needs low <= high in every component")
        kind_of = np.dtype(dtype)  # float32 values were written exactly, so the cast is exact
        box: spaces.Box = spaces.Box(
            low.reshape(shape).astype(kind_of), high.reshape(shape).astype(kind_of), dtype=kind_of
        )
        return box
    if kind == "Tuple":
        _expect_keys(data, {"type", "spaces"})
        parts = data["spaces"]
        if not (isinstance(parts, list) and 1 <= len(parts) <= 64):
            raise ValueError("a Tuple space needs a list 'spaces' of 1 to 64 Discrete spaces")
        if not all(isinstance(part, dict) and part.get("type") == "Discrete" for part in parts):
            raise ValueError("a Tuple space may hold Discrete spaces only")
        return spaces.Tuple([space_from_data(part) for part in parts])
    raise ValueError(f"space type must be 'Discrete', 'MultiDiscrete', 'Box' or 'Tuple', got {kind!r}")


def _bound_to_data(value: float) -> float | str:
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def _bounds(values: Any, key: str, size: int) -> np.ndarray:
    if not isinstance(values, list) or len(values) != size:
        raise ValueError(f"a Box space needs {key}: a list of {size} numbers")
    numbers = []
    for value in values:
        if value in ("inf", "-inf") or (is_number(value) and math.isfinite(value)):
            numbers.append(float(value))
        else:
            raise ValueError(f"a Box space's {key} holds {value!r}: numbers, 'inf' or '-inf' only")
    return np.array(numbers, dtype=np.float64)


def _fits(dtype: str, values: list[int], kind: str, what: str) -> None:
    """A ValueError unless ``values`` are integers ``dtype`` holds (numpy would raise OverflowError)."""
    limits = np.iinfo(np.dtype(dtype))
    if values and not (limits.min <= min(values) and max(values) <= limits.max):
        raise ValueError(
            f"a {kind} space of dtype {dtype} holds {limits.min} to {limits.max}; {what} reach "
            f"{min(values)} to {max(values)}"
        )


def _dtype(data: dict[str, Any], allowed: frozenset[str]) -> str:
    dtype = data.get("dtype")
    if dtype not in allowed:
        raise ValueError(f"a {data['type']} space's dtype must be one of {sorted(allowed)}, got {dtype!r}")
    return str(dtype)


def _expect_keys(data: dict[str, Any], keys: set[str]) -> None:
    if set(data) != keys:
        raise ValueError(f"a space description must have exactly the keys {sorted(keys)}, got {sorted(data)}")
