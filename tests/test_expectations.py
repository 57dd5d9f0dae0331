"""Exact expectations of a policy beyond its return: expected sums of any per-step quantity and the
variance of the return, against hand-computed models and sampled episodes."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from qgym import expectations, planning
from qgym.planning import TabularModel


def _coin() -> TabularModel:
    """One state, two actions: action 0 pays +1 or -1 with even odds, action 1 pays 0.5 for sure."""
    next_states = np.zeros((1, 2, 2), dtype=np.int64)
    probs = np.array([[[0.5, 0.5], [1.0, 0.0]]])
    rewards = np.array([[[1.0, -1.0], [0.5, 0.0]]])
    return TabularModel(next_states, probs, rewards, np.zeros((1, 2, 2), dtype=bool), np.ones(1))


def test_the_moments_of_a_coin_flip_by_hand() -> None:
    model = _coin()
    assert expectations.return_moments(model, np.array([0]), 3) == pytest.approx((0.0, 3.0))
    assert expectations.return_moments(model, np.array([1]), 3) == pytest.approx((1.5, 0.0))
    # A policy that changes with the step: flip, then the sure 0.5 twice: mean 1, variance 1.
    steps = np.array([[0], [1], [1]])
    assert expectations.return_moments(model, steps, 3) == pytest.approx((1.0, 1.0))


def test_expected_sums_of_outcome_and_state_action_quantities_by_hand() -> None:
    model = _coin()
    totals = expectations.policy_totals(
        model,
        np.array([[0], [0], [1], [0]]),
        4,
        {
            "wins": (model.rewards > 0).astype(float),
            "flips": np.array([[1.0, 0.0]]),
            "squares": model.rewards**2,
        },
    )
    # Wins: half of each of the three flips, and the sure 0.5 (positive) once.
    assert totals == pytest.approx({"wins": 2.5, "flips": 3.0, "squares": 3.25})


@pytest.mark.parametrize("env_id", ["qgym/Trading-Chain-v0", "qgym/GridFarm-1x1-v0", "qgym/GridFarm-1x2-v0"])
def test_the_expected_reward_sum_of_the_optimal_policy_is_the_optimum(env_id: str) -> None:
    env = gym.make(env_id)
    model = planning.model_of(env)
    solution = planning.backward_induction(model, 100)
    optimum = planning.expected_return(model, solution.values)
    mean, _ = expectations.return_moments(model, solution.policy, 100)
    assert mean == pytest.approx(optimum, abs=1e-9)
    rewards = model.rewards if isinstance(model, TabularModel) else model.reward_table  # type: ignore[attr-defined]
    totals = expectations.policy_totals(model, solution.policy, 100, {"reward": rewards})
    assert totals["reward"] == pytest.approx(optimum, abs=1e-9)


def test_the_factored_farm_model_and_its_toy_text_dict_give_the_same_moments() -> None:
    env = gym.make("qgym/GridFarm-1x2-v0")
    factored = planning.model_of(env)
    tabular = TabularModel.from_toy_text(env.unwrapped.P, env.unwrapped.initial_state_distrib)
    policy = planning.backward_induction(factored, 60).policy
    assert expectations.return_moments(factored, policy, 60) == pytest.approx(
        expectations.return_moments(tabular, policy, 60), rel=1e-9
    )
    quantity = (factored.after_action()[0] % 3).astype(float)  # any function of (state, action)
    assert expectations.policy_totals(factored, policy, 60, {"q": quantity}) == pytest.approx(
        expectations.policy_totals(tabular, policy, 60, {"q": quantity}), rel=1e-9
    )


@pytest.mark.parametrize("env_id", ["qgym/Trading-ChainRegime-v0", "qgym/GridFarm-1x1-v0"])
def test_the_variance_of_the_optimal_return_matches_sampled_episodes(env_id: str) -> None:
    env = gym.make(env_id)
    model = planning.model_of(env)
    policy = planning.backward_induction(model, 100).policy
    _, variance = expectations.return_moments(model, policy, 100)
    returns = []
    for seed in range(1500):
        env.reset(seed=seed)
        total = 0.0
        for step in range(100):
            total += float(env.step(int(policy[step, planning.current_state(env)]))[1])
        returns.append(total)
    sampled = float(np.var(returns, ddof=1))
    # The sample variance of 1,500 returns has a relative standard error near sqrt(2 / 1500) = 3.7%
    # (more with heavy tails): 15% is four of them.
    assert sampled == pytest.approx(variance, rel=0.15)


def test_bad_policies_and_quantities_are_refused_with_their_shapes() -> None:
    model = _coin()
    with pytest.raises(ValueError, match=r"policy must be integer actions of shape \(1,\) or \(3, 1\)"):
        expectations.return_moments(model, np.zeros((2, 1), dtype=np.int64), 3)
    with pytest.raises(ValueError, match=r"actions in \[0, 1\]"):
        expectations.return_moments(model, np.array([2]), 3)
    with pytest.raises(ValueError, match="horizon must be a positive number"):
        expectations.policy_totals(model, np.array([0]), 0, {})
    with pytest.raises(ValueError, match=r"quantity 'x' must have shape \(1, 2\) or \(1, 2, 2\)"):
        expectations.policy_totals(model, np.array([0]), 2, {"x": np.zeros(3)})


def test_a_model_without_outcome_rewards_is_refused_for_moments() -> None:
    class Opaque:
        n_states, n_actions = 1, 1
        initial_distribution = np.ones(1)

        def backup(self, values: np.ndarray, gamma: float) -> np.ndarray:
            return np.ones((1, 1)) + gamma * values[:, None]

    assert expectations.policy_totals(Opaque(), np.array([0]), 5, {"one": np.ones((1, 1))}) == {"one": 5.0}
    with pytest.raises(ValueError, match="needs the reward of each outcome"):
        expectations.return_moments(Opaque(), np.array([0]), 5)
