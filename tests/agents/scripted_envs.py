"""Tiny deterministic MDPs whose every TD update can be computed by hand."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from gymnasium import spaces
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

Transitions = dict[tuple[int, int], tuple[int, float, bool]]


class ScriptedEnv(gym.Env[int, int]):
    """``transitions[(state, action)] = (next_state, reward, terminated)``; unlisted pairs stay put, reward 0.

    Every episode starts in state ``start``. ``obs_start``/``action_start`` shift the Discrete spaces
    (to test spaces that do not start at 0). With ``reward_is_episode``, every reward is instead the
    number of the current episode (1, 2, 3, ...), which makes step-size schedules visible.
    """

    def __init__(
        self,
        n_states: int,
        n_actions: int,
        transitions: Transitions,
        start: int = 0,
        obs_start: int = 0,
        action_start: int = 0,
        reward_is_episode: bool = False,
    ) -> None:
        self.observation_space = spaces.Discrete(n_states, start=obs_start)
        self.action_space = spaces.Discrete(n_actions, start=action_start)
        self.transitions = transitions
        self.start = start
        self.obs_start = obs_start
        self.action_start = action_start
        self.reward_is_episode = reward_is_episode
        self.episode = 0
        self.state = start

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        super().reset(seed=seed)
        self.state = self.start
        self.episode += 1
        return self.state + self.obs_start, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        key = (self.state, int(action) - self.action_start)
        next_state, reward, terminated = self.transitions.get(key, (self.state, 0.0, False))
        if self.reward_is_episode:
            reward = float(self.episode)
        self.state = next_state
        return next_state + self.obs_start, reward, terminated, False, {}


def one_step_episodes(n_actions: int = 2, reward: float = 1.0, terminated: bool = True) -> ScriptedEnv:
    """State 0 -> state 1 with ``reward`` under every action (terminated, or truncated by a TimeLimit)."""
    transitions = {(0, a): (1, reward, terminated) for a in range(n_actions)}
    return ScriptedEnv(2, n_actions, transitions)


class StepThroughVecEnv(DummyVecEnv):
    """A DummyVecEnv the agents step through its ``step`` (the per-env loop), not directly: a lone plain
    DummyVecEnv is stepped directly, any other VecEnv through its ``step``."""


def on_loop(env: Any, loop: str) -> Any:
    """``env`` as the agents get it for ``loop``: ``"direct"`` the env itself (SB3 wraps it in a Monitor
    and a plain DummyVecEnv), ``"vectorized"`` the same Monitor in a :class:`StepThroughVecEnv` (a
    VecEnv is returned as it is)."""
    if loop == "direct" or isinstance(env, VecEnv):
        return env
    assert loop == "vectorized", loop
    return StepThroughVecEnv([lambda: Monitor(env)])
