"""What a Stable-Baselines3 user does with DQN works the same with the tabular agents."""

from __future__ import annotations

import csv
import json
import pathlib
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from scripted_envs import on_loop
from stable_baselines3.common.callbacks import (
    BaseCallback,
    CheckpointCallback,
    EvalCallback,
    StopTrainingOnMaxEpisodes,
    StopTrainingOnRewardThreshold,
)
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.logger import configure
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.utils import ConstantSchedule, LinearSchedule
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from qgym.agents import QLearning, TabularAlgorithm

LOOPS = ["direct", "vectorized"]


def deterministic_lake() -> gym.Env[Any, Any]:
    return gym.make("FrozenLake-v1", is_slippery=False)


def model_on_lake(loop: str = "direct", **kwargs: Any) -> TabularAlgorithm:
    return QLearning("TabularPolicy", on_loop(deterministic_lake(), loop), seed=0, **kwargs)


def test_evaluate_policy_scores_a_trained_model() -> None:
    model = model_on_lake().learn(10_000)
    mean, std = evaluate_policy(model, Monitor(deterministic_lake()), n_eval_episodes=5)
    assert (mean, std) == (1.0, 0.0)


def test_eval_callback_with_reward_threshold_stops_training_early(tmp_path: pathlib.Path) -> None:
    stop = StopTrainingOnRewardThreshold(reward_threshold=0.99)
    evaluation = EvalCallback(
        Monitor(deterministic_lake()),
        callback_on_new_best=stop,
        eval_freq=500,
        n_eval_episodes=3,
        best_model_save_path=str(tmp_path / "best"),
        log_path=str(tmp_path / "eval"),
    )
    model = model_on_lake().learn(200_000, callback=evaluation)
    assert model.num_timesteps < 200_000
    assert model.num_timesteps % 500 == 0
    assert evaluation.best_mean_reward >= 0.99
    best = QLearning.load(tmp_path / "best" / "best_model")
    assert evaluate_policy(best, Monitor(deterministic_lake()), n_eval_episodes=3)[0] == 1.0


def test_checkpoint_callback_writes_files_that_load(tmp_path: pathlib.Path) -> None:
    model = model_on_lake().learn(2_000, callback=CheckpointCallback(save_freq=500, save_path=str(tmp_path)))
    files = sorted(tmp_path.glob("rl_model_*_steps.zip"), key=lambda p: int(p.stem.split("_")[2]))
    assert [p.name for p in files] == [f"rl_model_{n}_steps.zip" for n in (500, 1000, 1500, 2000)]
    assert [QLearning.load(p).num_timesteps for p in files] == [500, 1000, 1500, 2000]
    np.testing.assert_array_equal(QLearning.load(files[-1]).q_table, model.q_table)


# SB3 silences tqdm's "rich is experimental" warning at import; pytest's "error" filter re-raises it.
@pytest.mark.filterwarnings("ignore::tqdm.TqdmExperimentalWarning")
def test_progress_bar_counts_every_step(capsys: pytest.CaptureFixture[str]) -> None:
    model = model_on_lake()
    model.learn(300, progress_bar=True)
    assert model.num_timesteps == 300
    assert "300/300" in capsys.readouterr().out


def test_csv_and_json_logs_hold_rollout_ep_rew_mean(tmp_path: pathlib.Path) -> None:
    model = model_on_lake()
    model.set_logger(configure(str(tmp_path), ["csv", "json"]))
    model.learn(5_000, log_interval=20)
    model.logger.close()
    with open(tmp_path / "progress.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 5
    assert all(row["rollout/ep_rew_mean"] != "" for row in rows)
    assert float(rows[-1]["rollout/ep_rew_mean"]) > float(rows[0]["rollout/ep_rew_mean"])
    assert [int(row["time/episodes"]) for row in rows][:2] == [20, 40]
    lines = [json.loads(line) for line in (tmp_path / "progress.json").read_text().splitlines()]
    assert {"rollout/ep_rew_mean", "rollout/exploration_rate", "train/learning_rate"} <= set(lines[-1])


def test_verbose_logger_prints_the_rollout_table(capsys: pytest.CaptureFixture[str]) -> None:
    QLearning("TabularPolicy", deterministic_lake(), seed=0, verbose=1).learn(2_000, log_interval=50)
    out = capsys.readouterr().out
    assert "ep_rew_mean" in out
    assert "exploration_rate" in out


def test_dump_logs_is_public_and_writes_now(tmp_path: pathlib.Path) -> None:
    model = model_on_lake()
    model.set_logger(configure(str(tmp_path), ["csv"]))
    model.learn(500, log_interval=None)
    assert not (tmp_path / "progress.csv").read_text()
    model.dump_logs()
    model.logger.close()
    assert "rollout/ep_rew_mean" in (tmp_path / "progress.csv").read_text()


def test_tensorboard_log_gets_event_files(tmp_path: pathlib.Path) -> None:
    QLearning("TabularPolicy", deterministic_lake(), tensorboard_log=str(tmp_path)).learn(
        1_000, log_interval=10
    )
    assert list(tmp_path.glob("QLearning_1/events.out.tfevents.*"))


@pytest.mark.parametrize("loop", LOOPS)
def test_callback_hooks_run_in_sb3_order_and_see_batched_locals(loop: str) -> None:
    calls: list[str] = []
    shapes: list[tuple[Any, ...]] = []

    class Spy(BaseCallback):
        def _on_training_start(self) -> None:
            calls.append("training_start")
            assert self.locals["total_timesteps"] == 3

        def _on_rollout_start(self) -> None:
            calls.append("rollout_start")

        def _on_step(self) -> bool:
            calls.append("step")
            loc = self.locals
            shapes.append(
                (loc["actions"].shape, loc["new_obs"].shape, loc["rewards"].shape, loc["dones"].shape)
            )
            assert isinstance(loc["infos"], list)
            assert loc["infos"][0]["TimeLimit.truncated"] is False
            return True

        def _on_rollout_end(self) -> None:
            calls.append("rollout_end")

        def _on_training_end(self) -> None:
            calls.append("training_end")

    model = model_on_lake(loop)
    model.learn(3, callback=Spy())
    assert calls == ["training_start"] + ["rollout_start", "step", "rollout_end"] * 3 + ["training_end"]
    assert shapes == [((1,), (1,), (1,), (1,))] * 3


@pytest.mark.parametrize("loop", LOOPS)
def test_a_callback_returning_false_stops_training_at_once(loop: str) -> None:
    class StopAtSeven(BaseCallback):
        def _on_step(self) -> bool:
            return self.num_timesteps < 7

    model = model_on_lake(loop)
    model.learn(1_000, callback=StopAtSeven())
    assert model.num_timesteps == 7
    assert model.visit_counts.sum() == 7


@pytest.mark.parametrize("loop", LOOPS)
def test_stop_training_on_max_episodes_reads_dones(loop: str) -> None:
    model = model_on_lake(loop)
    model.learn(100_000, callback=StopTrainingOnMaxEpisodes(max_episodes=25))
    assert model._episode_num == 25


def test_terminal_observation_and_truncation_flag_reach_callbacks_as_from_dummy_vec_env() -> None:
    seen: list[dict[str, Any]] = []

    class Infos(BaseCallback):
        def _on_step(self) -> bool:
            if self.locals["dones"][0]:
                seen.append(dict(self.locals["infos"][0]))
            return True

    env = gym.make("FrozenLake-v1", is_slippery=False, max_episode_steps=3)
    QLearning("TabularPolicy", env, seed=0).learn(300, callback=Infos())
    assert seen
    assert all("terminal_observation" in info and "episode" in info for info in seen)
    truncated = [info for info in seen if info["TimeLimit.truncated"]]
    assert truncated
    assert all(info["episode"]["l"] == 3 for info in truncated)


def test_callbacks_on_the_native_vector_env_see_every_envs_infos_and_change_no_bit() -> None:
    """The batched loop steps qgym's adapter as arrays; with a callback it still hands SB3's list of
    one info dict per env (finished ones with terminal observation, truncation flag and episode)."""
    from stable_baselines3.common.logger import Logger

    from qgym.vec_adapter import make_sb3_vec_env

    seen: list[tuple[int, dict[str, Any]]] = []

    class Infos(BaseCallback):
        def _on_step(self) -> bool:
            infos = self.locals["infos"]
            assert len(infos) == 8
            seen.extend((i, info) for i, info in enumerate(infos) if self.locals["dones"][i])
            return True

    def train(callback: BaseCallback | None) -> QLearning:
        env = make_sb3_vec_env("qgym/GridFarm-1x1-v0", num_envs=8, seed=1, max_episode_steps=20)
        model = QLearning("TabularPolicy", env, seed=1)
        model.set_logger(Logger(folder=None, output_formats=[]))
        return model.learn(4_000, callback=callback)

    watched, plain = train(Infos()), train(None)
    assert watched.q_table.tobytes() == plain.q_table.tobytes()
    assert len(seen) == watched._episode_num == plain._episode_num > 0
    assert all(info["episode"]["l"] <= 20 and "terminal_observation" in info for _, info in seen)
    assert any(info["TimeLimit.truncated"] for _, info in seen)


def test_continued_training_keeps_counting_and_does_not_reset_the_env() -> None:
    model = model_on_lake()
    model.learn(1_000)
    episodes, observation = model._episode_num, model._last_obs
    model.learn(500, reset_num_timesteps=False)
    assert model.num_timesteps == 1_500
    assert model._episode_num >= episodes
    assert model.visit_counts.sum() == 1_500
    model.learn(200)
    assert model.num_timesteps == 200
    assert observation is not None


def test_rl_zoo_keyword_set_and_schedule_objects_are_accepted() -> None:
    for learning_rate in (ConstantSchedule(0.1), LinearSchedule(0.5, 0.05, 0.5), 0.1):
        model = QLearning(
            env=DummyVecEnv([deterministic_lake]),
            tensorboard_log=None,
            seed=0,
            verbose=0,
            device="auto",
            policy="MlpPolicy",
            learning_rate=learning_rate,
            gamma=0.95,
            exploration_fraction=0.2,
            exploration_initial_eps=1.0,
            exploration_final_eps=0.05,
            policy_kwargs={"initial_q_value": 0.0},
        )
        model.learn(3_000)
        assert model.num_timesteps == 3_000


def test_an_env_id_string_is_made_like_sb3_does() -> None:
    model = QLearning("TabularPolicy", "FrozenLake-v1", seed=0)
    assert isinstance(model.get_env(), VecEnv)
    assert model.q_table.shape == (16, 4)


def test_the_table_is_a_frozen_torch_parameter_sharing_memory_with_the_numpy_view() -> None:
    model = model_on_lake().learn(2_000)
    parameter = model.policy.q_values
    assert isinstance(parameter, th.nn.Parameter)
    assert not parameter.requires_grad
    assert parameter.data_ptr() == model.policy.tables.ctypes.data
    np.testing.assert_array_equal(parameter.numpy()[0], model.q_table)


def test_sb3_get_and_set_parameters_round_trip() -> None:
    source, target = model_on_lake().learn(2_000), model_on_lake()
    target.set_parameters(source.get_parameters())
    np.testing.assert_array_equal(target.q_table, source.q_table)
    target.learn(100)  # training continues through the same (in-place loaded) storage
    assert target.visit_counts.sum() == source.visit_counts.sum() + 100


def test_set_env_checks_spaces() -> None:
    model = model_on_lake()
    model.set_env(gym.make("FrozenLake-v1"))
    with pytest.raises(ValueError, match="Observation spaces do not match"):
        model.set_env(gym.make("FrozenLake8x8-v1"))


def test_model_without_env_cannot_learn_but_can_predict(tmp_path: pathlib.Path) -> None:
    model_on_lake().learn(500).save(tmp_path / "m.zip")
    loaded = TabularAlgorithm.load(tmp_path / "m.zip")
    assert loaded.predict(0, deterministic=True)[0].shape == ()
    with pytest.raises(ValueError, match="has no env"):
        loaded.learn(10)
