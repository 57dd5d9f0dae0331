"""What defines a tabular model, as plain validated data: its hyperparameters and its training state.

:class:`Hyperparameters` is validated once, when a model is built or loaded, with a sentence naming
the argument; :class:`TrainingState` holds the counters and random generator states that let a loaded
model continue exactly where it stopped. Both convert to and from JSON-ready dicts, which is all
:mod:`qgym.agents.file_format` stores of them: the file format knows no algorithm.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from qgym.agents.schedules import LearningRate, constant_value, schedule_from_data, schedule_to_data
from qgym.validation import MAX_N_ENVS, brief, is_int, is_number

__all__ = ["POLICY_KWARGS", "Hyperparameters", "TrainingState", "fresh_state", "generators"]

POLICY_KWARGS = frozenset({"initial_q_value"})
"""The keyword arguments of :class:`qgym.agents.policy.TabularPolicy`."""

RandomState = tuple[Any, ...]


@dataclass(frozen=True)
class Hyperparameters:
    """The constructor arguments of a tabular algorithm (see :class:`qgym.agents.TabularAlgorithm`)."""

    learning_rate: LearningRate = 0.1
    gamma: float = 0.99
    exploration_fraction: float = 0.1
    exploration_initial_eps: float = 1.0
    exploration_final_eps: float = 0.05
    visit_decay: float | None = None
    stats_window_size: int = 100
    tensorboard_log: str | None = None
    policy_kwargs: dict[str, Any] = field(default_factory=dict)
    verbose: int = 0
    seed: int | None = None
    rule_parameters: dict[str, Any] = field(default_factory=dict)
    """The rule's own hyperparameters (e.g. n-step SARSA's ``n_steps``), checked by the rule."""

    def __post_init__(self) -> None:
        constant = constant_value(self.learning_rate)
        if constant is None and not callable(self.learning_rate):
            raise ValueError(
                f"learning_rate must be a number in [0, 1] or a schedule callable, got {self.learning_rate!r}"
            )
        if constant is not None and not 0.0 <= constant <= 1.0:
            raise ValueError(f"learning_rate must be in [0, 1], got {constant}")
        if constant == 0.0 and self.visit_decay is None:
            raise ValueError(
                "learning_rate 0 never changes the table; it is a floor only under visit_decay "
                "(step size max(n ** -visit_decay, learning_rate)): give a rate in (0, 1] or a visit_decay"
            )
        for name in ("gamma", "exploration_fraction", "exploration_initial_eps", "exploration_final_eps"):
            value = getattr(self, name)
            if not (is_number(value) and 0.0 <= value <= 1.0):
                raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
        decay = self.visit_decay
        if decay is not None and not (is_number(decay) and 0.0 < decay <= 1.0):
            raise ValueError(f"visit_decay must be None or a number in (0, 1], got {decay!r}")
        if not (is_int(self.stats_window_size) and self.stats_window_size >= 1):
            raise ValueError(f"stats_window_size must be a positive integer, got {self.stats_window_size!r}")
        if self.tensorboard_log is not None and not isinstance(self.tensorboard_log, str):
            raise ValueError(f"tensorboard_log must be a folder name or None, got {self.tensorboard_log!r}")
        if not is_int(self.verbose):
            raise ValueError(f"verbose must be 0, 1 or 2, got {self.verbose!r}")
        if self.seed is not None and not is_int(self.seed):
            raise ValueError(f"seed must be an integer or None, got {self.seed!r}")
        if not isinstance(self.policy_kwargs, dict):
            raise ValueError(f"policy_kwargs must be a dict, got {self.policy_kwargs!r}")
        unknown = set(self.policy_kwargs) - POLICY_KWARGS
        if unknown:
            raise ValueError(f"policy_kwargs accepts only {sorted(POLICY_KWARGS)}, got {sorted(unknown)}")
        for key, value in self.policy_kwargs.items():
            if not (is_number(value) and math.isfinite(value)):
                raise ValueError(f"policy_kwargs {key} must be a finite number, got {value!r}")
        if not isinstance(self.rule_parameters, dict) or not all(
            isinstance(key, str) and is_number(value) for key, value in self.rule_parameters.items()
        ):
            raise ValueError(f"rule_parameters must map names to numbers, got {self.rule_parameters!r}")

    def as_kwargs(self) -> dict[str, Any]:
        """The constructor's keyword arguments (a fresh dict)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["policy_kwargs"] = dict(self.policy_kwargs)
        values["rule_parameters"] = dict(self.rule_parameters)
        return values

    def to_data(self) -> dict[str, Any]:
        """JSON-ready: the learning rate as a number or a schedule description (never code); the rule's
        own parameters only when it has some (files of the rules without any keep their 0.1.0 keys)."""
        data = self.as_kwargs()
        data["learning_rate"] = schedule_to_data(self.learning_rate)
        if not self.rule_parameters:
            del data["rule_parameters"]
        return data

    @classmethod
    def from_data(cls, data: Any) -> Hyperparameters:
        """Inverse of :meth:`to_data`: exactly the known keys, every value validated."""
        values = _exact_fields(cls, data, "hyperparameters", optional={"rule_parameters"})
        values["learning_rate"] = schedule_from_data(data["learning_rate"])
        return cls(**values)


@dataclass(frozen=True)
class TrainingState:
    """Counters and generator states: where training stands, so a loaded model continues exactly."""

    num_timesteps: int
    total_timesteps: int
    episode_num: int
    n_updates: int
    progress_remaining: float
    exploration_rate: float
    n_envs: int
    rng_state: RandomState
    predict_rng_state: RandomState

    def __post_init__(self) -> None:
        for name in ("num_timesteps", "total_timesteps", "episode_num", "n_updates", "n_envs"):
            value = getattr(self, name)
            if not is_int(value) or value < 0:
                raise ValueError(f"state '{name}' must be a non-negative integer, got {brief(value)}")
        if not 1 <= self.n_envs <= MAX_N_ENVS:
            raise ValueError(f"state 'n_envs' must be from 1 to {MAX_N_ENVS:,}, got {self.n_envs}")
        for name in ("progress_remaining", "exploration_rate"):
            value = getattr(self, name)
            if not (is_number(value) and 0.0 <= value <= 1.0):
                raise ValueError(f"state '{name}' must be a number in [0, 1], got {value!r}")

    def to_data(self) -> dict[str, Any]:
        """JSON-ready: Python's generator states as lists of integers (``asdict`` would deep-copy
        their 625 integers one by one, a third of the time to write a model file)."""
        data = {item.name: getattr(self, item.name) for item in fields(self)}
        for name in ("rng_state", "predict_rng_state"):
            version, internal, gauss_next = getattr(self, name)
            data[name] = {"version": version, "internal": list(internal), "gauss_next": gauss_next}
        return data

    @classmethod
    def from_data(cls, data: Any) -> TrainingState:
        """Inverse of :meth:`to_data`: exactly the known keys, every value validated."""
        values = _exact_fields(cls, data, "state")
        for name in ("rng_state", "predict_rng_state"):
            values[name] = _random_state_from_data(data[name])
        return cls(**values)


def fresh_state(settings: Hyperparameters, n_envs: int, num_timesteps: int = 0) -> TrainingState:
    """The training state a model built with ``settings`` on ``n_envs`` envs holds before it learns
    (its generators seeded from ``settings.seed``), with ``num_timesteps`` steps counted."""
    train, predict = generators(settings.seed)
    return TrainingState(
        num_timesteps, 0, 0, 0, 1.0, float(settings.exploration_initial_eps), n_envs, train.getstate(),
        predict.getstate(),
    )  # fmt: skip


def generators(seed: int | None) -> tuple[random.Random, random.Random]:
    """The agent's two generators (exploration during training, ``predict``), both from ``seed``."""
    train_seed, predict_seed = np.random.SeedSequence(seed).generate_state(2, dtype=np.uint64)
    return random.Random(int(train_seed)), random.Random(int(predict_seed))


def _exact_fields(
    cls: type, data: Any, section: str, optional: frozenset[str] | set[str] = frozenset()
) -> dict[str, Any]:
    """A copy of ``data`` when it is a dict with exactly the dataclass's field names (those in
    ``optional`` may be missing), else a ValueError."""
    expected = {f.name for f in fields(cls)}
    if not isinstance(data, dict) or not expected - set(optional) <= set(data) <= expected:
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"'{section}' must have exactly the keys {sorted(expected)}, got {got}")
    return dict(data)


def _random_state_from_data(data: Any) -> RandomState:
    """Python's Mersenne Twister state (``random.Random.getstate()``), checked field by field."""
    valid = (
        isinstance(data, dict)
        and set(data) == {"version", "internal", "gauss_next"}
        and data["version"] == 3
        and isinstance(data["internal"], list)
        and len(data["internal"]) == 625
        and all(is_int(v) and 0 <= v < 2**32 for v in data["internal"][:-1])
        and is_int(data["internal"][-1])
        and 0 <= data["internal"][-1] <= 624
        and (data["gauss_next"] is None or is_number(data["gauss_next"]))
        and any(data["internal"][:-1])  # all zero: a generator that draws 0 forever, never a saved one
    )
    if not valid:
        raise ValueError("a random generator state must be Python's Mersenne Twister state (version 3)")
    return (3, tuple(data["internal"]), data["gauss_next"])
