"""Tabular agents as Stable-Baselines3 algorithms: Q-learning, SARSA, Expected SARSA, Double Q-learning.

>>> from qgym.agents import QLearning  # doctest: +SKIP
>>> model = QLearning("TabularPolicy", "FrozenLake-v1", seed=0).learn(100_000)  # doctest: +SKIP
"""

from qgym.agents.algorithms import SARSA, DoubleQLearning, ExpectedSARSA, QLearning
from qgym.agents.base import TabularAlgorithm
from qgym.agents.persistence import ModelFileError
from qgym.agents.policy import TabularPolicy

__all__ = [
    "SARSA",
    "DoubleQLearning",
    "ExpectedSARSA",
    "ModelFileError",
    "QLearning",
    "TabularAlgorithm",
    "TabularPolicy",
]
