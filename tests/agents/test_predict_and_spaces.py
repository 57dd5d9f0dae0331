"""predict() shapes and tie-breaking, observation and action spaces, and input validation."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from scripted_envs import ScriptedEnv
from stable_baselines3.common.env_checker import check_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor

from qgym.agents import SARSA, QLearning
from qgym.wrappers import DiscretizeObservation


def lake_model(seed: int = 0, **kwargs: Any) -> QLearning:
    return QLearning("TabularPolicy", gym.make("FrozenLake-v1", is_slippery=False), seed=seed, **kwargs)


def test_predict_takes_a_single_observation_or_a_batch() -> None:
    model = lake_model().learn(2_000)
    single, state = model.predict(3, deterministic=True)
    assert (single.shape, single.dtype, state) == ((), np.int64, None)
    assert model.predict(np.int64(3), deterministic=True)[0].shape == ()
    batch, _ = model.predict(np.arange(16), deterministic=True)
    assert batch.shape == (16,)
    assert batch[3] == single
    assert model.predict([3, 4, 5])[0].shape == (3,)


def test_predict_rejects_observations_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match="observation must be"):
        lake_model().predict(np.zeros((2, 2, 2), dtype=np.int64))


def test_greedy_predict_breaks_ties_toward_the_lowest_action() -> None:
    model = lake_model()
    model.policy.tables[0, 0] = [0.0, 1.0, 1.0, 0.5]
    assert [int(model.predict(0, deterministic=True)[0]) for _ in range(20)] == [1] * 20


def test_exploring_predict_breaks_ties_at_random_from_its_own_seeded_generator() -> None:
    def draws(seed: int) -> list[int]:
        model = lake_model(seed=seed)
        model.exploration_rate = 1e-12  # exploring, but (almost) never a random action
        model.policy.tables[0, 0] = [0.0, 1.0, 1.0, 0.5]
        np.random.seed(123)  # the global generator must play no part
        return [int(model.predict(0)[0]) for _ in range(200)]

    first = draws(seed=7)
    assert set(first) == {1, 2}
    assert draws(seed=7) == first
    assert draws(seed=8) != first


def test_training_breaks_ties_at_random_so_an_untrained_table_still_explores() -> None:
    model = lake_model(exploration_initial_eps=0.0, exploration_final_eps=0.0)
    model.learn(200)
    assert (model.visit_counts[0] > 0).sum() >= 2


def test_evaluate_policy_passes_state_and_episode_start() -> None:
    model = lake_model().learn(5_000)
    mean, _ = evaluate_policy(model, Monitor(gym.make("FrozenLake-v1", is_slippery=False)), n_eval_episodes=2)
    assert mean == 1.0


def test_multidiscrete_observations_are_flattened_in_c_order() -> None:
    env = DiscretizeObservation(gym.make("MountainCar-v0"), bins=(6, 5))
    model = QLearning("TabularPolicy", env, seed=0)
    assert model.q_table.shape == (30, 3)
    model.learn(500)
    model.policy.tables[0, np.ravel_multi_index((4, 2), (6, 5))] = [0.0, 0.0, 9.0]
    assert model.predict(np.array([4, 2]), deterministic=True)[0] == 2
    assert model.predict(np.array([[4, 2], [0, 0]]), deterministic=True)[0].tolist() == [2, 0]


def test_spaces_that_do_not_start_at_zero_map_to_table_rows_and_back() -> None:
    transitions = {(0, 0): (1, 1.0, True), (0, 1): (1, 0.0, True)}
    env = ScriptedEnv(2, 2, transitions, obs_start=5, action_start=-1)
    model = SARSA("TabularPolicy", env, seed=0).learn(500)
    assert model.q_table.shape == (2, 2)
    assert model.predict(5, deterministic=True)[0] == -1  # table column 0 is action -1, the rewarding one
    assert model.q_table[0, 0] > model.q_table[0, 1]


def test_a_box_observation_is_refused_naming_the_discretizing_wrapper() -> None:
    with pytest.raises(ValueError, match=r"qgym\.wrappers\.DiscretizeObservation"):
        QLearning("TabularPolicy", "CartPole-v1")


def test_a_dict_observation_is_refused_naming_the_wrapper() -> None:
    env = ScriptedEnv(2, 2, {})
    env.observation_space = spaces.Dict({"a": spaces.Discrete(2)})  # type: ignore[assignment]
    with pytest.raises(ValueError, match="DiscretizeObservation"):
        QLearning("TabularPolicy", env)


def test_a_continuous_action_space_is_refused() -> None:
    env = DiscretizeObservation(gym.make("Pendulum-v1"), bins=4)
    with pytest.raises(ValueError, match="needs a Discrete action space"):
        QLearning("TabularPolicy", env)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gamma": 1.5}, "gamma must be a number in"),
        ({"learning_rate": -0.1}, "learning_rate must be in"),
        ({"learning_rate": "fast"}, "learning_rate must be a number"),
        ({"exploration_fraction": 2}, "exploration_fraction must be"),
        ({"exploration_initial_eps": -1}, "exploration_initial_eps must be"),
        ({"exploration_final_eps": 1.1}, "exploration_final_eps must be"),
        ({"visit_decay": 0.0}, "visit_decay must be None or a number in"),
        ({"policy_kwargs": {"net_arch": [64]}}, "policy_kwargs accepts only"),
        ({"policy_kwargs": {"initial_q_value": float("nan")}}, "initial_q_value must be a finite"),
        ({"device": "cuda"}, "device must be 'auto' or 'cpu'"),
        ({"stats_window_size": 0}, "stats_window_size must be"),
        ({"seed": 1.5}, "seed must be an integer"),
    ],
)
def test_bad_arguments_raise_a_value_error_naming_them(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        QLearning("TabularPolicy", gym.make("FrozenLake-v1"), **kwargs)


def test_an_unknown_policy_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"\['MlpPolicy', 'TabularPolicy'\]"):
        QLearning("CnnPolicy", gym.make("FrozenLake-v1"))


def test_learn_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="total_timesteps must be"):
        lake_model().learn(-1)
    with pytest.raises(ValueError, match="log_interval must be"):
        lake_model().learn(10, log_interval=0)


def test_optimistic_initial_values_come_from_policy_kwargs() -> None:
    model = lake_model(policy_kwargs={"initial_q_value": 1.0})
    assert np.all(model.q_table == 1.0)


def test_discretize_observation_bins_clip_and_pass_the_env_checker() -> None:
    env = DiscretizeObservation(gym.make("MountainCar-v0"), bins=(4, 2))
    low, high = env.low, env.high
    assert env.observation(low).tolist() == [0, 0]
    assert env.observation(high).tolist() == [3, 1]
    assert env.observation(low + (high - low) * [0.26, 0.49]).tolist() == [1, 0]
    assert env.observation(low - 100).tolist() == [0, 0]
    assert env.observation(high + 100).tolist() == [3, 1]
    check_env(env)


def test_discretize_observation_bins_a_batch_as_it_bins_each_observation() -> None:
    env = DiscretizeObservation(
        gym.make("CartPole-v1"), bins=(3, 3, 6, 6), low=[-2.4, -3, -0.21, -3.5], high=[2.4, 3, 0.21, 3.5]
    )
    batch = np.random.default_rng(0).uniform(-4, 4, size=(5, 7, 4)).astype(np.float32)
    binned = env.bin(batch)
    assert binned.shape == (5, 7, 4)
    assert all(np.array_equal(binned[i, j], env.observation(batch[i, j])) for i in range(5) for j in range(7))
    with pytest.raises(ValueError, match=r"end with the observation shape \(4,\), got shape \(5, 3\)"):
        env.bin(batch[:, :3, 0])


def test_discretize_observation_needs_finite_ranges_and_valid_bins() -> None:
    with pytest.raises(ValueError, match=r"unbounded in components \[1, 3\].*low= and high="):
        DiscretizeObservation(gym.make("CartPole-v1"), bins=5)
    env = DiscretizeObservation(
        gym.make("CartPole-v1"), bins=5, low=[-2.4, -3, -0.2, -3], high=[2.4, 3, 0.2, 3]
    )
    assert env.observation_space == spaces.MultiDiscrete([5, 5, 5, 5])
    with pytest.raises(ValueError, match="bins must be positive integers"):
        DiscretizeObservation(gym.make("MountainCar-v0"), bins=0)
    with pytest.raises(ValueError, match="one per observation component"):
        DiscretizeObservation(gym.make("MountainCar-v0"), bins=(3, 3, 3))
    with pytest.raises(ValueError, match="needs a Box observation space"):
        DiscretizeObservation(gym.make("FrozenLake-v1"), bins=3)  # type: ignore[arg-type]


def test_a_multidiscrete_space_too_large_for_a_table_is_refused_by_size() -> None:
    import gymnasium as gym

    from qgym.agents import QLearning
    from qgym.wrappers import DiscretizeObservation

    env = DiscretizeObservation(gym.make("qgym/GridFarm-3x3-v0"), bins=2)
    with pytest.raises(ValueError, match=r"a table of 4722366482869645213696 states x 8 actions"):
        QLearning("TabularPolicy", env)
