"""The trading vector envs: autoreset, features, state access. Their agreement with the single envs and
the exact model is checked with the farm's, for every registered ID, in tests/envs/test_native_vector.py."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from qgym.envs.trading import TradingConfig, market_features
from qgym.envs.trading.vector import ChainTradingVectorEnv


def test_reset_mask_restarts_only_the_marked_sub_envs() -> None:
    vector = gym.make_vec("qgym/Trading-Chain-v0", num_envs=4)
    vector.reset(seed=0)
    for _ in range(5):
        vector.step(np.ones(4, dtype=np.int64))
    mask = np.array([True, False, True, False])
    _, info = vector.reset(options={"reset_mask": mask})
    np.testing.assert_array_equal(vector.unwrapped.elapsed_steps, [0, 5, 0, 5])  # type: ignore[attr-defined]
    np.testing.assert_array_equal(info["position"], [0, 1, 0, 1])


def test_sub_envs_end_at_the_shorter_of_the_time_limit_and_the_episode_length() -> None:
    vector = gym.make_vec("qgym/Trading-Chain-v0", num_envs=2, max_episode_steps=500, episode_length=7)
    vector.reset(seed=0)
    ends = [vector.step(np.zeros(2, dtype=np.int64))[3].all() for _ in range(7)]
    assert ends == [False] * 6 + [True]


@pytest.mark.parametrize("env_id", ["qgym/Trading-ChainRegime-v0"])
def test_action_masks_match_the_single_env_rule_in_every_sub_env(env_id: str) -> None:
    vector = gym.make_vec(env_id, num_envs=64)
    single = gym.make(env_id).unwrapped
    vector.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(30):
        _, _, _, _, info = vector.step(rng.integers(vector.single_action_space.n, size=64))  # type: ignore[attr-defined]
        base = vector.unwrapped
        for i in range(64):
            single.state_index = int(base.state_indices[i])  # type: ignore[attr-defined]
            np.testing.assert_array_equal(info["action_mask"][i], single.action_masks())  # type: ignore[attr-defined]
        np.testing.assert_array_equal(base.action_masks(), info["action_mask"])  # type: ignore[attr-defined]


def test_batch_market_features_match_the_single_env_function_row_by_row() -> None:
    config = TradingConfig(episode_length=50, window=12, n_returns=4, max_position=2)
    rng = np.random.default_rng(0)
    windows = np.exp(np.cumsum(rng.normal(0, 0.02, size=(200, 13)), axis=1)) * 50
    windows[:5] = 80.0  # flat windows: zero volatility and spread
    positions = rng.integers(-2, 3, size=200)
    steps_left = rng.integers(0, 51, size=200)
    regimes = rng.integers(0, 3, size=200)
    batch = market_features(windows, positions, steps_left, config, regimes)
    for i in range(200):
        row = market_features(windows[i], int(positions[i]), int(steps_left[i]), config, int(regimes[i]))
        np.testing.assert_array_equal(batch[i], row)


def test_step_before_reset_raises() -> None:
    with pytest.raises(RuntimeError, match="reset"):
        ChainTradingVectorEnv(num_envs=2).step(np.zeros(2, dtype=np.int64))
