"""Tabular agents as Stable-Baselines3 algorithms: Q-learning, SARSA, Expected SARSA, Double Q-learning,
n-step SARSA, and any rule added to :mod:`qgym.agents.rules`.

>>> from qgym.agents import QLearning  # doctest: +SKIP
>>> model = QLearning("TabularPolicy", "FrozenLake-v1", seed=0).learn(100_000)  # doctest: +SKIP

The algorithm classes import torch and Stable-Baselines3, so they load on first use; the rules, the
lockstep learners and the model file format do not need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qgym.agents.file_format import ModelFileError

if TYPE_CHECKING:
    from qgym.agents.algorithms import ALGORITHMS, SARSA, DoubleQLearning, ExpectedSARSA, QLearning
    from qgym.agents.base import TabularAlgorithm
    from qgym.agents.policy import TabularPolicy

__all__ = [
    "ALGORITHMS",
    "SARSA",
    "DoubleQLearning",
    "ExpectedSARSA",
    "ModelFileError",
    "QLearning",
    "TabularAlgorithm",
    "TabularPolicy",
]

_ELSEWHERE = {"TabularAlgorithm": "qgym.agents.base", "TabularPolicy": "qgym.agents.policy"}


def __getattr__(name: str) -> Any:
    """The algorithm classes (and their base and policy), imported on first use."""
    import importlib

    if name in _ELSEWHERE:
        return getattr(importlib.import_module(_ELSEWHERE[name]), name)
    if name != "ALGORITHMS" and name not in _algorithm_names():
        raise AttributeError(f"module 'qgym.agents' has no attribute {name!r}")
    algorithms = importlib.import_module("qgym.agents.algorithms")
    return algorithms.ALGORITHMS if name == "ALGORITHMS" else algorithms.algorithm_named(name)


def _algorithm_names() -> set[str]:
    from qgym.agents.rules import RULES

    return {rule.algorithm for rule in RULES.values()}


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_algorithm_names()})
