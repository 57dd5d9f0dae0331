"""qgym.deep with ``n_steps`` > 1: the fast loop's n-step returns are SB3's, and they learn."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.buffers import NStepReplayBuffer
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import Logger

from qgym import training
from qgym.deep import DQN, QRDQN
from qgym.deep.network import Inputs
from qgym.deep.replay import ReplayRing
from qgym.training.envs import make_env

torch.set_num_threads(1)


def _model(cls: Any, env: Any, n_envs: int, **kwargs: Any) -> Any:
    settings = {"learning_starts": 100, "policy_kwargs": {"net_arch": [16]}, "seed": 0} | kwargs
    env = make_env(env, n_envs, None, 0) if isinstance(env, str) else env
    model = cls("MlpPolicy", env, device="cpu", **settings)
    model.set_logger(Logger(folder=None, output_formats=[]))
    return model


@pytest.mark.parametrize(("n_envs", "n_steps"), [(1, 3), (3, 5)])
def test_n_step_batches_are_the_returns_sb3s_n_step_buffer_computes(n_envs: int, n_steps: int) -> None:
    # FrozenLake: terminations (holes, the goal) and 8-step time limits; a buffer of 400 rows
    # filled 4 times over, so sequences cross the ring's end and the newest row
    lake = make_vec_env(lambda: gym.make("FrozenLake-v1", max_episode_steps=8), n_envs, seed=0)
    model = _model(DQN, lake, n_envs, n_steps=n_steps, gamma=0.9, buffer_size=400)
    model.learn(1_601 * n_envs)
    buffer = model.replay_buffer
    assert type(buffer) is NStepReplayBuffer
    assert buffer.full
    assert buffer.timeouts.any()
    assert (buffer.dones * (1 - buffer.timeouts)).any()
    inputs = Inputs(model.observation_space)
    ring = ReplayRing(buffer, inputs)
    rows = np.arange(buffer.buffer_size)
    np.random.seed(4)
    columns = np.random.randint(0, n_envs, size=rows.shape)  # the env SB3 draws for each row
    np.random.seed(4)
    theirs = buffer._get_samples(rows)
    ours = ring._n_step_batch(rows * n_envs + columns)
    assert ours.discounts is not None
    assert theirs.discounts is not None
    torch.testing.assert_close(ours.rewards, theirs.rewards[:, 0])
    torch.testing.assert_close(ours.discounts, theirs.discounts[:, 0])
    torch.testing.assert_close(ours.terminated, theirs.dones[:, 0])
    torch.testing.assert_close(ours.actions, theirs.actions[:, 0].long())
    torch.testing.assert_close(ours.observations, inputs.tensor(theirs.observations.numpy()))
    torch.testing.assert_close(ours.next_observations, inputs.tensor(theirs.next_observations.numpy()))
    assert (ours.discounts > 0.9**n_steps + 1e-6).any()  # some sequences were cut short


@pytest.mark.parametrize("cls", [DQN, QRDQN])
def test_the_fast_loop_trains_with_n_step_returns_and_sb3s_counts(cls: Any) -> None:
    settings = {"train_freq": 3, "gradient_steps": 2, "target_update_interval": 10, "n_steps": 3}
    counts = []
    for fast in (True, False):
        model = _model(cls, "qgym/GridFarm-1x1-v0", 2, **settings)
        if not fast:
            model.fast_path_refusal = lambda: "compared with SB3's own loop"
        assert fast is (model.fast_path_refusal() is None)
        model.learn(1001)
        counts.append((model.num_timesteps, model._n_updates, model._n_calls, model._episode_num))
    assert counts[0] == counts[1]


def test_n_step_returns_learn_the_deterministic_farm_to_the_exact_optimum() -> None:
    env_id = "qgym/GridFarm-1x1-Det-v0"
    preset = dict(training.load_preset("dqn", env_id)) | {"n_steps": 3}
    model = training.make_model("dqn", env_id, preset, seed=0)
    assert type(model) is DQN
    assert model.fast_path_refusal() is None
    model.set_logger(Logger(folder=None, output_formats=[]))
    model.learn(preset["n_timesteps"])
    value = training.exact_return(model, env_id, preset.get("env_wrapper"))
    assert value is not None
    assert value / training.exact_optimum(env_id) >= 0.9
