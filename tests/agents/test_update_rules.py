"""Each TD rule, checked against the update computed by hand on a scripted MDP, in both loops."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from scripted_envs import ScriptedEnv, on_loop, one_step_episodes
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv

from qgym.agents import SARSA, DoubleQLearning, ExpectedSARSA, QLearning, TabularAlgorithm

ALPHA, GAMMA = 0.5, 0.9
LOOPS = ["direct", "vectorized"]


class Recorder(BaseCallback):
    """Keeps the action and a copy of every table after each step."""

    def __init__(self) -> None:
        super().__init__()
        self.actions: list[int] = []
        self.tables: list[np.ndarray] = []

    def _on_step(self) -> bool:
        self.actions.append(int(self.locals["actions"][0]))
        self.tables.append(self.model.policy.tables.copy())
        return True


def make(
    cls: type[TabularAlgorithm], env: Any, loop: str, epsilon: float = 0.0, **kwargs: Any
) -> TabularAlgorithm:
    model = cls(
        "TabularPolicy",
        on_loop(env, loop),
        learning_rate=ALPHA,
        gamma=GAMMA,
        exploration_fraction=0.0,
        exploration_initial_eps=epsilon,
        exploration_final_eps=epsilon,
        seed=kwargs.pop("seed", 0),
        **kwargs,
    )
    return model


def two_step_chain() -> ScriptedEnv:
    """0 -(any action, +1)-> 1 -(any action, +0)-> 2 (terminal)."""
    transitions = {(0, a): (1, 1.0, False) for a in range(2)} | {(1, a): (2, 0.0, True) for a in range(2)}
    return ScriptedEnv(3, 2, transitions)


@pytest.mark.parametrize("loop", LOOPS)
def test_q_learning_bootstraps_from_the_greedy_next_value(loop: str) -> None:
    model = make(QLearning, two_step_chain(), loop)
    model.policy.tables[0, 0] = [0.5, 0.1]
    model.policy.tables[0, 1] = [0.2, 0.8]
    model.learn(1)
    assert model.q_table[0, 0] == 0.5 + ALPHA * (1.0 + GAMMA * 0.8 - 0.5)
    assert model.q_table[0, 1] == 0.1


@pytest.mark.parametrize("loop", LOOPS)
def test_sarsa_bootstraps_from_the_action_it_takes_next(loop: str) -> None:
    seen_next_actions = set()
    for seed in range(8):
        model = make(SARSA, two_step_chain(), loop, epsilon=1.0, seed=seed)
        model.policy.tables[0, 1] = [0.2, 0.8]
        recorder = Recorder()
        model.learn(2, callback=recorder)
        first, second = recorder.actions
        after_first = recorder.tables[0][0]
        assert after_first[0, first] == ALPHA * (1.0 + GAMMA * after_first[1, second])
        seen_next_actions.add(second)
    assert seen_next_actions == {0, 1}, "both next actions should occur, or the test proves nothing"


@pytest.mark.parametrize("loop", LOOPS)
def test_expected_sarsa_bootstraps_from_the_epsilon_greedy_mean(loop: str) -> None:
    epsilon = 0.4
    model = make(ExpectedSARSA, two_step_chain(), loop, epsilon=epsilon)
    model.policy.tables[0, 1] = [0.2, 0.8]
    recorder = Recorder()
    model.learn(1, callback=recorder)
    expected_next = epsilon * (0.2 + 0.8) / 2 + (1 - epsilon) * 0.8
    assert model.q_table[0, recorder.actions[0]] == pytest.approx(
        ALPHA * (1.0 + GAMMA * expected_next), abs=1e-15
    )


@pytest.mark.parametrize("loop", LOOPS)
def test_double_q_learning_updates_one_table_valued_by_the_other(loop: str) -> None:
    updated_tables = set()
    for seed in range(8):
        model = make(DoubleQLearning, two_step_chain(), loop, seed=seed)
        tables = model.policy.tables
        tables[0, 0] = [0.5, 0.1]
        tables[1, 0] = [0.5, 0.1]
        tables[0, 1] = [0.2, 0.8]  # table 0 picks action 1 in state 1 ...
        tables[1, 1] = [0.6, 0.3]  # ... table 1 picks action 0
        before = tables.copy()
        model.learn(1)
        changed = [t for t in range(2) if not np.array_equal(tables[t], before[t])]
        assert len(changed) == 1
        table = changed[0]
        value_of_other = 0.3 if table == 0 else 0.2
        assert tables[table, 0, 0] == 0.5 + ALPHA * (1.0 + GAMMA * value_of_other - 0.5)
        updated_tables.add(table)
    assert updated_tables == {0, 1}


@pytest.mark.parametrize("cls", [QLearning, SARSA, ExpectedSARSA])
@pytest.mark.parametrize("loop", LOOPS)
def test_termination_does_not_bootstrap(cls: type[TabularAlgorithm], loop: str) -> None:
    model = make(cls, one_step_episodes(terminated=True), loop)
    model.policy.tables[0, 1] = [2.0, 2.0]
    model.learn(1)
    assert model.q_table[0].max() == ALPHA * 1.0


@pytest.mark.parametrize("cls", [QLearning, SARSA, ExpectedSARSA])
@pytest.mark.parametrize("loop", LOOPS)
def test_truncation_bootstraps_from_the_terminal_observation(cls: type[TabularAlgorithm], loop: str) -> None:
    env = gym.wrappers.TimeLimit(one_step_episodes(terminated=False), max_episode_steps=1)
    model = make(cls, env, loop)
    model.policy.tables[0, 1] = [2.0, 2.0]
    model.learn(1)
    assert model.q_table[0].max() == ALPHA * (1.0 + GAMMA * 2.0)


def test_envs_hitting_the_same_pair_in_one_step_update_one_after_the_other() -> None:
    env = DummyVecEnv([one_step_episodes, one_step_episodes, one_step_episodes])
    model = make(QLearning, env, "vectorized")
    model.policy.tables[0, 0] = [0.1, 0.0]  # every env takes action 0
    model.learn(3)
    expected = 0.1
    for _ in range(3):
        expected += ALPHA * (1.0 - expected)
    assert model.q_table[0, 0] == expected
    assert model.visit_counts[0, 0] == 3


@pytest.mark.parametrize("loop", LOOPS)
def test_visit_decay_step_size_is_the_larger_of_power_and_floor(loop: str) -> None:
    decay, floor, n_episodes = 0.5, 0.3, 20
    env = ScriptedEnv(2, 1, {(0, 0): (1, 0.0, True)}, reward_is_episode=True)
    model = make(QLearning, env, loop, visit_decay=decay)
    model.learning_rate = floor
    model._setup_lr_schedule()
    model.learn(n_episodes)
    expected = 0.0
    for n in range(1, n_episodes + 1):
        expected += max(n**-decay, floor) * (n - expected)
    assert model.q_table[0, 0] == pytest.approx(expected, rel=1e-14)
    assert model.visit_counts[0, 0] == n_episodes


@pytest.mark.parametrize("loop", LOOPS)
def test_step_size_one_over_n_gives_the_running_mean(loop: str) -> None:
    env = ScriptedEnv(2, 1, {(0, 0): (1, 0.0, True)}, reward_is_episode=True)
    model = make(QLearning, env, loop, visit_decay=1.0)
    model.learning_rate = 0.0
    model._setup_lr_schedule()
    model.learn(9)
    assert model.q_table[0, 0] == pytest.approx(np.mean(np.arange(1, 10)), rel=1e-14)


def test_learning_rate_schedule_sees_progress_fall_from_one_to_zero() -> None:
    seen: list[float] = []

    def schedule(progress_remaining: float) -> float:
        seen.append(progress_remaining)
        return 0.1

    model = QLearning("TabularPolicy", one_step_episodes(), learning_rate=schedule, seed=0)
    seen.clear()
    model.learn(10)
    assert seen == [1.0 - k / 10 for k in range(10)]


def test_exploration_rate_decays_linearly_as_in_dqn() -> None:
    rates: list[float] = []

    class Rates(BaseCallback):
        def _on_step(self) -> bool:
            rates.append(self.model.exploration_rate)
            return True

    model = QLearning(
        "TabularPolicy",
        one_step_episodes(),
        exploration_fraction=0.5,
        exploration_initial_eps=1.0,
        exploration_final_eps=0.2,
        seed=0,
    )
    model.learn(10, callback=Rates())
    assert rates == pytest.approx([1.0, 0.84, 0.68, 0.52, 0.36, 0.2, 0.2, 0.2, 0.2, 0.2])
