"""The agents learn the exact optimum, measured with ``qgym.planning`` (no sampling), and reproducibly."""

from __future__ import annotations

import random
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from scripted_envs import on_loop
from stable_baselines3.common.callbacks import StopTrainingOnMaxEpisodes
from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

from qgym import planning
from qgym.agents import SARSA, DoubleQLearning, ExpectedSARSA, QLearning, TabularAlgorithm
from qgym.training.callbacks import ExactReturnCallback

ALGORITHMS = [QLearning, SARSA, ExpectedSARSA, DoubleQLearning]


def greedy_return(
    model: TabularAlgorithm, env: gym.Env[Any, Any], gamma: float = 1.0, horizon: int = 1_000
) -> float:
    """Exact expected return of the model's greedy policy from the env's start distribution."""
    mdp = planning.model_of(env)
    policy = model.predict(np.arange(mdp.n_states), deterministic=True)[0]
    return planning.policy_return(mdp, policy, gamma=gamma, horizon=horizon)


@pytest.mark.parametrize("cls", ALGORITHMS)
def test_greedy_policy_is_optimal_on_deterministic_frozen_lake(cls: type[TabularAlgorithm]) -> None:
    env = gym.make("FrozenLake-v1", is_slippery=False)
    model = cls("TabularPolicy", env, gamma=0.99, seed=0).learn(10_000)
    optimum = planning.expected_return(
        planning.model_of(env), planning.value_iteration(planning.model_of(env), 0.99).values
    )
    assert greedy_return(model, env, gamma=0.99) == pytest.approx(optimum, abs=1e-12)
    assert optimum == pytest.approx(0.99**5)


@pytest.mark.parametrize("seed", [0, 1])
def test_q_learning_greedy_policy_takes_the_cliff_edge_path_worth_minus_13(seed: int) -> None:
    env = gym.make("CliffWalking-v1")
    model = QLearning(
        "TabularPolicy", env, learning_rate=0.5, gamma=0.99, exploration_fraction=0.5, seed=seed
    )
    model.learn(30_000)
    assert greedy_return(model, env) == -13.0


@pytest.mark.parametrize("cls", [QLearning, ExpectedSARSA])
def test_greedy_policy_is_within_one_percent_of_the_optimum_on_taxi(cls: type[TabularAlgorithm]) -> None:
    env = gym.make("Taxi-v4")
    mdp = planning.model_of(env)
    optimum = planning.expected_return(mdp, planning.value_iteration(mdp, gamma=1.0).values)
    assert optimum == pytest.approx(7.93, abs=0.005)
    model = cls("TabularPolicy", env, learning_rate=0.1, gamma=0.99, exploration_fraction=0.5, seed=0).learn(
        150_000
    )
    assert greedy_return(model, env, horizon=200) >= 0.99 * optimum


def online_returns(cls: type[TabularAlgorithm], seed: int, episodes: int = 500) -> list[float]:
    """Sutton & Barto Example 6.6: epsilon 0.1, alpha 0.5, undiscounted; returns collected while learning."""
    model = cls(
        "TabularPolicy",
        gym.make("CliffWalking-v1"),
        learning_rate=0.5,
        gamma=1.0,
        exploration_fraction=0.0,
        exploration_initial_eps=0.1,
        exploration_final_eps=0.1,
        seed=seed,
    )
    model.learn(10**7, callback=StopTrainingOnMaxEpisodes(max_episodes=episodes))
    monitor = model.get_env().envs[0]  # type: ignore[union-attr]
    return list(monitor.get_episode_rewards())


def test_cliff_walking_q_learning_walks_the_edge_and_sarsa_the_safe_path() -> None:
    """Example 6.6: Q-learning's online return is worse (near -50) than SARSA's (near -25)."""
    q_learning = np.mean([online_returns(QLearning, seed)[100:] for seed in range(10)])
    sarsa = np.mean([online_returns(SARSA, seed)[100:] for seed in range(10)])
    assert -60 < q_learning < -40
    assert -30 < sarsa < -17


def test_epsilon_greedy_on_the_optimal_q_is_worth_minus_50_8_on_the_cliff() -> None:
    """Q-learning's online return tends to this: epsilon-greedy on Q*, greedy ties broken at random."""
    mdp = planning.model_of(gym.make("CliffWalking-v1"))
    q_star = planning.value_iteration(mdp, gamma=1.0).q
    best = q_star == q_star.max(axis=1, keepdims=True)
    behaviour = 0.9 * best / best.sum(axis=1, keepdims=True) + 0.1 / mdp.n_actions
    value = planning.expected_return(mdp, planning.evaluate_policy(mdp, behaviour, gamma=1.0))
    assert value == pytest.approx(-50.8, abs=0.05)


@pytest.mark.parametrize("cls", ALGORITHMS)
def test_same_seed_gives_a_bit_identical_table(cls: type[TabularAlgorithm]) -> None:
    def run(seed: int) -> tuple[bytes, bytes]:
        model = cls("TabularPolicy", gym.make("FrozenLake-v1"), visit_decay=0.6, seed=seed).learn(20_000)
        return model.policy.tables.tobytes(), model.policy.visits.tobytes()

    first = run(seed=5)
    assert run(seed=5) == first
    assert run(seed=6)[0] != first[0]


@pytest.mark.parametrize("cls", ALGORITHMS)
def test_same_seed_gives_a_bit_identical_table_with_vectorized_envs(cls: type[TabularAlgorithm]) -> None:
    def run(seed: int) -> tuple[bytes, bytes]:
        env = DummyVecEnv([lambda: gym.make("FrozenLake-v1")] * 4)
        model = cls("TabularPolicy", env, seed=seed).learn(20_000)
        return model.policy.tables.tobytes(), model.policy.visits.tobytes()

    first = run(seed=5)
    assert run(seed=5) == first
    assert run(seed=6)[0] != first[0]


@pytest.mark.parametrize("cls", ALGORITHMS)
def test_direct_and_vectorized_loops_learn_the_same_table(cls: type[TabularAlgorithm]) -> None:
    runs = []
    for loop in ("direct", "vectorized"):
        model = cls("TabularPolicy", on_loop(gym.make("FrozenLake-v1"), loop), seed=3)
        model.learn(20_001)
        assert model.ep_info_buffer is not None
        bookkeeping = (model._last_obs.tolist(), model._last_episode_starts.tolist(), model._episode_num)  # type: ignore[union-attr]
        returns = [info["r"] for info in model.ep_info_buffer]
        runs.append((model.policy.tables.tobytes(), model.policy.visits.tobytes(), bookkeeping, returns))
    assert runs[0] == runs[1]
    assert np.any(model.q_table > 0)


def test_agents_leave_the_global_random_generators_alone() -> None:
    random.seed(1)
    np.random.seed(1)
    th.manual_seed(1)
    expected = (random.random(), np.random.random(), th.rand(1).item())
    random.seed(1)
    np.random.seed(1)
    th.manual_seed(1)
    QLearning("TabularPolicy", gym.make("FrozenLake-v1"), seed=0).learn(1_000)
    assert (random.random(), np.random.random(), th.rand(1).item()) == expected


def test_several_envs_learn_the_optimum_together() -> None:
    env = DummyVecEnv([lambda: gym.make("FrozenLake-v1", is_slippery=False)] * 4)
    model = QLearning("TabularPolicy", env, gamma=0.99, seed=0).learn(20_000)
    assert greedy_return(model, gym.make("FrozenLake-v1", is_slippery=False), gamma=0.99) == pytest.approx(
        0.99**5
    )


@pytest.mark.slow
def test_q_learning_reaches_95_percent_of_the_optimum_on_frozen_lake_8x8_and_stays_there() -> None:
    """Slippery 8x8, 200-step limit: exact success probability of the greedy policy every 10k steps.

    A constant step size keeps the greedy policy flipping between near-tied actions (in state 31 a
    Q* gap of 0.006 is worth 10% success), so this uses the visit-count step size n^-0.6 and keeps
    exploring (epsilon 0.5, Q-learning is off-policy). Seed 0 first reaches 95% at 150k steps and
    holds it from 690k to the end; benchmarks/bench_frozenlake_8x8.py reports more seeds.
    """
    env = gym.make("FrozenLake8x8-v1")
    mdp = planning.model_of(env)
    optimal_policy = planning.value_iteration(mdp, gamma=0.99).policy
    optimum = planning.policy_return(mdp, optimal_policy, horizon=200)
    assert optimum == pytest.approx(0.863, abs=5e-4)
    tracker = ExactReturnCallback(env, eval_freq=10_000, horizon=200)
    model = QLearning(
        "TabularPolicy",
        env,
        learning_rate=0.0,  # the floor of the visit-count step size: pure n ** -0.6
        visit_decay=0.6,
        gamma=0.99,
        exploration_fraction=0.05,
        exploration_initial_eps=1.0,
        exploration_final_eps=0.5,
        seed=0,
    )
    model.learn(1_000_000, callback=tracker)
    ratios = np.array([success for _, success in tracker.history]) / optimum
    assert len(ratios) == 100
    holds_from = next(i for i in range(len(ratios)) if np.all(ratios[i:] >= 0.95))
    assert holds_from <= 75, f"95% held only from step {tracker.history[holds_from][0]}"  # the last 25%
    no_limit = greedy_return(model, env, horizon=20_000)
    assert no_limit >= 0.95 * 0.894


def test_a_wrapped_vec_env_takes_the_general_loop_and_still_logs_episodes() -> None:
    env = VecMonitor(DummyVecEnv([lambda: gym.make("FrozenLake-v1", is_slippery=False)] * 2))
    model = QLearning("TabularPolicy", env, gamma=0.99, seed=0)
    model.learn(10_000)
    assert model.ep_info_buffer
    assert greedy_return(model, gym.make("FrozenLake-v1", is_slippery=False), gamma=0.99) == pytest.approx(
        0.99**5
    )
