"""qgym: reinforcement learning made concrete, from the first Q-table to a DQN."""

__version__ = "0.1.0"
