"""The Stable-Baselines3 internals the tabular agents rely on (``qgym/agents/sb3_surface.py``) exist in
the installed SB3, with the meaning the agents give them: an SB3 release that renames one fails here."""

from __future__ import annotations

import inspect

import gymnasium as gym
import pytest
from stable_baselines3 import DQN
from stable_baselines3.common.base_class import BaseAlgorithm

from qgym.agents import QLearning, sb3_surface


@pytest.mark.parametrize("name", sb3_surface.METHODS)
def test_each_method_the_agents_call_is_a_method_of_sb3s_base_algorithm(name: str) -> None:
    assert callable(getattr(BaseAlgorithm, name, None)), name


def test_the_methods_take_the_arguments_the_agents_pass() -> None:
    assert list(inspect.signature(BaseAlgorithm._setup_learn).parameters)[1:6] == [
        "total_timesteps",
        "callback",
        "reset_num_timesteps",
        "tb_log_name",
        "progress_bar",
    ]
    assert list(inspect.signature(BaseAlgorithm._update_info_buffer).parameters)[1:] == ["infos", "dones"]


@pytest.mark.parametrize("name", sb3_surface.ATTRIBUTES)
def test_each_attribute_is_set_by_sb3_itself_on_its_own_algorithms(name: str) -> None:
    """SB3's DQN has every attribute after construction and its learn setup: they are SB3's, not ours."""
    model = DQN("MlpPolicy", gym.make("CartPole-v1"), learning_starts=0, device="cpu")
    model.learn(1)
    assert hasattr(model, name), name


def test_the_surface_reads_and_writes_what_sb3_reads_and_writes() -> None:
    model = QLearning("TabularPolicy", gym.make("FrozenLake-v1"), seed=0).learn(300)
    state = sb3_surface.run_state(model)
    assert state["n_updates"] == model.num_timesteps == 300
    assert state["episode_num"] == len(model.ep_info_buffer or []) > 0
    sb3_surface.set_run_state(model, 7, 3, 5, 0.25)
    assert (model._total_timesteps, model._episode_num, model._n_updates) == (7, 3, 5)
    assert model._current_progress_remaining == 0.25
    assert sb3_surface.finish_episode(model) == 4
