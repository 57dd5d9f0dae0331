"""qgym: reinforcement learning made concrete, from the first Q-table to a DQN.

``import qgym`` registers every ``qgym/`` environment with Gymnasium. It imports numpy and
gymnasium only; the agents (torch, Stable-Baselines3) load on first use.
"""

from qgym import envs as envs
from qgym.envs.prices import generate_prices as generate_prices

__version__ = "0.1.0"
