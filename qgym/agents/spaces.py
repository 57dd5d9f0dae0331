"""Which spaces a Q-table can index, and how observations become row numbers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

__all__ = [
    "MAX_TABLE_ENTRIES",
    "ActionIndexer",
    "StateIndexer",
    "check_table_size",
]

MAX_TABLE_ENTRIES = 50_000_000


class StateIndexer:
    """Maps observations of a Discrete, MultiDiscrete or Tuple-of-Discretes space to Q-table rows
    ``0 .. n_states - 1``.

    MultiDiscrete and Tuple observations are flattened in C order (the last component varies fastest).
    A Tuple (Blackjack's ``(sum, dealer card, usable ace)``) is one observation as a tuple of numbers,
    and a batch as an array (batch, components) or as SB3's VecEnvs give it, a tuple of arrays (batch,).
    """

    def __init__(self, space: spaces.Space[Any], algorithm: str = "a tabular agent") -> None:
        if isinstance(space, spaces.Discrete):
            self.n_states = int(space.n)
            self._start = int(space.start)
            self._nvec: NDArray[np.int64] | None = None
            self._starts: NDArray[np.int64] | None = None
        elif isinstance(space, spaces.MultiDiscrete):
            if space.nvec.ndim != 1:
                raise ValueError(
                    f"{algorithm} needs a one-dimensional MultiDiscrete observation space, got shape "
                    f"{space.nvec.shape}; flatten it first (e.g. a gymnasium ObservationWrapper)"
                )
            self._nvec = space.nvec.astype(np.int64)
            self._starts = np.asarray(space.start, dtype=np.int64)
            self.n_states = math.prod(int(n) for n in self._nvec)  # Python ints: no int64 overflow
            self._start = 0
        elif isinstance(space, spaces.Tuple) and _all_discrete(space):
            parts: list[Any] = list(space.spaces)
            self._nvec = np.asarray([int(part.n) for part in parts], dtype=np.int64)
            self._starts = np.asarray([int(part.start) for part in parts], dtype=np.int64)
            self.n_states = math.prod(int(n) for n in self._nvec)
            self._start = 0
        else:
            raise ValueError(
                f"{algorithm} needs a Discrete, MultiDiscrete or Tuple-of-Discretes observation space, "
                f"got {space}; {_advice(space)}"
            )
        self.space = space
        self._tuple = isinstance(space, spaces.Tuple)

    def index(self, observation: Any) -> int:
        """Row of one observation."""
        if self._nvec is None:
            return int(observation) - self._start
        assert self._starts is not None
        digits = np.asarray(self._components(observation), dtype=np.int64).reshape(-1) - self._starts
        return int(np.ravel_multi_index(tuple(digits), tuple(self._nvec)))

    def indices(self, observations: Any) -> NDArray[np.int64]:
        """Rows of a batch of observations, shape (batch,)."""
        batch = np.asarray(self._components(observations))
        if self._nvec is None:
            return batch.astype(np.int64).reshape(-1) - self._start
        assert self._starts is not None
        digits = batch.astype(np.int64).reshape(-1, self._nvec.size) - self._starts
        return np.asarray(np.ravel_multi_index(tuple(digits.T), tuple(self._nvec)), dtype=np.int64)

    def is_batch(self, observation: Any) -> bool:
        """Whether ``observation`` is a batch (one more dimension than a single observation)."""
        shape = np.shape(self._components(observation))
        single_ndim = 0 if self._nvec is None else 1
        if len(shape) == single_ndim:
            if self._nvec is not None and shape != self._nvec.shape:
                raise ValueError(
                    f"observation must have shape {self._nvec.shape} or (batch, {self._nvec.size})"
                )
            return False
        if len(shape) == single_ndim + 1:
            if self._nvec is not None and shape[1:] != self._nvec.shape:
                raise ValueError(
                    f"observation must have shape {self._nvec.shape} or (batch, {self._nvec.size})"
                )
            return True
        expected = "a scalar or a 1-D batch" if self._nvec is None else f"shape {self._nvec.shape} or a batch"
        raise ValueError(f"observation must be {expected} for {self.space}, got shape {shape}")

    def first(self, observations: Any) -> Any:
        """The first observation of a batch, in the form :meth:`index` takes."""
        return np.asarray(self._components(observations))[0]

    def _components(self, observation: Any) -> Any:
        """A Tuple observation as an array: a tuple of arrays (SB3's batch of Tuples) becomes
        (batch, components); a single tuple of numbers stays one row. Other spaces pass through."""
        if (
            self._tuple
            and isinstance(observation, tuple | list)
            and any(np.ndim(part) == 1 for part in observation)
        ):
            return np.stack([np.asarray(part).reshape(-1) for part in observation], axis=1)
        return observation


class ActionIndexer:
    """Maps the actions of a Discrete action space to Q-table columns and back."""

    def __init__(self, space: spaces.Space[Any], algorithm: str = "a tabular agent") -> None:
        if not isinstance(space, spaces.Discrete):
            raise ValueError(f"{algorithm} needs a Discrete action space, got {space}")
        self.n_actions = int(space.n)
        self.start = int(space.start)
        self.space = space


def check_table_size(n_tables: int, n_states: int, n_actions: int) -> None:
    """Refuse tables too large to hold in memory with a sentence instead of a MemoryError."""
    entries = n_tables * n_states * n_actions
    if entries > MAX_TABLE_ENTRIES:
        raise ValueError(
            f"a table of {n_states} states x {n_actions} actions x {n_tables} has {entries} entries, "
            "more than "
            f"{MAX_TABLE_ENTRIES}; use coarser discretization bins or a function approximator such as DQN"
        )


def _all_discrete(space: spaces.Tuple[Any]) -> bool:
    return bool(space.spaces) and all(isinstance(part, spaces.Discrete) for part in space.spaces)


def _advice(space: spaces.Space[Any]) -> str:
    """What to do with a space a table cannot index."""
    if isinstance(space, spaces.Box):
        return (
            "wrap a Box observation with qgym.wrappers.DiscretizeObservation(env, bins=...) to make it "
            "tabular"
        )
    if isinstance(space, spaces.Tuple | spaces.Dict):
        return (
            "a table indexes a Tuple only when every part is Discrete: flatten it "
            "(gymnasium.wrappers.FlattenObservation) and cut it into bins with "
            "qgym.wrappers.DiscretizeObservation, or train --algo dqn"
        )
    return "turn it into one integer with a gymnasium ObservationWrapper, or train --algo dqn"
