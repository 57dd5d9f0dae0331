"""The batched loop (a VecEnv of several envs) learns what the per-env loop learns from the same data."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from scripted_envs import ScriptedEnv
from stable_baselines3.common.vec_env import DummyVecEnv

from qgym.agents import SARSA, DoubleQLearning, ExpectedSARSA, QLearning, TabularAlgorithm, batch, kernels
from qgym.agents.exploration import choose_for_states, choose_rows

BATCHED = [QLearning, ExpectedSARSA]


def make(cls: type[TabularAlgorithm], n_states: int, n_envs: int = 4, **kwargs: Any) -> TabularAlgorithm:
    env = DummyVecEnv([lambda: ScriptedEnv(n_states, 3, {})] * n_envs)
    return cls("TabularPolicy", env, gamma=0.9, seed=0, **kwargs)


def random_batch(
    rng: np.random.Generator, n_states: int, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Transitions crowded onto few states: repeated pairs, next states that get updated, terminations."""
    crowd = max(2, n_states // 8)
    states = rng.integers(crowd, size=size)
    actions = rng.integers(3, size=size)
    rewards = rng.normal(size=size).astype(np.float32)
    next_states = np.where(rng.random(size) < 0.1, -1, rng.integers(crowd, size=size))
    return states, actions, rewards, next_states


@pytest.mark.parametrize("cls", BATCHED)
@pytest.mark.parametrize("n_states", [5, 5_000], ids=["whole-table", "touched-rows"])
@pytest.mark.parametrize("visit_decay", [None, 0.6])
def test_a_batch_update_is_bit_identical_to_one_env_after_the_other(
    cls: type[TabularAlgorithm], n_states: int, visit_decay: float | None
) -> None:
    batched = make(cls, n_states, visit_decay=visit_decay)
    rng = np.random.default_rng(1)
    batched.policy.tables[...] = rng.normal(size=batched.policy.tables.shape)
    sequential = copy.deepcopy(batched)
    alpha, epsilon = 0.1, 0.3
    q, visits = batched.policy.tables[0], batched.policy.visits[0]
    tables, visit_tables = list(sequential.policy.tables), list(sequential.policy.visits)
    for _ in range(20):
        states, actions, rewards, next_states = random_batch(rng, n_states, 64)
        batch.learn_from_batch(
            q, visits, (states, actions, rewards, next_states), alpha, epsilon, batched.rule
        )
        for s, a, r, n in zip(
            states.tolist(), actions.tolist(), rewards.tolist(), next_states.tolist(), strict=True
        ):
            transition = (s, a, r, None if n < 0 else n)
            sequential.rule.learn_one(tables, visit_tables, transition, alpha, epsilon, _no_draws)
    assert batched.policy.tables.tobytes() == sequential.policy.tables.tobytes()
    assert np.array_equal(batched.visit_counts, sequential.visit_counts)


def _no_draws() -> float:
    raise AssertionError("a rule with a batch form draws no random number in its update")


@pytest.mark.parametrize("cls", BATCHED)
def test_a_vecenv_of_several_envs_takes_the_batched_loop(
    cls: type[TabularAlgorithm], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QGYM_KERNELS", "off")  # the numpy path, whose batches the spy sees
    model = make(cls, 5)
    calls: list[int] = []
    original = batch.learn_from_batch

    def spy(q: Any, visits: Any, transitions: Any, *rest: Any) -> None:
        calls.append(len(transitions[0]))
        original(q, visits, transitions, *rest)

    monkeypatch.setattr(batch, "learn_from_batch", spy)
    model.learn(40)
    assert calls == [4] * 10
    assert model.visit_counts.sum() == 40
    assert kernels.load() is None


@pytest.mark.parametrize("cls", [SARSA, DoubleQLearning])
def test_rules_that_draw_inside_their_update_keep_the_per_env_loop(cls: type[TabularAlgorithm]) -> None:
    assert cls.rule_class is not None
    assert not cls.rule_class.has_batch_form()
    model = make(cls, 5)
    model.learn(40)  # through the per-env loop: the batched one would refuse a rule without a batch form
    assert model.visit_counts.sum() == 40


@pytest.mark.parametrize("cls", BATCHED)
def test_the_batched_loop_is_deterministic_for_a_seed(cls: type[TabularAlgorithm]) -> None:
    transitions = {(s, a): ((s + a) % 7, float(a == s % 3), s == 6) for s in range(7) for a in range(3)}

    def train() -> np.ndarray:
        env = DummyVecEnv([lambda: ScriptedEnv(7, 3, transitions)] * 8)
        model = cls("TabularPolicy", env, seed=3)
        return model.learn(2_000).q_table

    assert train().tobytes() == train().tobytes()


def _batch_choice(q: np.ndarray, states: np.ndarray, epsilon: float, seed: int = 0) -> np.ndarray:
    draws = np.random.default_rng(seed).random(len(states))
    return choose_for_states(q, states, epsilon, draws)


def test_batched_greedy_actions_break_ties_at_random_among_the_best_only() -> None:
    q = np.zeros((5, 3))
    q[0] = [1.0, 0.0, 1.0]
    q[1] = [0.0, 2.0, 0.0]
    chosen = _batch_choice(q, np.zeros(4_000, dtype=np.int64), 0.0)
    assert set(np.unique(chosen).tolist()) == {0, 2}
    assert abs(np.mean(chosen == 0) - 0.5) < 0.05
    assert np.all(_batch_choice(q, np.ones(100, dtype=np.int64), 0.0) == 1)


def test_batched_exploration_takes_every_action_at_rate_epsilon() -> None:
    q = np.zeros((5, 3))
    q[1] = [0.0, 2.0, 0.0]
    chosen = _batch_choice(q, np.ones(30_000, dtype=np.int64), 0.3)
    shares = np.bincount(chosen, minlength=3) / len(chosen)
    assert np.allclose(shares, [0.1, 0.8, 0.1], atol=0.02)
    everything = _batch_choice(q, np.ones(3_000, dtype=np.int64), 1.0)
    assert np.allclose(np.bincount(everything, minlength=3) / 3_000, 1 / 3, atol=0.04)


@pytest.mark.parametrize("n_states", [5, 50_000], ids=["per-table-row", "per-state"])
def test_the_batched_choice_is_the_rows_choice_of_the_states(n_states: int) -> None:
    rng = np.random.default_rng(n_states)
    q = rng.integers(3, size=(n_states, 5)).astype(np.float64)  # many ties
    states = rng.integers(n_states, size=1_000)
    for epsilon in (0.0, 0.3, 1.0):
        draws = rng.random(1_000)
        assert np.array_equal(
            choose_for_states(q, states, epsilon, draws), choose_rows(q[states], epsilon, draws)
        )
