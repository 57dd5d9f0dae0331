"""The exact-return callback: the greedy policy's value, computed with qgym.planning during learn()."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest
from stable_baselines3.common.logger import configure

from qgym import QLearning, planning
from qgym.training.callbacks import ExactReturnCallback


def test_exact_return_is_recorded_every_n_steps_and_ends_at_the_greedy_policys_value(tmp_path: Path) -> None:
    env = gym.make("FrozenLake-v1", is_slippery=False)
    model = QLearning("TabularPolicy", env, gamma=0.99, seed=0)
    model.set_logger(configure(str(tmp_path), ["csv"]))
    tracker = ExactReturnCallback(env, eval_freq=1_000, horizon=100)
    model.learn(5_000, callback=tracker, log_interval=1)
    model.logger.close()
    assert [step for step, _ in tracker.history] == [1_000, 2_000, 3_000, 4_000, 5_000]
    mdp = planning.model_of(env)
    final = planning.policy_return(mdp, model.q_table.argmax(axis=1), horizon=100)
    assert tracker.history[-1][1] == final
    assert final == 1.0
    assert "eval/exact_return" in (tmp_path / "progress.csv").read_text()


def test_a_non_positive_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="eval_freq must be a positive number of steps, got 0"):
        ExactReturnCallback(gym.make("FrozenLake-v1"), eval_freq=0)
