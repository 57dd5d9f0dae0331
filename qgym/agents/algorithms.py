"""The tabular algorithms: one Stable-Baselines3 class per learning rule of :mod:`qgym.agents.rules`.

Each class is :class:`~qgym.agents.base.TabularAlgorithm` with its rule; they are made here from the
rule registry, so a rule added to :mod:`qgym.agents.rules` is an algorithm without an edit here.

>>> import gymnasium as gym
>>> from qgym.agents import QLearning
>>> model = QLearning("TabularPolicy", gym.make("FrozenLake-v1", is_slippery=False), seed=0)
>>> model = model.learn(5_000)
>>> model.predict(0, deterministic=True)[0].shape
()
"""

from __future__ import annotations

from qgym.agents.base import TabularAlgorithm
from qgym.agents.rules import RULES, Rule, rule_class

__all__ = [
    "ALGORITHMS",
    "SARSA",
    "DoubleQLearning",
    "ExpectedSARSA",
    "QLearning",
    "algorithm_class",
    "algorithm_named",
]


def _algorithm_of(rule: type[Rule]) -> type[TabularAlgorithm]:
    """The SB3 algorithm class of ``rule``: the base with the rule, named and documented after it."""
    base = TabularAlgorithm.__doc__ or ""
    doc = f"{(rule.__doc__ or '').strip()}\n\n    {base[base.find(':param') :].strip()}"
    parameters = "".join(
        f"\n    :param {parameter.name}: {parameter.meaning} (default {parameter.default})"
        for parameter in rule.parameters
    )
    namespace = {
        "rule_class": rule,
        "n_tables": rule.n_tables,
        "__doc__": doc + parameters,
        "__module__": __name__,
    }
    return type(rule.algorithm, (TabularAlgorithm,), namespace)


ALGORITHMS: dict[str, type[TabularAlgorithm]] = {name: _algorithm_of(rule) for name, rule in RULES.items()}
"""Every tabular algorithm by the name ``--algo`` takes (``"qlearning"``, ``"sarsa"``, ...)."""

QLearning = ALGORITHMS["qlearning"]
SARSA = ALGORITHMS["sarsa"]
ExpectedSARSA = ALGORITHMS["expected_sarsa"]
DoubleQLearning = ALGORITHMS["double_qlearning"]


def algorithm_class(name: str) -> type[TabularAlgorithm]:
    """The algorithm ``--algo name`` trains (a ValueError listing the rules when unknown)."""
    return ALGORITHMS[rule_class(name).name or name]


def algorithm_named(class_name: str) -> type[TabularAlgorithm]:
    """The algorithm whose class is called ``class_name`` (e.g. ``"QLearning"``), else AttributeError."""
    for algorithm in ALGORITHMS.values():
        if algorithm.__name__ == class_name:
            return algorithm
    raise AttributeError(f"qgym.agents has no algorithm {class_name!r}")
