"""Conformance tests generated from the registry: every registered ``qgym/`` ID runs all of them.

A new environment is covered by registering it.
"""

from __future__ import annotations

import pickle
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import EnvSpec
from gymnasium.utils.env_checker import check_env as gym_check_env

import qgym
from qgym import planning
from qgym.envs import KNOWN_OPTIMA, qgym_env_ids

ENV_IDS = qgym_env_ids()


def _has_model(env_id: str) -> bool:
    try:
        planning.model_of(gym.make(env_id))
    except ValueError:
        return False
    return True


MODEL_IDS = [env_id for env_id in ENV_IDS if _has_model(env_id)]


def test_every_family_is_registered() -> None:
    entry_points = {str(gym.spec(env_id).entry_point) for env_id in ENV_IDS}
    assert len(ENV_IDS) >= 5
    assert any("farm" in entry for entry in entry_points)


def test_every_rung_with_a_known_optimum_has_a_model() -> None:
    assert set(KNOWN_OPTIMA) <= set(MODEL_IDS)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_check_env_passes_without_warning(env_id: str) -> None:
    env = gym.make(env_id)
    gym_check_env(env.unwrapped)
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_sb3_check_env_passes_without_warning(env_id: str) -> None:
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = gym.make(env_id)
    sb3_check_env(env, warn=True)
    env.close()


def _rollout(env_id: str, seed: int, steps: int = 60) -> list[tuple[Any, ...]]:
    env = gym.make(env_id)
    env.action_space.seed(seed)
    obs, info = env.reset(seed=seed)
    trace: list[tuple[Any, ...]] = [(obs, info)]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        trace.append((obs, reward, terminated, truncated, info))
        if terminated or truncated:
            obs, info = env.reset()
            trace.append((obs, info))
    env.close()
    return trace


def _assert_same(a: Any, b: Any) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, tuple | list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same(x, y)
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_seed_gives_the_same_episodes(env_id: str) -> None:
    _assert_same(_rollout(env_id, seed=7), _rollout(env_id, seed=7))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_different_seeds_give_different_episodes(env_id: str) -> None:
    first, second = _rollout(env_id, seed=1, steps=200), _rollout(env_id, seed=2, steps=200)
    with pytest.raises(AssertionError):
        _assert_same(first, second)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_env_pickles_before_and_after_rendering(env_id: str) -> None:
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=3)
    clone = pickle.loads(pickle.dumps(env))
    env.render()
    clone_after = pickle.loads(pickle.dumps(env))
    action = env.action_space.sample()
    for copy in (clone, clone_after):
        copy.reset(seed=3)
        frame = copy.render()
        assert isinstance(frame, np.ndarray)
        copy.step(action)
        copy.close()
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_human_mode_survives_close_then_reset_and_render(env_id: str) -> None:
    env = gym.make(env_id, render_mode="human")
    env.reset(seed=0)
    assert env.render() is None
    env.close()
    env.close()
    env.reset(seed=1)
    env.step(env.action_space.sample())
    assert env.render() is None
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_each_render_mode_returns_its_type_and_shape(env_id: str) -> None:
    modes = gym.spec(env_id).make().metadata["render_modes"]
    assert set(modes) == {"human", "rgb_array", "ansi"}
    rgb = gym.make(env_id, render_mode="rgb_array")
    rgb.reset(seed=0)
    frame = rgb.render()
    assert isinstance(frame, np.ndarray)
    assert frame.dtype == np.uint8
    assert frame.ndim == 3
    assert frame.shape[2] == 3
    assert frame.shape[0] >= 64
    assert frame.shape[1] >= 64
    rgb.step(rgb.action_space.sample())
    assert rgb.render().shape == frame.shape
    rgb.close()
    text = gym.make(env_id, render_mode="ansi")
    text.reset(seed=0)
    picture = text.render()
    assert isinstance(picture, str)
    assert picture.strip()
    text.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_spec_round_trips_through_json(env_id: str) -> None:
    spec = gym.spec(env_id)
    assert EnvSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_sync_vector_env_steps(env_id: str) -> None:
    envs = gym.make_vec(env_id, num_envs=3, vectorization_mode="sync")
    envs.action_space.seed(0)
    obs, _ = envs.reset(seed=0)
    assert obs.shape[0] == 3
    for _ in range(5):
        obs, rewards, _, _, _ = envs.step(envs.action_space.sample())
        assert rewards.shape == (3,)
        assert envs.single_observation_space.contains(obs[0])
    envs.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_action_outside_the_space_raises_a_clear_error(env_id: str) -> None:
    env = gym.make(env_id)
    env.reset(seed=0)
    n = int(env.action_space.n)  # type: ignore[attr-defined]
    for bad in (n, -1):
        with pytest.raises(ValueError, match="action"):
            env.unwrapped.step(bad)
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_action_mask_is_fresh_and_matches_action_masks(env_id: str) -> None:
    env = gym.make(env_id)
    _, info = env.reset(seed=0)
    mask = info["action_mask"]
    assert mask.dtype == np.int8
    assert mask.shape == (env.action_space.n,)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(mask, env.unwrapped.action_masks())  # type: ignore[attr-defined]
    assert mask.any()
    _, _, _, _, info2 = env.step(int(np.flatnonzero(mask)[0]))
    assert info2["action_mask"] is not mask
    env.close()


def _state_sample(env: Any, seed: int, count: int) -> list[int]:
    """Distinct states met on a random walk, so the model test covers states the env really reaches."""
    env.reset(seed=seed)
    env.action_space.seed(seed)
    seen: list[int] = []
    for _ in range(400):
        state = int(env.unwrapped.state_index)
        if state not in seen:
            seen.append(state)
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(seen), size=min(count, len(seen)), replace=False)
    return [seen[i] for i in sorted(picks)]


@pytest.mark.parametrize("env_id", MODEL_IDS)
def test_model_matches_sampled_transitions(env_id: str) -> None:
    """Frequencies of (next state, reward, terminated) from step() match the exact model within 5 sigma."""
    env = gym.make(env_id)
    base = env.unwrapped
    model = base.transition_model()
    samples = 1500
    for state in _state_sample(env, seed=11, count=4):
        for action in range(base.action_space.n):
            expected: dict[int, tuple[float, float, bool]] = {}
            for prob, next_state, reward, terminated in model.outcomes(state, action):
                if prob > 0:
                    old = expected.get(next_state, (0.0, reward, terminated))
                    assert np.isclose(old[1], reward)
                    expected[next_state] = (old[0] + prob, reward, terminated)
            assert np.isclose(sum(p for p, _, _ in expected.values()), 1.0)
            counts: dict[int, int] = {}
            for _ in range(samples):
                base.state_index = state
                _, reward, terminated, _, _ = base.step(action)
                next_state = int(base.state_index)
                assert next_state in expected, f"step reached {next_state}, which the model calls impossible"
                assert np.isclose(reward, expected[next_state][1])
                assert terminated == expected[next_state][2]
                counts[next_state] = counts.get(next_state, 0) + 1
            for next_state, (prob, _, _) in expected.items():
                freq = counts.get(next_state, 0) / samples
                assert abs(freq - prob) <= 5 * np.sqrt(prob * (1 - prob) / samples) + 1e-9, (
                    f"state {state} action {action} -> {next_state}: model {prob:.4f}, sampled {freq:.4f}"
                )
    env.close()


def test_import_qgym_stays_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, qgym; heavy = [m for m in ('torch', 'stable_baselines3', 'pygame', 'matplotlib') "
        "if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert qgym.__version__


def test_module_prefix_makes_an_env_without_importing_qgym_first() -> None:
    import subprocess
    import sys

    code = (
        "import sys, gymnasium as gym; assert 'qgym' not in sys.modules; "
        "env = gym.make('qgym:qgym/GridFarm-1x1-v0'); env.reset(seed=0); print(env.spec.id)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "qgym/GridFarm-1x1-v0"
