"""Exact planning checked against figures known for Gymnasium's toy-text envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from qgym import planning


@pytest.fixture(scope="module")
def frozen_lake_8x8() -> planning.TransitionModel:
    return planning.model_of(gym.make("FrozenLake8x8-v1"))


def test_frozen_lake_8x8_optimal_policy_succeeds_with_known_probabilities(
    frozen_lake_8x8: planning.TransitionModel,
) -> None:
    solution = planning.value_iteration(frozen_lake_8x8, gamma=0.99)
    no_limit = planning.evaluate_policy(frozen_lake_8x8, solution.policy, gamma=1.0)
    within_200 = planning.evaluate_policy(frozen_lake_8x8, solution.policy, horizon=200)
    within_100 = planning.evaluate_policy(frozen_lake_8x8, solution.policy, horizon=100)
    assert planning.expected_return(frozen_lake_8x8, no_limit) == pytest.approx(0.894, abs=5e-4)
    assert planning.expected_return(frozen_lake_8x8, within_200) == pytest.approx(0.863, abs=5e-4)
    assert planning.expected_return(frozen_lake_8x8, within_100) == pytest.approx(0.632, abs=5e-4)


def test_backward_induction_beats_or_matches_any_stationary_policy_over_its_horizon(
    frozen_lake_8x8: planning.TransitionModel,
) -> None:
    stationary = planning.value_iteration(frozen_lake_8x8, gamma=0.99).policy
    best = planning.backward_induction(frozen_lake_8x8, horizon=100)
    stationary_value = planning.evaluate_policy(frozen_lake_8x8, stationary, horizon=100)
    assert np.all(best.values >= stationary_value - 1e-12)
    assert planning.expected_return(frozen_lake_8x8, best.values) > 0.632 + 0.005
    assert best.policy.shape == (100, frozen_lake_8x8.n_states)


def test_taxi_optimal_expected_return_is_7_93() -> None:
    model = planning.model_of(gym.make("Taxi-v4"))
    solution = planning.value_iteration(model, gamma=1.0)
    assert planning.expected_return(model, solution.values) == pytest.approx(7.93, abs=1e-9)
    undiscounted = planning.evaluate_policy(model, solution.policy, gamma=1.0)
    assert planning.expected_return(model, undiscounted) == pytest.approx(7.93, abs=1e-9)


def test_cliff_walking_optimal_return_is_minus_13() -> None:
    model = planning.model_of(gym.make("CliffWalking-v1"))
    solution = planning.value_iteration(model, gamma=1.0)
    assert planning.expected_return(model, solution.values) == pytest.approx(-13.0)


def test_epsilon_greedy_on_cliff_walking_q_star_earns_about_minus_50_8() -> None:
    """Sutton & Barto Example 6.6: Q-learning's online behaviour walks the cliff edge.

    Ties between optimal actions are broken uniformly at random, as the tabular agents do.
    """
    model = planning.model_of(gym.make("CliffWalking-v1"))
    q_star = planning.value_iteration(model, gamma=1.0).q
    optimal = np.isclose(q_star, q_star.max(axis=1, keepdims=True))
    epsilon = 0.1
    probs = epsilon / q_star.shape[1] + (1 - epsilon) * optimal / optimal.sum(axis=1, keepdims=True)
    value = planning.expected_return(model, planning.evaluate_policy(model, probs, gamma=1.0))
    assert value == pytest.approx(-50.8, abs=0.05)


def test_stochastic_policy_value_is_the_mixture_of_its_action_values() -> None:
    model = planning.model_of(gym.make("FrozenLake-v1"))
    uniform = np.full((model.n_states, model.n_actions), 1 / model.n_actions)
    values = planning.evaluate_policy(model, uniform, gamma=0.9)
    np.testing.assert_allclose(values, model.backup(values, 0.9).mean(axis=1), atol=1e-10)


def test_toy_text_rows_round_trip_through_the_tabular_model() -> None:
    env = gym.make("FrozenLake-v1")
    model = planning.TabularModel.from_toy_text(env.unwrapped.P, env.unwrapped.initial_state_distrib)
    for state in (0, 5, 14):
        for action in range(4):
            expected = sorted(env.unwrapped.P[state][action], key=lambda outcome: outcome[1])
            got = sorted(model.outcomes(state, action), key=lambda outcome: outcome[1])
            assert [(s, r, d) for _, s, r, d in got] == [(s, r, d) for _, s, r, d in expected]
            np.testing.assert_allclose([p for p, *_ in got], [p for p, *_ in expected])


@pytest.mark.parametrize("gamma", [-0.1, 1.5])
def test_gamma_outside_unit_interval_is_refused(gamma: float) -> None:
    model = planning.model_of(gym.make("FrozenLake-v1"))
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\]"):
        planning.value_iteration(model, gamma=gamma)


def test_a_policy_of_the_wrong_shape_or_range_is_refused() -> None:
    model = planning.model_of(gym.make("FrozenLake-v1"))
    with pytest.raises(ValueError, match="policy must have shape"):
        planning.evaluate_policy(model, np.zeros(3, dtype=int), gamma=0.9)
    with pytest.raises(ValueError, match=r"integer actions in \[0, 3\]"):
        planning.evaluate_policy(model, np.full(model.n_states, 4), gamma=0.9)
    with pytest.raises(ValueError, match="sum to 1"):
        planning.evaluate_policy(model, np.full((model.n_states, 4), 0.5), gamma=0.9)


def test_a_policy_that_never_terminates_is_reported_with_gamma_one() -> None:
    model = planning.model_of(gym.make("CliffWalking-v1"))
    walk_into_the_wall = np.zeros(model.n_states, dtype=np.int64)  # 0 = up; the top row stays put
    with pytest.raises(RuntimeError, match="must terminate"):
        planning.evaluate_policy(model, walk_into_the_wall, gamma=1.0, max_iterations=500)


def test_an_env_without_a_model_is_named() -> None:
    with pytest.raises(ValueError, match="CartPoleEnv exposes no transition model"):
        planning.model_of(gym.make("CartPole-v1"))


@pytest.mark.parametrize("env_id", ["FrozenLake8x8-v1", "Taxi-v4", "qgym/GridFarm-1x1-v0"])
def test_many_policies_valued_at_once_equal_each_valued_alone(env_id: str) -> None:
    model = planning.model_of(gym.make(env_id))
    policies = np.random.default_rng(0).integers(model.n_actions, size=(5, model.n_states))
    together = planning.policy_returns(model, policies, horizon=60)
    alone = [planning.policy_return(model, policy, horizon=60) for policy in policies]
    np.testing.assert_allclose(together, alone, rtol=1e-12, atol=1e-12)


def test_policies_with_actions_out_of_range_are_refused() -> None:
    model = planning.model_of(gym.make("FrozenLake-v1"))
    with pytest.raises(ValueError, match=r"policies must be \(K, 16\) actions in \[0, 3\]"):
        planning.policy_returns(model, np.full((2, 16), 4), horizon=10)
