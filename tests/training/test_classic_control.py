"""The classic control envs (CartPole, MountainCar, Acrobot): tabular presets through
DiscretizeObservation, and CartPole judged as a share of its known optimum, 500."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from stable_baselines3.common.logger import Logger

from qgym import training
from qgym.envs import KNOWN_MAXIMA, known_optimum
from qgym.training.presets import load_preset

CLASSIC = ("CartPole-v1", "MountainCar-v0", "Acrobot-v1")


def test_cartpoles_optimum_is_its_time_limit_and_the_others_have_none() -> None:
    assert known_optimum("CartPole-v1") == 500.0
    assert training.exact_optimum("CartPole-v1") == 500.0
    assert training.exact_optimum("CartPole-v0") == 200.0
    assert training.exact_optimum("MountainCar-v0") is None
    assert training.exact_optimum("Acrobot-v1") is None
    import gymnasium as gym

    for env_id, maximum in KNOWN_MAXIMA.items():  # the time limit, one point a step
        assert gym.spec(env_id).max_episode_steps == maximum


@pytest.mark.parametrize("env_id", CLASSIC)
def test_each_classic_preset_builds_a_table_over_its_bins(env_id: str) -> None:
    preset = load_preset("qlearning", env_id)
    bins = preset["env_wrapper"][0]["qgym.wrappers.DiscretizeObservation"]["bins"]
    model = training.make_model("qlearning", env_id, {**preset, "n_envs": 2}, seed=0)
    assert model.q_table.shape == (math.prod(bins), model.action_space.n)
    assert preset["n_timesteps"] >= 1_000_000


def test_a_cartpole_table_is_judged_by_its_sampled_mean_as_a_share_of_500() -> None:
    preset = load_preset("qlearning", "CartPole-v1")
    model = training.make_model("qlearning", "CartPole-v1", {**preset, "n_envs": 2}, seed=0)
    model.set_logger(Logger(folder=None, output_formats=[]))
    model.learn(2_000)
    wrapper = preset["env_wrapper"]
    assert training.exact_return(model, "CartPole-v1", wrapper) is None  # no model to value it on
    evaluation = training.evaluate(model, "CartPole-v1", 5, seed=0, env_wrapper=wrapper)
    assert evaluation.exact_return is None
    assert evaluation.optimum == 500.0
    assert evaluation.percent_of_optimum == pytest.approx(100 * evaluation.mean_return / 500)
    summary = evaluation.summary()
    assert f"= {evaluation.percent_of_optimum:.1f}% of the exact optimum 500.00" in summary
    assert "sampled mean (not valued exactly: the env has no exact model" in summary


def test_a_mountaincar_table_reports_its_mean_return_with_no_share() -> None:
    preset = load_preset("qlearning", "MountainCar-v0")
    model = training.make_model("qlearning", "MountainCar-v0", {**preset, "n_envs": 2}, seed=0)
    evaluation = training.evaluate(model, "MountainCar-v0", 2, seed=0, env_wrapper=preset["env_wrapper"])
    assert evaluation.optimum is None
    assert evaluation.percent_of_optimum is None
    assert "no exact optimum is known for this env" in evaluation.summary()


def test_qgym_train_on_cartpole_prints_a_share_of_the_500_maximum(tmp_path: Path) -> None:
    script = shutil.which("qgym", path=str(Path(sys.executable).parent))
    assert script is not None, "the qgym console script is not installed next to this Python"
    argv = ["train", "--algo", "qlearning", "--env", "CartPole-v1", "-n", "3000"]
    argv += ["--log-folder", str(tmp_path / "logs"), "--eval-episodes", "3"]
    result = subprocess.run(
        [script, *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SB3_LOGDIR": str(tmp_path / "sb3")},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "with the preset CartPole-v1 of qlearning.yml" in result.stdout
    assert "% of the exact optimum 500.00" in result.stdout
