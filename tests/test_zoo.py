"""RL Zoo compatibility: its train command reads qgym's presets unchanged; qgym.zoo adds the tables."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
needs_zoo = pytest.mark.skipif(
    importlib.util.find_spec("rl_zoo3") is None, reason="RL Zoo is not installed (pip install 'qgym[zoo]')"
)


def run(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SB3_LOGDIR": str(tmp_path / "sb3")}
    return subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, timeout=600, env=env, cwd=ROOT, check=False
    )


def test_neither_import_qgym_nor_the_training_api_imports_rl_zoo(tmp_path: Path) -> None:
    code = "import sys, qgym, qgym.cli, qgym.training, qgym.training.tuning; print('rl_zoo3' in sys.modules)"
    result = run(["-c", code], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@needs_zoo
@pytest.mark.slow
def test_rl_zoo_trains_dqn_on_a_qgym_env_from_the_shipped_preset_with_its_env_wrapper(tmp_path: Path) -> None:
    argv = [
        "-m",
        "rl_zoo3.train",
        "--algo",
        "dqn",
        "--env",
        "qgym/GridFarm-1x1-v0",
        "--gym-packages",
        "qgym",
    ]
    argv += ["-conf", "zoo_configs/dqn.yml", "-n", "3000", "-f", str(tmp_path / "logs"), "--seed", "0"]
    result = run(argv, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = tmp_path / "logs" / "dqn" / "qgym-GridFarm-1x1-v0_1"
    assert (folder / "qgym-GridFarm-1x1-v0.zip").is_file()
    assert "qgym.wrappers.ScaleReward" in (folder / "qgym-GridFarm-1x1-v0" / "config.yml").read_text()


@needs_zoo
@pytest.mark.slow
def test_rl_zoo_trains_qrdqn_from_the_shipped_preset(tmp_path: Path) -> None:
    argv = ["-m", "rl_zoo3.train", "--algo", "qrdqn", "--env", "qgym/GridFarm-2x3-v0"]
    argv += ["--gym-packages", "qgym", "-conf", "zoo_configs/qrdqn.yml", "-n", "6000", "--seed", "0"]
    argv += ["-f", str(tmp_path / "logs")]
    result = run(argv, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = tmp_path / "logs" / "qrdqn" / "qgym-GridFarm-2x3-v0_1"
    assert (folder / "qgym-GridFarm-2x3-v0.zip").is_file()
    assert "n_quantiles" in (folder / "qgym-GridFarm-2x3-v0" / "config.yml").read_text()


@needs_zoo
@pytest.mark.slow
def test_qgym_zoo_trains_and_enjoys_the_tabular_algorithms_through_rl_zoo(tmp_path: Path) -> None:
    argv = ["-m", "qgym.zoo", "train", "--algo", "qlearning", "--env", "FrozenLake-v1", "--gym-packages"]
    argv += ["qgym", "-conf", "zoo_configs/qlearning.yml", "-n", "5000", "-f", str(tmp_path / "logs")]
    result = run([*argv, "--seed", "0", "--eval-freq", "2500"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = tmp_path / "logs" / "qlearning" / "FrozenLake-v1_1"
    assert (folder / "FrozenLake-v1.zip").is_file()
    assert (folder / "evaluations.npz").is_file()
    enjoy = ["-m", "qgym.zoo", "enjoy", "--algo", "qlearning", "--env", "FrozenLake-v1", "--gym-packages"]
    enjoy += ["qgym", "-f", str(tmp_path / "logs"), "--no-render", "-n", "300", "--seed", "0"]
    result = run(enjoy, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Mean reward:" in result.stdout


def test_qgym_zoo_without_a_command_prints_its_usage(tmp_path: Path) -> None:
    result = run(["-m", "qgym.zoo"], tmp_path)
    assert result.returncode == 2
    assert "usage: python -m qgym.zoo {train,enjoy}" in result.stderr
