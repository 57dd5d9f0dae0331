"""The compiled kernels (numba, ``qgym[fast]``) give the numpy path's bits: actions, tables, visit
counts, whole training runs. The numpy path is the reference; it is itself tested against one env
after the other (``test_batched_runs``, ``test_batched_updates``)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from scripted_envs import ScriptedEnv
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import DummyVecEnv

from qgym.agents import ExpectedSARSA, QLearning, TabularAlgorithm, kernels
from qgym.agents.next_values import ONE_ROW, NextValues, Reductions, Values
from qgym.vec_adapter import make_sb3_vec_env

pytest.importorskip("numba", reason="the compiled kernels need numba: pip install 'qgym[fast]'")


def make(cls: type[TabularAlgorithm], n_states: int, **kwargs: Any) -> TabularAlgorithm:
    env = DummyVecEnv([lambda: ScriptedEnv(n_states, 4, {})] * 2)
    model = cls("TabularPolicy", env, gamma=0.95, seed=0, **kwargs)
    model.policy.tables[...] = np.random.default_rng(3).normal(size=model.policy.tables.shape)
    return model


def twins(model: TabularAlgorithm) -> tuple[TabularAlgorithm, TabularAlgorithm]:
    """The model (compiled) and a deep copy on the numpy path."""
    numpy_path = copy.deepcopy(model)
    numpy_path._bind_tables()  # deepcopy detaches the cached views from the copied policy
    numpy_path._use_kernels = False
    assert model._kernels() is not None
    assert numpy_path._kernels() is None
    return model, numpy_path


def crowded_batch(rng: np.random.Generator, size: int) -> tuple[np.ndarray, ...]:
    """1,024 envs in lockstep on a small rung: few states, repeated pairs, terminations."""
    states = rng.integers(6, size=size)
    next_states = np.where(rng.random(size) < 0.1, -1, rng.integers(6, size=size))
    return states, rng.integers(4, size=size), rng.normal(size=size).astype(np.float32), next_states


@pytest.mark.parametrize("cls", [QLearning, ExpectedSARSA])
@pytest.mark.parametrize("visit_decay", [None, 0.7])
@pytest.mark.parametrize("epsilon", [0.0, 0.2, 1.0])
def test_the_compiled_update_gives_the_numpy_paths_bits(
    cls: type[TabularAlgorithm], visit_decay: float | None, epsilon: float
) -> None:
    compiled, numpy_path = twins(make(cls, 50, visit_decay=visit_decay))
    # Rows whose left-to-right sum differs from a pairwise or compensated one (Expected SARSA's mean).
    for model in (compiled, numpy_path):
        model.policy.tables[0, 5] = [1e16, 1.0, -1e16, 1.0]
    rng = np.random.default_rng(int(epsilon * 10) + (visit_decay is None))
    for _ in range(15):
        states, actions, rewards, next_states = crowded_batch(rng, 1_024)
        for model in (compiled, numpy_path):
            model._learn_from_batch(states, actions, rewards, next_states, 0.1, epsilon)
    assert compiled.policy.tables.tobytes() == numpy_path.policy.tables.tobytes()
    assert np.array_equal(compiled.visit_counts, numpy_path.visit_counts)


@pytest.mark.parametrize("epsilon", [0.0, 0.05, 0.5, 1.0])
def test_compiled_actions_are_the_numpy_paths(epsilon: float) -> None:
    compiled, numpy_path = twins(make(QLearning, 40))
    rng = np.random.default_rng(int(epsilon * 100))
    # Integer values: many ties among the greedy actions, the case with the most arithmetic.
    table = rng.integers(3, size=(40, 4)).astype(np.float64)
    table[0] = [-0.0, 0.0, -0.0, 0.0]
    for model in (compiled, numpy_path):
        model.policy.tables[0] = table
    states = rng.integers(40, size=5_000)
    assert np.array_equal(
        compiled._batch_epsilon_greedy(states, epsilon), numpy_path._batch_epsilon_greedy(states, epsilon)
    )


@pytest.mark.parametrize("cls", [QLearning, ExpectedSARSA])
def test_a_training_run_on_the_native_vector_env_is_the_same_with_and_without_kernels(
    cls: type[TabularAlgorithm],
) -> None:
    def train(use_kernels: bool) -> TabularAlgorithm:
        env = make_sb3_vec_env("qgym/Trading-Chain-v0", 256, seed=5)
        model = cls("TabularPolicy", env, seed=5, visit_decay=0.6)
        model._use_kernels = use_kernels
        model.set_logger(Logger(folder=None, output_formats=[]))
        return model.learn(60_000)

    compiled, numpy_path = train(True), train(False)
    assert compiled.q_table.tobytes() == numpy_path.q_table.tobytes()
    assert np.array_equal(compiled.visit_counts, numpy_path.visit_counts)
    episodes = [[(e["r"], e["l"]) for e in m.ep_info_buffer] for m in (compiled, numpy_path)]
    assert episodes[0] == episodes[1]
    assert len(episodes[0]) == 100
    assert compiled._episode_num == numpy_path._episode_num > 0


class ShiftedQLearning(QLearning):
    """A user's rule: Q-learning's target plus one. Not a compiled rule, so it keeps the numpy path."""

    def _target(
        self, reward: Values, next_values: NextValues | None, epsilon: float, reduce: Reductions = ONE_ROW
    ) -> Values:
        return super()._target(reward, next_values, epsilon, reduce) + 1.0


def test_a_subclass_that_changes_the_target_is_not_given_the_parents_kernel() -> None:
    assert QLearning._own_compiled_rule() == kernels.GREATEST
    assert ExpectedSARSA._own_compiled_rule() == kernels.EXPECTED
    assert ShiftedQLearning._own_compiled_rule() is None
    model = make(ShiftedQLearning, 5)
    model.policy.tables[...] = 0.0
    states = np.zeros(64, dtype=np.int64)
    model._learn_from_batch(
        states, states, np.zeros(64, dtype=np.float32), -np.ones(64, dtype=np.int64), 1.0, 0.0
    )
    assert model.policy.tables[0, 0, 0] == 1.0  # its own target (0 + 1), not Q-learning's (0)


@pytest.mark.parametrize("cls", [QLearning, ExpectedSARSA])
def test_learners_in_lockstep_are_the_same_with_and_without_kernels(cls: type[TabularAlgorithm]) -> None:
    """``--seeds``: K learners on an exact model, compiled or not, give the same tables and returns."""
    import gymnasium as gym

    from qgym import planning
    from qgym.agents.lockstep import Lockstep

    env = gym.make("FrozenLake8x8-v1")
    model = planning.model_of(env)
    assert isinstance(model, planning.TabularModel)

    def learn(use_kernels: bool) -> Lockstep:
        template = cls("TabularPolicy", env, seed=0, visit_decay=0.6, exploration_fraction=0.3)
        template._use_kernels = use_kernels
        learners = Lockstep(template, model, [3, 1, 4], n_envs=8, max_episode_steps=200)
        assert (learners._kernels is not None) == use_kernels
        return learners.learn(40_000)

    compiled, numpy_path = learn(True), learn(False)
    assert compiled.tables.tobytes() == numpy_path.tables.tobytes()
    assert np.array_equal(compiled.visits, numpy_path.visits)
    assert compiled.visits.sum() == 3 * 40_000
    online = compiled.online_returns(), numpy_path.online_returns()
    assert np.array_equal(online[0].episodes, online[1].episodes)
    assert np.array_equal(online[0].recent_mean, online[1].recent_mean, equal_nan=True)
