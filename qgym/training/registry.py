"""The algorithms and envs the training interface knows, by name, and each name checked once.

``check_algorithm`` and ``check_env_id`` turn a typo into a sentence with the nearest names; the
rest of :mod:`qgym.training` takes names these have accepted.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

import gymnasium as gym

from qgym.agents.rules import RULES

__all__ = [
    "ALGORITHMS",
    "DEEP_ALGORITHMS",
    "TABULAR_ALGORITHMS",
    "TOY_TEXT_IDS",
    "algorithm_class",
    "check_algorithm",
    "check_env_id",
    "constructor_arguments",
    "nearest",
]

TABULAR_ALGORITHMS = {name: rule.algorithm for name, rule in RULES.items()}
"""The tabular agents of :mod:`qgym.agents` (one per rule of :mod:`qgym.agents.rules`), by the name
``--algo`` takes."""

DEEP_ALGORITHMS = {"dqn": ("stable_baselines3", "DQN"), "qrdqn": ("sb3_contrib", "QRDQN")}
"""Neural algorithms: SB3's DQN and sb3-contrib's QR-DQN (a DQN that learns quantiles of the return),
each with the package that holds it."""

ALGORITHMS = (*TABULAR_ALGORITHMS, *DEEP_ALGORITHMS)

TOY_TEXT_IDS = ("FrozenLake-v1", "FrozenLake8x8-v1", "Taxi-v4", "CliffWalking-v1")
"""Gymnasium's envs with an exact model (toy-text ``P``) that qgym ships presets for."""


def check_algorithm(algo: str) -> str:
    """``algo`` itself when known, else a ValueError listing the algorithms and the nearest match."""
    if algo in ALGORITHMS:
        return algo
    raise ValueError(
        f"unknown algorithm {algo!r}{nearest(algo, ALGORITHMS)}; choose one of {', '.join(ALGORITHMS)}"
    )


def check_env_id(env_id: str) -> str:
    """``env_id`` when registered, else a ValueError naming the nearest registered IDs."""
    import qgym.envs  # noqa: F401  (registers the qgym IDs)

    if env_id in gym.registry:
        return env_id
    raise ValueError(
        f"unknown env ID {env_id!r}{nearest(env_id, gym.registry, 0.5)}; 'qgym list' shows the qgym IDs"
    )


def algorithm_class(algo: str) -> Any:
    """The class of ``algo`` (imported on first use: torch and SB3 are heavy)."""
    import importlib

    if algo in DEEP_ALGORITHMS:
        module, name = DEEP_ALGORITHMS[algo]
        return getattr(importlib.import_module(module), name)
    from qgym.agents.algorithms import algorithm_class as tabular_class

    return tabular_class(check_algorithm(algo))


def constructor_arguments(algo: str) -> frozenset[str]:
    """The keyword arguments ``algo``'s constructor takes, but for the policy, the env and private ones
    (a table's without importing it: the shared hyperparameters and its rule's own)."""
    import inspect

    if algo in TABULAR_ALGORITHMS:
        from dataclasses import fields

        from qgym.agents.settings import Hyperparameters

        shared = {field.name for field in fields(Hyperparameters)} - {"rule_parameters"}
        own = {parameter.name for parameter in RULES[algo].parameters}
        return frozenset(shared | own | {"device"})
    parameters = inspect.signature(algorithm_class(algo).__init__).parameters
    return frozenset(
        name
        for name, parameter in parameters.items()
        if name not in {"self", "policy", "env"}
        and not name.startswith("_")
        and parameter.kind is not inspect.Parameter.VAR_KEYWORD
    )


def nearest(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """`` (did you mean 'a' or 'b'?)`` for the choices close to ``word``, else an empty string."""
    matches = difflib.get_close_matches(word, list(choices), n=3, cutoff=cutoff)
    return f" (did you mean {' or '.join(repr(m) for m in matches)}?)" if matches else ""
