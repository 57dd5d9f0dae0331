"""The trading vector envs: agreement with the single envs and the exact model, autoreset, features."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from qgym.envs.trading import REGIME_NAMES, TradingConfig, generate_prices, market_features
from qgym.envs.trading.vector import ChainTradingVectorEnv

VECTOR_IDS = [
    env_id
    for env_id in gym.registry
    if env_id.startswith("qgym/Trading-") and gym.spec(env_id).vector_entry_point is not None
]

# Registered rungs plus variants that exercise the other observation modes and user data.
REPLAY_CASES: list[tuple[str, dict[str, Any]]] = [(env_id, {}) for env_id in VECTOR_IDS] + [
    ("qgym/Trading-Chain-v0", {"observation": "features"}),
    ("qgym/Trading-Market-v0", {"observation": "index"}),
    ("qgym/Trading-MarketHidden-v0", {"prices": generate_prices(700, seed=3), "split": "all"}),
]


@pytest.mark.parametrize(("env_id", "extra"), REPLAY_CASES, ids=lambda case: str(case)[:40])
def test_a_vector_of_one_replays_the_single_env_exactly(env_id: str, extra: dict[str, Any]) -> None:
    """Same seed, same actions: the same observations, rewards, ends and infos, across resets."""
    single = gym.make(env_id, **extra)
    vector = gym.make_vec(env_id, num_envs=1, **extra)
    obs, info = single.reset(seed=5)
    vec_obs, vec_info = vector.reset(seed=5)
    _assert_same_step(obs, info, vec_obs, vec_info)
    actions = np.random.default_rng(1).integers(single.action_space.n, size=450)  # type: ignore[attr-defined]
    done = False
    for action in actions:
        if done:
            obs, info = single.reset()
            reward, terminated, truncated = 0.0, False, False
        else:
            obs, reward, terminated, truncated, info = single.step(int(action))
        vec_obs, vec_rewards, vec_terminated, vec_truncated, vec_info = vector.step(np.array([action]))
        _assert_same_step(obs, info, vec_obs, vec_info)
        assert (vec_rewards[0], vec_terminated[0], vec_truncated[0]) == (reward, terminated, truncated)
        done = terminated or truncated
    single.close()
    vector.close()


def _assert_same_step(obs: Any, info: dict[str, Any], vec_obs: Any, vec_info: dict[str, Any]) -> None:
    np.testing.assert_array_equal(np.asarray(obs), vec_obs[0])
    for key, values in vec_info.items():
        expected = info[key]
        got = REGIME_NAMES[values[0]] if key == "regime" else values[0]
        np.testing.assert_array_equal(np.asarray(expected), got, err_msg=key)


@pytest.mark.parametrize(
    ("env_id", "state", "action"),
    [
        ("qgym/Trading-ChainRegime-v0", 40, 1),
        ("qgym/Trading-Chain-v0", 30, 2),
    ],
)
def test_one_step_of_many_sub_envs_follows_the_exact_model(env_id: str, state: Any, action: int) -> None:
    """20,000 sub-envs put in one state and stepped once: next-state frequencies match the model
    within 5 sigma, and every reward equals the model's reward for the state reached."""
    n = 20_000
    model = gym.make(env_id).unwrapped.transition_model()  # type: ignore[attr-defined]
    vector = gym.make_vec(env_id, num_envs=n)
    vector.reset(seed=2)
    base = vector.unwrapped
    assert isinstance(base, ChainTradingVectorEnv)
    base.set_state_indices(state)
    start = state
    obs, rewards, _, _, _ = vector.step(np.full(n, action))
    reached = obs
    outcomes: dict[int, tuple[float, float]] = {}
    for prob, next_state, reward, _ in model.outcomes(start, action):
        old = outcomes.get(next_state, (0.0, reward))
        outcomes[next_state] = (old[0] + prob, reward)
    assert set(np.unique(reached)) <= set(outcomes)
    for next_state, (prob, reward) in outcomes.items():
        hits = reached == next_state
        freq = hits.mean()
        assert abs(freq - prob) <= 5 * np.sqrt(prob * (1 - prob) / n) + 1e-9, (next_state, prob, freq)
        np.testing.assert_allclose(rewards[hits], reward)


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
