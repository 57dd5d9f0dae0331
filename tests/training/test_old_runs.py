"""Run folders written by qgym 0.1.0 (tests/data/v0.1.0: a Q-learning and two DQN runs, one behind a
reward wrapper) still load and evaluate to the very figures they recorded."""

from __future__ import annotations

import shutil
from pathlib import Path

import gymnasium as gym
import pytest
import yaml

from qgym.cli import main
from qgym.training import evaluate
from qgym.training.models import load_model

RUNS = Path(__file__).resolve().parents[1] / "data" / "v0.1.0"
# qgym train evaluates the final model on seeds seed + 20000, seed + 20001, ... (seed 0 here)
TRAIN_EVALUATION_SEED = 20_000


@pytest.mark.parametrize("run", sorted(p.name for p in RUNS.iterdir()))
def test_an_old_run_evaluates_to_the_figures_it_recorded(run: str) -> None:
    folder = RUNS / run
    recorded = yaml.safe_load((folder / "evaluation.yml").read_text())
    config = yaml.safe_load((folder / "config.yml").read_text())
    env_id = recorded["env_id"]
    loaded = load_model(folder / "model.zip", gym.make(env_id), env_id)
    assert loaded.env_wrapper == config["hyperparameters"].get("env_wrapper")
    evaluation = evaluate(
        loaded.model, env_id, recorded["n_episodes"], TRAIN_EVALUATION_SEED, loaded.env_wrapper
    )
    assert evaluation.mean_return == recorded["mean_return"]
    assert evaluation.std_return == recorded["std_return"]
    # The exact value is a sum numpy orders by the CPU's SIMD width (einsum, dot): the same policy can
    # differ in the last bit from one machine to another, so it is held to 12 significant digits.
    assert evaluation.exact_return == pytest.approx(recorded["exact_return"], rel=1e-12)
    assert evaluation.percent_of_optimum == pytest.approx(recorded["percent_of_optimum"], rel=1e-12)


def test_qgym_eval_prints_an_old_runs_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = shutil.copytree(RUNS / "qlearning-Trading-Chain", tmp_path / "run")
    recorded = yaml.safe_load((folder / "evaluation.yml").read_text())
    argv = [
        "eval",
        str(folder / "model.zip"),
        "--env",
        recorded["env_id"],
        "--seed",
        str(TRAIN_EVALUATION_SEED),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert (
        f"{recorded['exact_return']:.2f} = {recorded['percent_of_optimum']:.1f}% of the exact optimum" in out
    )
