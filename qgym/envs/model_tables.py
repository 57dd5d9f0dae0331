"""A toy-text model ``P`` read into a :class:`~qgym.planning.TabularModel`, checked once, vectorized.

Gymnasium's toy-text envs, and a user's env written like them, describe their dynamics as
``P[state][action] = [(probability, next_state, reward, terminated), ...]`` and
``initial_state_distrib``. :func:`read_toy_text_model` reads them into padded arrays and refuses, in a
sentence naming the state, the action and the outcome, anything a sampler would otherwise step through
silently or crash on: probabilities that are not numbers in [0, 1] or do not sum to one, next states
outside the model, rewards that are not finite, empty outcome lists, values numpy would coerce (the
string ``'False'`` is true, ``1.7`` becomes state 1). Its size is bounded before anything is iterated
(a lazy ``P`` may claim 10^8 states). :func:`check_model_arrays` checks a model given as arrays
(``transition_model()``) the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qgym.planning import TabularModel
from qgym.validation import brief

__all__ = ["check_model_arrays", "read_toy_text_model"]

_OUTCOME = "(probability, next_state, reward, terminated)"
_RTOL, _ATOL = 1e-5, 1e-9  # numpy.allclose's, as TabularModel checks its sums


def read_toy_text_model(name: str, transitions: Any, start: Any, max_entries: int) -> TabularModel:
    """``P`` and ``initial_state_distrib`` of the env ``name`` as a checked :class:`TabularModel` of at
    most ``max_entries`` entries (states x actions x outcomes); a ValueError names what is wrong."""
    n_states, n_actions = _shape(name, transitions, max_entries)
    entries, counts = _outcomes(name, transitions, n_states, n_actions, max_entries)
    locate = _Locator(name, n_actions, counts)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        raise ValueError(
            f"{locate.pair(int(empty[0]))} is an empty list: every state and action needs at least one "
            f"outcome {_OUTCOME} whose probabilities sum to 1 (a state that ends the episode still needs "
            "one, e.g. (1.0, state, 0.0, True))"
        )
    bad_length = next((j for j, entry in enumerate(entries) if not _is_outcome(entry)), None)
    if bad_length is not None:
        raise ValueError(
            f"{locate.outcome(bad_length)} is {brief(entries[bad_length])}, not a tuple {_OUTCOME}"
        )
    columns = list(zip(*entries, strict=True))
    probs = _column(columns[0], "probability", "a number in [0, 1]", _numeric, np.float64, locate)
    states = f"an integer state from 0 to {n_states - 1}"
    next_states = _column(columns[1], "next state", states, _integral, np.int64, locate)
    rewards = _column(columns[2], "reward", "a finite number", _numeric, np.float64, locate)
    ends = _column(columns[3], "terminated", "True or False", _flag, np.int64, locate)
    _check_values(probs, next_states, rewards, ends, n_states, locate)
    sums = np.add.reduceat(probs, locate.offsets[:-1]) if probs.size else np.zeros(0)
    wrong = np.flatnonzero(~np.isclose(sums, 1.0, rtol=_RTOL, atol=_ATOL))
    if wrong.size:
        row = int(wrong[0])
        raise ValueError(f"{locate.pair(row)}: the probabilities sum to {sums[row]:.6g}, not 1")
    initial = _initial_distribution(name, start, n_states)
    return _padded(probs, next_states, rewards, ends.astype(np.bool_), counts, n_states, n_actions, initial)


def check_model_arrays(name: str, model: TabularModel) -> None:
    """A ValueError naming the first bad entry unless ``model``'s arrays are a valid model: finite
    probabilities in [0, 1], integer next states inside the model, finite rewards, a start distribution."""
    shape = model.probs.shape
    counts = np.full(shape[0] * shape[1], shape[2], dtype=np.int64)
    locate = _Locator(name, shape[1], counts, "model")
    arrays = (model.probs, model.next_states, model.rewards, model.terminated)
    names, kinds = ("probs", "next_states", "rewards", "terminated"), ("fiu", "iu", "fiu", "b")
    for array, what, kind in zip(arrays, names, kinds, strict=True):
        if array.dtype.kind not in kind:
            raise ValueError(f"{name}'s model: {what} has dtype {array.dtype}, which is not a model's")
    probs = model.probs.reshape(-1)
    reached = np.where(probs > 0, model.next_states.reshape(-1), 0)
    _check_values(probs, reached, model.rewards.reshape(-1), model.terminated.reshape(-1), shape[0], locate)
    _initial_distribution(name, model.initial_distribution, shape[0])


# --- helpers -------------------------------------------------------------------------------------


class _Locator:
    """Turns a flat outcome number (or a (state, action) row) into words: ``P[s][a]``, outcome ``k``."""

    def __init__(self, name: str, n_actions: int, counts: NDArray[np.int64], what: str = "P") -> None:
        self.name, self.n_actions, self.what = name, n_actions, what
        self.offsets = np.concatenate(([0], np.cumsum(counts)))

    def pair(self, row: int) -> str:
        state, action = divmod(row, self.n_actions)
        return f"{self.name}'s {self.what}[{state}][{action}] (state {state}, action {action})"

    def outcome(self, flat: int) -> str:
        row = int(np.searchsorted(self.offsets, flat, side="right")) - 1
        return f"{self.pair(row)}, outcome {flat - int(self.offsets[row])},"


def _shape(name: str, transitions: Any, max_entries: int) -> tuple[int, int]:
    """States and actions of ``P``, bounded before a single row is read."""
    if isinstance(transitions, str | bytes) or not isinstance(transitions, Mapping | Sequence):
        raise ValueError(
            f"{name}'s P must map each state 0..n-1 to a mapping of each action to a list of outcomes "
            f"{_OUTCOME}, got {type(transitions).__name__}"
        )
    try:
        n_states = len(transitions)
        first = _entry(name, transitions, 0, "P", "state") if n_states else None
        n_actions = len(first) if isinstance(first, Mapping | Sequence) and not isinstance(first, str) else 0
    except (TypeError, OverflowError) as error:
        raise ValueError(f"{name}'s P cannot be read as a table: {error}") from None
    if n_states == 0 or n_actions == 0:
        raise ValueError(f"{name}'s P is empty: it needs a list of outcomes for every state and action")
    if n_states * n_actions > max_entries:
        raise ValueError(
            f"{name}'s P has {n_states:,} states x {n_actions:,} actions, more than the {max_entries:,} "
            "model entries a model-driven env holds; nothing of it was read"
        )
    return n_states, n_actions


def _entry(name: str, table: Any, key: int, where: str, what: str) -> Any:
    """``table[key]``, or a sentence saying which state or action is missing."""
    try:
        return table[key]
    except (KeyError, IndexError, TypeError):
        keys = sorted(table)[:3] if isinstance(table, Mapping) else None
        seen = "" if keys is None else f" (its keys begin {brief(keys)})"
        raise ValueError(
            f"{name}'s {where} has no {what} {key}{seen}: its keys must be the {what}s 0 to {len(table) - 1}"
        ) from None


def _outcomes(
    name: str, transitions: Any, n_states: int, n_actions: int, max_entries: int
) -> tuple[list[Any], NDArray[np.int64]]:
    """Every outcome of every (state, action), in order, and how many each pair has."""
    entries: list[Any] = []
    counts = np.zeros(n_states * n_actions, dtype=np.int64)
    for state in range(n_states):
        row = _entry(name, transitions, state, "P", "state")
        if isinstance(row, str) or not isinstance(row, Mapping | Sequence) or len(row) != n_actions:
            size = len(row) if isinstance(row, Mapping | Sequence) else brief(row)
            raise ValueError(
                f"{name}'s P[{state}] has {size} actions, P[0] has {n_actions}: every state needs a list "
                "of outcomes for each action"
            )
        for action in range(n_actions):
            outcomes = _entry(name, row, action, f"P[{state}]", "action")
            if not isinstance(outcomes, list | tuple):
                raise ValueError(
                    f"{name}'s P[{state}][{action}] must be a list of outcomes {_OUTCOME}, "
                    f"got {brief(outcomes)}"
                )
            if len(entries) + len(outcomes) > max_entries:
                raise ValueError(
                    f"{name}'s P has more than {max_entries:,} outcomes (by P[{state}][{action}]): more than "
                    "a model-driven env holds"
                )
            counts[state * n_actions + action] = len(outcomes)
            entries.extend(outcomes)
    return entries, counts


def _is_outcome(entry: Any) -> bool:
    return isinstance(entry, tuple | list) and len(entry) == 4


_NUMBER_TYPES = (int, float, np.integer, np.floating)
_FLAG_TYPES = (bool, np.bool_, int, np.integer)


def _numeric(kind: type) -> bool:
    return issubclass(kind, _NUMBER_TYPES) and not issubclass(kind, bool | np.bool_)


def _integral(kind: type) -> bool:
    return issubclass(kind, int | np.integer) and not issubclass(kind, bool | np.bool_)


def _flag(kind: type) -> bool:
    return issubclass(kind, _FLAG_TYPES)


def _column(
    values: tuple[Any, ...],
    what: str,
    allowed: str,
    accepts: Callable[[type], bool],
    dtype: type,
    locate: _Locator,
) -> NDArray[Any]:
    """One field of every outcome as an array of ``dtype``; a value numpy would coerce (a string, True
    for a number, 1.7 for a state) or cannot hold (2**70) is named instead."""
    refused = {kind for kind in set(map(type, values)) if not accepts(kind)}
    if not refused:
        try:
            return np.asarray(values, dtype=dtype)
        except OverflowError:
            pass  # an integer too large for the array: named below
    flat = next(j for j, value in enumerate(values) if type(value) in refused or not _fits(value, dtype))
    raise ValueError(f"{locate.outcome(flat)} has the {what} {brief(values[flat])}: it must be {allowed}")


def _fits(value: Any, dtype: type) -> bool:
    try:
        np.asarray(value, dtype=dtype)
    except (OverflowError, ValueError, TypeError):
        return False
    return True


def _check_values(
    probs: NDArray[Any],
    next_states: NDArray[Any],
    rewards: NDArray[Any],
    ends: NDArray[Any],
    n_states: int,
    locate: _Locator,
) -> None:
    """Values each outcome must hold, checked over all outcomes at once."""
    checks = (
        (probs, ~((probs >= 0) & (probs <= 1)), "probability", "a number in [0, 1]"),
        (
            next_states,
            (next_states < 0) | (next_states >= n_states),
            "next state",
            f"from 0 to {n_states - 1}",
        ),
        (rewards, ~np.isfinite(rewards), "reward", "a finite number"),
        (ends, (ends != 0) & (ends != 1), "terminated", "True or False"),
    )
    for values, bad, what, allowed in checks:
        flat = np.flatnonzero(bad)
        if flat.size:
            j = int(flat[0])
            raise ValueError(f"{locate.outcome(j)} has the {what} {values[j].item()!r}: it must be {allowed}")


def _initial_distribution(name: str, start: Any, n_states: int) -> NDArray[np.float64]:
    try:
        array = np.asarray(start)
    except (ValueError, OverflowError):
        array = np.asarray(0)
    if array.shape != (n_states,) or array.dtype.kind not in "fiu":
        raise ValueError(
            f"{name}'s initial_state_distrib must be {n_states} probabilities, one per state, "
            f"got {brief(start)}"
        )
    initial = array.astype(np.float64)
    bad = np.flatnonzero(~((initial >= 0) & (initial <= 1)))
    if bad.size:
        state = int(bad[0])
        raise ValueError(
            f"{name}'s initial_state_distrib[{state}] is {initial[state].item()!r}: it must be in [0, 1]"
        )
    total = float(initial.sum())
    if not np.isclose(total, 1.0, rtol=_RTOL, atol=_ATOL):
        raise ValueError(f"{name}'s initial_state_distrib must sum to 1, it sums to {total:.6g}")
    return initial


def _padded(
    probs: NDArray[Any],
    next_states: NDArray[Any],
    rewards: NDArray[Any],
    ends: NDArray[np.bool_],
    counts: NDArray[np.int64],
    n_states: int,
    n_actions: int,
    initial: NDArray[np.float64],
) -> TabularModel:
    """The outcomes in (states, actions, most outcomes) arrays, zero-padded as toy text would be."""
    width = int(counts.max())
    rows = np.repeat(np.arange(counts.size), counts)
    position = np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)
    shape = (n_states * n_actions, width)
    arrays: list[NDArray[Any]] = []
    for values, dtype in (
        (next_states, np.int64),
        (probs, np.float64),
        (rewards, np.float64),
        (ends, np.bool_),
    ):
        padded = np.zeros(shape, dtype=dtype)
        padded[rows, position] = values
        arrays.append(padded.reshape(n_states, n_actions, width))
    return TabularModel(arrays[0], arrays[1], arrays[2], arrays[3], initial)
