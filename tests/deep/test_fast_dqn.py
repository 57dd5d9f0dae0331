"""qgym.deep: SB3's DQN and QR-DQN on the fast loop keep SB3's meaning, files and results."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from sb3_contrib.common.utils import quantile_huber_loss
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger, configure
from stable_baselines3.common.torch_layers import FlattenExtractor

from qgym import training
from qgym.deep import DQN, QRDQN
from qgym.deep.network import FastNetwork, Inputs
from qgym.deep.replay import ReplayRing
from qgym.training.envs import make_env
from qgym.training.network_files import load_network_model, save_network_model

torch.set_num_threads(1)


def _model(cls: Any, env_id: str, n_envs: int = 2, seed: int = 0, **kwargs: Any) -> Any:
    settings = {"learning_starts": 100, "policy_kwargs": {"net_arch": [32, 16]}, "seed": seed} | kwargs
    model = cls("MlpPolicy", make_env(env_id, n_envs, None, seed), device="cpu", **settings)
    model.set_logger(Logger(folder=None, output_formats=[]))
    return model


@pytest.mark.parametrize(
    ("cls", "env_id", "quantiles"),
    [
        (DQN, "qgym/GridFarm-1x2-v0", None),  # Discrete: the first layer read by index
        (QRDQN, "qgym/GridFarm-2x3-v0", 5),  # MultiDiscrete: a sum of columns
        (DQN, "CartPole-v1", None),  # Box: the first layer as SB3 applies it
        (QRDQN, "Acrobot-v1", 3),
    ],
)
def test_the_hand_written_gradients_are_autograds_through_the_libraries_losses(
    cls: Any, env_id: str, quantiles: int | None
) -> None:
    kwargs = {"policy_kwargs": {"net_arch": [32, 16], "n_quantiles": quantiles}} if quantiles else {}
    model = _model(cls, env_id, **kwargs)
    model.learn(600)
    inputs = Inputs(model.observation_space)
    online, target = (FastNetwork(model._layers(network), inputs) for network in model._networks())
    batch = ReplayRing(model.replay_buffer, inputs).sample(64, np.random.default_rng(1))
    outputs, kept = online.forward_kept(batch.observations)
    loss, upstream = model._loss_gradient(batch, outputs, target)
    mine = online.gradients(batch.observations, kept, upstream)

    parameters = list(model._networks()[0].parameters())
    outputs = online(batch.observations)
    if quantiles is None:
        with torch.no_grad():
            best_next = target(batch.next_observations).max(dim=1).values
            targets = batch.rewards + (1 - batch.terminated) * model.gamma * best_next
        chosen = outputs.gather(1, batch.actions[:, None]).squeeze(1)
        reference = torch.nn.functional.smooth_l1_loss(chosen, targets)
    else:
        size = len(batch.actions)
        with torch.no_grad():
            following = target(batch.next_observations).view(size, quantiles, -1)
            greedy = following.mean(dim=1, keepdim=True).argmax(dim=2, keepdim=True)
            following = following.gather(2, greedy.expand(size, quantiles, 1)).squeeze(2)
            targets = batch.rewards[:, None] + (1 - batch.terminated[:, None]) * model.gamma * following
        index = batch.actions[:, None, None].expand(size, quantiles, 1)
        chosen = outputs.view(size, quantiles, -1).gather(2, index).squeeze(2)
        reference = quantile_huber_loss(chosen, targets, sum_over_quantiles=True)
    expected = torch.autograd.grad(reference, parameters)
    assert float(loss) == pytest.approx(float(reference.detach()), rel=1e-6)
    for gradient, want in zip(mine, expected, strict=True):
        torch.testing.assert_close(gradient, want, rtol=1e-5, atol=1e-7)


def test_the_first_layer_read_by_index_equals_sb3s_one_hot_network() -> None:
    model = _model(DQN, "qgym/GridFarm-2x3-v0")
    observations = np.stack([model.observation_space.sample() for _ in range(50)])
    fast = FastNetwork(model.q_net.q_net, Inputs(model.observation_space))
    with torch.no_grad():
        theirs = model.q_net(model.policy.obs_to_tensor(observations)[0])
        ours = fast(fast.inputs.tensor(observations))
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)


def test_the_fast_loop_counts_updates_and_target_copies_as_sb3_does() -> None:
    settings = {"n_envs": 2, "train_freq": 3, "gradient_steps": 2, "target_update_interval": 10}
    counts = []
    for fast in (True, False):
        model = _model(DQN, "qgym/GridFarm-1x1-v0", **{k: v for k, v in settings.items() if k != "n_envs"})
        if not fast:
            model.fast_path_refusal = lambda: "compared with SB3's own loop"
        model.learn(1001)
        counts.append((model.num_timesteps, model._n_updates, model._n_calls, model._episode_num))
    assert counts[0] == counts[1]


def test_a_seed_gives_the_same_network_bit_for_bit() -> None:
    weights = []
    for _ in range(2):
        model = _model(DQN, "qgym/Trading-Chain-v0", seed=3)
        model.learn(1500)
        weights.append([p.detach().clone() for p in model.q_net.parameters()])
    for a, b in zip(*weights, strict=True):
        assert torch.equal(a, b)
    other = _model(DQN, "qgym/Trading-Chain-v0", seed=4)
    other.learn(1500)
    assert not all(torch.equal(a, p) for a, p in zip(weights[0], other.q_net.parameters(), strict=True))


def test_truncation_bootstraps_from_the_last_observation_and_termination_does_not() -> None:
    farm = _model(DQN, "qgym/GridFarm-1x1-v0", n_envs=1, buffer_size=1_000)
    farm.learn(250)  # seasons of 100 steps: two time limits
    buffer = farm.replay_buffer
    ended = np.flatnonzero(buffer.dones[:250, 0])  # stored as SB3 stores them: an end, and which kind
    assert ended.tolist() == [99, 199]
    assert buffer.timeouts[ended, 0].all()  # a time limit is not a termination
    within = [row for row in range(249) if row not in (99, 199)]  # a season goes on: s' is the next s
    np.testing.assert_array_equal(
        buffer.next_observations[within], buffer.observations[[r + 1 for r in within]]
    )
    lake = _model(DQN, "FrozenLake-v1", n_envs=1, buffer_size=2_000, learning_starts=2_000)
    lake.learn(2_000)
    rows = lake.replay_buffer
    holes = {5, 7, 11, 12}
    terminal = rows.dones[:2000, 0] * (1 - rows.timeouts[:2000, 0]) > 0
    landed = rows.next_observations[:2000, 0, 0]
    assert terminal.any()
    assert set(landed[terminal].tolist()) <= holes | {15}  # terminations: a hole or the goal
    assert not np.isin(landed[~terminal], list(holes | {15})).any()


@pytest.mark.parametrize("cls", [DQN, QRDQN])
def test_a_saved_model_loads_without_unpickling_predicts_the_same_and_trains_on(
    cls: Any, tmp_path: Path
) -> None:
    model = _model(cls, "qgym/GridFarm-1x2-v0")
    model.learn(800)
    path = save_network_model(model, tmp_path / "model.zip")
    env = gym.make("qgym/GridFarm-1x2-v0")
    loaded = load_network_model(path, env)
    assert type(loaded) is cls
    states = np.arange(98)
    np.testing.assert_array_equal(
        loaded.predict(states, deterministic=True)[0], model.predict(states, deterministic=True)[0]
    )
    loaded.set_logger(Logger(folder=None, output_formats=[]))
    loaded.learn(300, reset_num_timesteps=False)
    assert loaded.num_timesteps == 800 + 300


def test_callbacks_stop_training_and_the_logger_gets_sb3s_figures(tmp_path: Path) -> None:
    class StopAt(BaseCallback):
        def _on_step(self) -> bool:
            return self.num_timesteps < 3_000

    model = _model(DQN, "qgym/GridFarm-1x1-v0", n_envs=4)
    model.set_logger(configure(str(tmp_path), ["csv"]))
    model.learn(10_000, callback=StopAt(), log_interval=1)
    assert model.num_timesteps == 3_000
    model.logger.close()
    with open(tmp_path / "progress.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {"rollout/ep_rew_mean", "train/loss", "rollout/exploration_rate"} <= set(rows[-1])
    assert float(rows[-1]["time/total_timesteps"]) > 0


def test_what_the_fast_loop_cannot_run_goes_through_sb3s_own_loop() -> None:
    class Features(FlattenExtractor):
        pass

    class Custom(ReplayBuffer):
        pass

    model = _model(DQN, "qgym/GridFarm-1x1-v0", policy_kwargs={"features_extractor_class": Features})
    assert model.fast_path_refusal() == "the policy has its own features extractor"
    model.learn(300)
    assert model.num_timesteps >= 300  # SB3's loop, which ends its last vector step
    assert model._n_updates > 0
    assert _model(DQN, "qgym/GridFarm-1x1-v0").fast_path_refusal() is None
    assert _model(DQN, "qgym/GridFarm-1x1-v0", n_steps=3).fast_path_refusal() is None  # SB3's n-step buffer
    custom = _model(DQN, "qgym/GridFarm-1x1-v0", replay_buffer_class=Custom)
    assert custom.fast_path_refusal() == "the replay buffer is Custom, a custom class"


def test_the_fast_loop_learns_the_deterministic_farm_to_the_exact_optimum() -> None:
    preset = training.load_preset("dqn", "qgym/GridFarm-1x1-Det-v0")
    model = training.make_model("dqn", "qgym/GridFarm-1x1-Det-v0", preset, seed=0)
    assert type(model) is DQN
    model.set_logger(Logger(folder=None, output_formats=[]))
    model.learn(preset["n_timesteps"])
    share = training.exact_return(model, "qgym/GridFarm-1x1-Det-v0", preset.get("env_wrapper"))
    assert share is not None
    assert share / training.exact_optimum("qgym/GridFarm-1x1-Det-v0") >= 0.9


def test_a_reward_scaled_preset_steps_the_native_vector_env_and_logs_the_envs_own_returns() -> None:
    spec = [{"qgym.wrappers.ScaleReward": {"scale": 0.1}}]
    scaled, plain = make_env("qgym/GridFarm-1x1-v0", 4, spec, 7), make_env("qgym/GridFarm-1x1-v0", 4, None, 7)
    assert type(scaled).__name__ == "ScaleRewards"
    assert hasattr(type(scaled), "step_arrays")
    scaled.reset(), plain.reset()
    actions = np.random.default_rng(0).integers(0, 8, size=(250, 4))
    episodes = []
    for row in actions:
        step = scaled.step_arrays(row)  # type: ignore[attr-defined]
        _, rewards, _, infos = plain.step(row)
        np.testing.assert_allclose(step.rewards, 0.1 * rewards, rtol=1e-6)
        episodes += [info["episode"]["r"] for info in step.finished_infos]
        for i, info in zip(step.finished.tolist(), step.finished_infos, strict=True):
            assert info["episode"]["r"] == pytest.approx(infos[i]["episode"]["r"])  # the env's own units
    assert len(episodes) == 8  # two 100-day seasons in each of the 4 envs
    judged = make_env("qgym/GridFarm-1x1-v0", 1, spec, 0, own_rewards=True)
    assert type(judged) is type(scaled)  # the type the preset trains on (SB3's EvalCallback checks it)
    assert judged.scale == 1.0  # type: ignore[attr-defined]


@pytest.mark.parametrize("env_id", ["CartPole-v1", "MountainCar-v0", "Acrobot-v1"])
def test_the_classic_control_envs_have_a_dqn_preset_that_names_rl_zoos_score(env_id: str) -> None:
    from qgym.training.presets import default_preset_path

    preset = training.load_preset("dqn", env_id)
    assert preset["n_timesteps"] >= 10_000
    text = default_preset_path("dqn").read_text(encoding="utf-8")
    comment = text.split(f"\n{env_id}:")[0].rsplit("\n\n", 1)[-1]
    assert "RL Zoo" in comment, comment
    # a promise is a measurement over seeds 0-2, or the comment says there is none yet
    assert comment.startswith("NO PROMISE") or "seeds 0-2" in comment, comment


def test_qgym_train_runs_dqn_on_cartpole_from_the_shipped_preset(tmp_path: Path) -> None:
    import subprocess
    import sys

    command = [sys.executable, "-m", "qgym", "train", "--algo", "dqn", "--env", "CartPole-v1", "-n", "1500"]
    done = subprocess.run(
        [*command, "--log-folder", str(tmp_path)], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "with the preset CartPole-v1 of dqn.yml" in done.stdout
    assert (tmp_path / "dqn" / "CartPole-v1_1" / "model.zip").is_file()


@pytest.mark.parametrize(("cls", "quantiles"), [(DQN, None), (QRDQN, 5)])
def test_a_small_discrete_space_trains_once_per_state_to_the_same_network(
    cls: Any, quantiles: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GridFarm-1x2 has 98 states, fewer than a batch of 128: the network runs on the 98 states and the
    # target network's values are kept between target copies (every 40 env steps here); the weights
    # must be those of the per-sample update, which the test above checks against autograd
    kwargs: dict[str, Any] = {"batch_size": 128, "target_update_interval": 40, "train_freq": 1}
    if quantiles:
        kwargs["policy_kwargs"] = {"net_arch": [32, 16], "n_quantiles": quantiles}
    assert Inputs(gym.spaces.Discrete(98)).every_state(128) is not None
    assert Inputs(gym.spaces.Discrete(98)).every_state(64) is None
    per_state = _model(cls, "qgym/GridFarm-1x2-v0", **kwargs)
    per_state.learn(500)  # 200 updates after learning_starts, 12 target copies
    monkeypatch.setattr(Inputs, "every_state", lambda self, batch_size: None)
    per_sample = _model(cls, "qgym/GridFarm-1x2-v0", **kwargs)
    per_sample.learn(500)
    assert per_state._n_updates == per_sample._n_updates == 200
    for mine, theirs in zip(*(m._networks()[0].parameters() for m in (per_state, per_sample)), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-5)
    for mine, theirs in zip(*(m._networks()[1].parameters() for m in (per_state, per_sample)), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("cls", "quantiles"), [(DQN, None), (QRDQN, 5)])
def test_the_target_table_of_a_multidiscrete_space_trains_to_the_same_network(
    cls: Any, quantiles: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GridFarm-1x2 unravelled (7 x 7 x 2 = 98 states): batches of 32 read 640 rows between two target
    # copies (every 20 vector steps), more than 98, so the target network is run once on every state
    # and read by row; the weights must be those of running it on every batch
    wrapper = [{"qgym.wrappers.UnravelObservation": {"dims": [7, 7, 2]}}]
    kwargs: dict[str, Any] = {"batch_size": 32, "target_update_interval": 40, "train_freq": 1}
    if quantiles:
        kwargs["policy_kwargs"] = {"net_arch": [32, 16], "n_quantiles": quantiles}

    def model() -> Any:
        settings = {"learning_starts": 100, "policy_kwargs": {"net_arch": [32, 16]}, "seed": 0} | kwargs
        built = cls("MlpPolicy", make_env("qgym/GridFarm-1x2-v0", 2, wrapper, 0), device="cpu", **settings)
        built.set_logger(Logger(folder=None, output_formats=[]))
        return built

    inputs = Inputs(gym.spaces.MultiDiscrete([7, 7, 2]))
    assert inputs.all_states(98) is not None
    assert inputs.all_states(97) is None
    states = inputs.all_states(98)
    assert states is not None
    torch.testing.assert_close(inputs.row_of(states), torch.arange(98))
    tabled = model()
    tabled.learn(500)
    monkeypatch.setattr(Inputs, "all_states", lambda self, limit: None)
    per_batch = model()
    per_batch.learn(500)
    assert tabled._n_updates == per_batch._n_updates == 200
    for mine, theirs in zip(*(m._networks()[0].parameters() for m in (tabled, per_batch)), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-5)


def test_the_first_layer_gradient_by_rows_equals_the_one_hot_product(monkeypatch: pytest.MonkeyPatch) -> None:
    # a MultiDiscrete with more one-hot inputs than _ONE_HOT_INPUTS adds delta's rows by index instead
    from qgym.deep import network

    model = _model(DQN, "qgym/GridFarm-2x3-v0")
    inputs = Inputs(model.observation_space)
    fast = FastNetwork(model.q_net.q_net, inputs)
    x = inputs.tensor(np.stack([model.observation_space.sample() for _ in range(64)]))
    outputs, kept = fast.forward_kept(x)
    upstream = torch.randn_like(outputs)
    by_product = fast.gradients(x, kept, upstream)
    monkeypatch.setattr(network, "_ONE_HOT_INPUTS", 0)
    by_rows = fast.gradients(x, kept, upstream)
    for one, other in zip(by_product, by_rows, strict=True):
        torch.testing.assert_close(one, other, rtol=1e-5, atol=1e-6)
