"""The native vector envs of every registered ID: make_vec, seeding, agreement with the single env and
the exact model; and the farm's autoreset and argument checks (the trading ones: tests/envs/trading)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from qgym.envs import qgym_env_ids
from qgym.envs.farm.vector import GridFarmVectorEnv
from qgym.envs.trading import generate_prices
from qgym.envs.trading.vector import ChainTradingVectorEnv, TradingVectorEnv

VECTOR_IDS = [env_id for env_id in qgym_env_ids() if gym.spec(env_id).vector_entry_point is not None]

# Registered rungs plus variants that exercise the other observation modes and user data.
REPLAY_CASES: list[tuple[str, dict[str, Any]]] = [(env_id, {}) for env_id in VECTOR_IDS] + [
    ("qgym/GridFarm-2x2-v0", {"obs_mode": "grid"}),
    ("qgym/GridFarm-2x2-v0", {"obs_mode": "factored"}),
    ("qgym/Trading-Chain-v0", {"observation": "features"}),
    ("qgym/Trading-Market-v0", {"observation": "index"}),
    ("qgym/Trading-MarketHidden-v0", {"prices": generate_prices(700, seed=3), "split": "all"}),
]


def test_every_registered_qgym_id_has_a_native_vector_env() -> None:
    assert qgym_env_ids() == VECTOR_IDS


@pytest.mark.parametrize("env_id", VECTOR_IDS)
def test_make_vec_picks_the_native_env_which_declares_next_step_autoreset(env_id: str) -> None:
    envs = gym.make_vec(env_id, num_envs=4)
    assert isinstance(envs.unwrapped, GridFarmVectorEnv | ChainTradingVectorEnv | TradingVectorEnv)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert envs.unwrapped.max_episode_steps == gym.spec(env_id).max_episode_steps
    obs, _ = envs.reset(seed=0)
    assert envs.observation_space.contains(obs)
    envs.close()


@pytest.mark.parametrize(("env_id", "extra"), REPLAY_CASES, ids=lambda case: str(case)[:40])
def test_a_vector_of_one_replays_the_single_env_exactly(env_id: str, extra: dict[str, Any]) -> None:
    """Same seed, same actions: the same observations, rewards, ends and infos, across resets."""
    single = gym.make(env_id, **extra)
    vector = gym.make_vec(env_id, num_envs=1, **extra)
    obs, info = single.reset(seed=5)
    vec_obs, vec_info = vector.reset(seed=5)
    unwrapped: Any = vector.unwrapped
    names = unwrapped.desk.stream.regime_names if hasattr(unwrapped, "desk") else None
    _assert_same_step(obs, info, vec_obs, vec_info, names)
    actions = np.random.default_rng(1).integers(single.action_space.n, size=450)  # type: ignore[attr-defined]
    done = False
    for action in actions:
        if done:
            obs, info = single.reset()
            reward, terminated, truncated = 0.0, False, False
        else:
            obs, reward, terminated, truncated, info = single.step(int(action))
        vec_obs, vec_rewards, vec_terminated, vec_truncated, vec_info = vector.step(np.array([action]))
        _assert_same_step(obs, info, vec_obs, vec_info, names)
        assert (vec_rewards[0], vec_terminated[0], vec_truncated[0]) == (reward, terminated, truncated)
        done = terminated or truncated
    single.close()
    vector.close()


# Drawing (a frame per sub-env, each the single env's): tests/envs/test_vector_rendering.py.


def test_a_vector_renders_only_after_reset_and_only_as_rgb_array() -> None:
    assert GridFarmVectorEnv(num_envs=2).render() is None
    with pytest.raises(RuntimeError, match="reset"):
        GridFarmVectorEnv(num_envs=2, render_mode="rgb_array").render()


@pytest.mark.parametrize("env_id", VECTOR_IDS)
def test_a_vector_reports_every_info_key_the_single_env_reports(env_id: str) -> None:
    single_info = gym.make(env_id).reset(seed=0)[1]
    vector_info = gym.make_vec(env_id, num_envs=2).reset(seed=0)[1]
    assert set(single_info) <= set(vector_info)


def _assert_same_step(
    obs: Any, info: dict[str, Any], vec_obs: Any, vec_info: dict[str, Any], regime_names: Any = None
) -> None:
    np.testing.assert_array_equal(np.asarray(obs), vec_obs[0])
    for key, values in vec_info.items():
        expected = info[key]
        got = regime_names[values[0]] if key == "regime" else values[0]
        np.testing.assert_array_equal(np.asarray(expected), got, err_msg=key)


@pytest.mark.parametrize(
    ("env_id", "state", "action"),
    [
        ("qgym/GridFarm-2x2-v0", ((2, 4, 5, 1), 0), 5),  # water a wet seed: nothing to do, nature acts
        ("qgym/GridFarm-2x2-v0", ((1, 3, 0, 6), 1), 5),  # water the dry growing crop
        ("qgym/GridFarm-1x2-v0", ((5, 3), 0), 6),  # harvest the ripe crop while the other may wither
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
    if isinstance(base, GridFarmVectorEnv):
        crops, cell = state
        base.set_state(np.array(crops), cell)
    else:
        assert isinstance(base, ChainTradingVectorEnv)
        base.set_state_indices(state)
    start = int(base.state_indices[0])
    _, rewards, _, _, _ = vector.step(np.full(n, action))
    reached = base.state_indices
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


def test_finished_sub_envs_restart_on_the_next_step_and_ignore_its_action() -> None:
    vector = gym.make_vec("qgym/GridFarm-1x1-Det-v0", num_envs=3, max_episode_steps=2)
    vector.reset(seed=0)
    plant = np.full(3, 4)
    _, rewards, terminated, truncated, _ = vector.step(plant)
    np.testing.assert_array_equal(rewards, -1.0)
    assert not truncated.any()
    obs, _, terminated, truncated, info = vector.step(np.full(3, 5))  # water: -0.5 each
    assert truncated.all()
    assert not terminated.any()
    assert (obs != 0).all()  # the planted, watered farm
    obs, rewards, terminated, truncated, info = vector.step(plant)  # the reset step
    np.testing.assert_array_equal(obs, 0)  # an empty 1x1 farm
    np.testing.assert_array_equal(rewards, 0.0)
    assert not (terminated | truncated).any()
    np.testing.assert_array_equal(info["day"], 0)
    _, rewards, _, truncated, _ = vector.step(plant)  # the first step of the new episode
    np.testing.assert_array_equal(rewards, -1.0)
    assert not truncated.any()


def _seeded_rollout(env_id: str, seed: int) -> list[Any]:
    vector = gym.make_vec(env_id, num_envs=6)
    obs, _ = vector.reset(seed=seed)
    trace = [obs]
    n_actions = int(vector.single_action_space.n)  # type: ignore[attr-defined]
    for row in np.random.default_rng(0).integers(n_actions, size=(120, 6)):
        obs, rewards, _, truncated, _ = vector.step(row)
        trace += [obs, rewards, truncated]
    return trace


@pytest.mark.parametrize("env_id", VECTOR_IDS)
def test_the_same_seed_gives_the_same_batches(env_id: str) -> None:
    for a, b in zip(_seeded_rollout(env_id, 3), _seeded_rollout(env_id, 3), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("env_id", [env_id for env_id in VECTOR_IDS if "-Det-" not in env_id])
def test_another_seed_gives_other_batches(env_id: str) -> None:
    first, other = _seeded_rollout(env_id, 3), _seeded_rollout(env_id, 4)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other, strict=True))


@pytest.mark.parametrize("env_id", ["qgym/GridFarm-2x3-v0"])
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


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_envs": 0}, "num_envs must be a positive integer"),
        ({"num_envs": 2, "max_episode_steps": 0}, "max_episode_steps must be"),
        ({"num_envs": 2, "render_mode": "human"}, "render_mode must be None or 'rgb_array'"),
        ({"num_envs": 2, "rows": 0}, "rows must be an integer from 1 to 32"),
    ],
)
def test_bad_arguments_raise_errors_that_name_them(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        GridFarmVectorEnv(**kwargs)


@pytest.mark.parametrize(
    "actions", [np.array([0, 8]), np.array([-1, 0]), np.array([0]), np.array([0.0, 1.0]), 3]
)
def test_actions_outside_the_space_raise_a_clear_error(actions: Any) -> None:
    vector = GridFarmVectorEnv(num_envs=2)
    vector.reset(seed=0)
    with pytest.raises(ValueError, match="actions must be"):
        vector.step(actions)
