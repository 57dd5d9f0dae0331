"""A look-ahead bug on purpose, to see the alarm fire: the chain's observation plus the direction of the
next price move, and the policy that trades on it.

No policy that sees only the past can expect more than the exact optimum; this one sees one step of the
future and earns about three times it on ``Trading-Chain-v0``, which ``qgym.training.evaluate``
reports as a look-ahead alarm (tutorial 6 shows the same leak as a policy).
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym

from qgym.envs.interface import Policy
from qgym.envs.trading.rules import BUY, HOLD, SELL

__all__ = ["PeekNextMove", "peeking_policy"]


class PeekNextMove(gym.Wrapper[Any, Any, Any, Any]):
    """The chain's index observation ``s`` becomes ``3 s + move + 1``, ``move`` the sign of the next
    price change: the wrapper steps a copy of the env (its random generator included) to see it."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, gym.spaces.Discrete):
            raise ValueError(f"PeekNextMove needs the chain's index observation (Discrete), got {space}")
        self.observation_space = gym.spaces.Discrete(int(space.n) * 3)

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        observation, info = self.env.reset(**kwargs)
        return self._peek(observation, info["price"]), info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        return self._peek(observation, info["price"]), reward, terminated, truncated, info

    def _peek(self, observation: int, price: float) -> int:
        upcoming = float(copy.deepcopy(self.env.unwrapped).step(HOLD)[4]["price"])
        return int(observation) * 3 + int(upcoming > price) - int(upcoming < price) + 1


def peeking_policy(env: gym.Env[Any, Any]) -> Policy:
    """The policy that trades on :class:`PeekNextMove`'s leak: long before a rise, short before a fall,
    for the chain env ``env`` (whose states it decodes)."""
    base: Any = env.unwrapped

    def act(observation: Any, step: int) -> int:
        state, move = divmod(int(observation), 3)
        _, position, _ = base.decode_state(state)
        target = position if move == 1 else (move - 1) * base.config.max_position
        return BUY if target > position else SELL if target < position else HOLD

    return act
