"""qgym: reinforcement learning made concrete, from the first Q-table to a DQN.

``import qgym`` registers every ``qgym/`` environment with Gymnasium. It imports numpy and
gymnasium only; the agents (torch, Stable-Baselines3) load on first use: ``from qgym import QLearning``.
"""

from typing import TYPE_CHECKING, Any

from qgym import envs as envs
from qgym.envs.trading.prices import generate_prices as generate_prices
from qgym.version import __version__ as __version__

if TYPE_CHECKING:
    from qgym.agents import SARSA as SARSA
    from qgym.agents import DoubleQLearning as DoubleQLearning
    from qgym.agents import ExpectedSARSA as ExpectedSARSA
    from qgym.agents import QLearning as QLearning
    from qgym.agents import TabularAlgorithm as TabularAlgorithm
    from qgym.agents import TabularPolicy as TabularPolicy


_LAZY_AGENTS = frozenset(
    {"QLearning", "SARSA", "ExpectedSARSA", "DoubleQLearning", "TabularAlgorithm", "TabularPolicy"}
)


def __getattr__(name: str) -> Any:
    """Import the tabular agents (torch, Stable-Baselines3) on first use."""
    if name in _LAZY_AGENTS:
        from qgym import agents

        return getattr(agents, name)
    raise AttributeError(f"module 'qgym' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY_AGENTS])
