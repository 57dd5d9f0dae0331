"""Watching and recording agents: loading models for an env, frames, GIFs, clear errors."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pygame
import pytest

from qgym.cli import main
from qgym.training.models import guess_env_id
from qgym.training.network_files import save_network_model
from qgym.viewing import record as record_module
from qgym.viewing.enjoy import enjoy
from qgym.viewing.record import collect_frames
from qgym.viewing.trained_model import load_agent

FARM = "qgym/GridFarm-1x2-v0"
AGENT_BLUE = (40, 110, 235)


@pytest.fixture(scope="module")
def tabular_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Q-learning agent trained briefly on the 1x2 farm, saved to a file."""
    from qgym.agents import QLearning

    path = tmp_path_factory.mktemp("models") / "farm-1x2.zip"
    QLearning("TabularPolicy", FARM, seed=0).learn(5_000).save(path)
    return path


@pytest.fixture(scope="module")
def dqn_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A (barely trained) SB3 DQN on the chain market's feature observations."""
    from stable_baselines3 import DQN

    path = tmp_path_factory.mktemp("models") / "dqn-frozen-lake.zip"
    env = gym.make("FrozenLake-v1")
    save_network_model(DQN("MlpPolicy", env, learning_starts=0, seed=0, device="cpu").learn(50), path)
    return path


def _greedy_returns(model: Path, env_id: str, episodes: int, seed: int) -> list[float]:
    env = gym.make(env_id)
    agent = load_agent(model, env)
    returns = []
    for episode in range(episodes):
        observation, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            observation, reward, terminated, truncated, _ = env.step(agent.act(observation))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return returns


def test_enjoy_plays_the_greedy_agent_in_a_window(
    tabular_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    returns = enjoy(tabular_model, FARM, episodes=2, fps=1000, seed=5)
    assert returns == _greedy_returns(tabular_model, FARM, 2, 5)
    out = capsys.readouterr().out
    # Each episode's summary: the return, the season's accounts, the optimal policy's expected ones.
    assert out.count("\n  farm accounting: harvests ") == 2
    assert out.count("\n  the optimal policy's average (exact): harvests ") == 2
    profit = returns[0]
    assert (f"profit {int(profit)}," if profit.is_integer() else f"profit {profit:.2f},") in out


def test_enjoy_stops_when_the_window_closes(tabular_model: Path) -> None:
    pygame.display.init()
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    assert enjoy(tabular_model, FARM, episodes=3, fps=1000) == []


def test_a_dqn_model_gives_actions_and_q_values(dqn_model: Path) -> None:
    env = gym.make("FrozenLake-v1")
    agent = load_agent(dqn_model, env)
    q = agent.q_values(0)
    assert q is not None
    assert q.shape == (4,)
    assert agent.act(0) == int(np.argmax(q))
    assert agent.q_table is None


def test_a_qrdqn_model_acts_on_the_mean_of_its_quantiles(tmp_path: Path) -> None:
    import torch
    from sb3_contrib import QRDQN

    path = tmp_path / "qrdqn-frozen-lake.zip"
    model = QRDQN("MlpPolicy", "FrozenLake-v1", learning_starts=0, seed=0, device="cpu")
    save_network_model(model.learn(50), path)
    agent = load_agent(path, gym.make("FrozenLake-v1"))
    q = agent.q_values(3)
    assert q is not None
    with torch.no_grad():
        quantiles = model.quantile_net(model.policy.obs_to_tensor(3)[0]).numpy()[0]
    assert quantiles.shape[0] == model.policy.n_quantiles
    np.testing.assert_allclose(q, quantiles.mean(axis=0), rtol=1e-6)
    assert agent.act(3) == int(np.argmax(q))


def test_the_env_of_a_tabular_model_is_guessed_from_its_spaces(tabular_model: Path, tmp_path: Path) -> None:
    assert guess_env_id(tabular_model) == FARM
    from qgym.agents import QLearning

    ambiguous = tmp_path / "ambiguous.zip"
    QLearning("TabularPolicy", "qgym/GridFarm-1x1-v0").save(ambiguous)
    with pytest.raises(ValueError, match="it fits qgym/GridFarm-1x1-Det-v0, qgym/GridFarm-1x1-v0"):
        guess_env_id(ambiguous)


def test_recorded_frames_show_the_farmer_on_its_cell(tabular_model: Path) -> None:
    env = gym.make(FARM, render_mode="rgb_array")
    agent = load_agent(tabular_model, env)
    cells = []

    def policy(observation: int, step: int = 0) -> int:
        cells.append(env.unwrapped.agent_cell)
        return agent.act(observation)

    frames, returns = collect_frames(env, policy, episodes=1, max_frames=30, seed=1)
    assert len(frames) == 30
    assert returns == [], "the season is longer than 30 frames"
    for frame, (_row, col) in zip(frames, cells, strict=False):
        # The farmer is a blue border around its cell: on the left half of the field or the right.
        blue = np.nonzero(np.all(frame == AGENT_BLUE, axis=-1))[1]
        assert blue.size > 0
        assert (blue.mean() > frame.shape[1] / 2) == (col == 1)


def test_record_writes_a_gif_of_the_agent(tabular_model: Path, tmp_path: Path) -> None:
    from PIL import Image

    out = tmp_path / "farm.gif"
    assert main(["record", str(tabular_model), "--out", str(out), "--max-frames", "12"]) == 0
    with Image.open(out) as gif:
        assert gif.n_frames == 12
        assert gif.size == (480, 2 * (84 + 30))  # the 1x2 farm's 240 pixels, drawn twice as large


def test_gif_frames_keep_their_whole_status_line(tmp_path: Path) -> None:
    """The 1x1 farm drew 240 pixels wide and cut the status line's end ("day 98 return -1.5 ... dr")."""
    env = gym.make("qgym/GridFarm-1x1-v0", render_mode="rgb_array")
    frames, _ = collect_frames(env, lambda observation, step: 7, episodes=1, max_frames=100, seed=0)
    for frame in (frames[0], frames[-1]):
        band = frame[-24:]  # the status line under the field
        ink = np.nonzero(band.sum(axis=-1) < 200)[1]  # dark text pixels
        assert ink.size > 0
        assert ink.max() < frame.shape[1] - 12, "the status line runs off the frame's right edge"
    native = env.render()
    assert native.shape[1] < 480 <= frames[0].shape[1]


def test_mp4_without_a_video_writer_names_the_missing_extra(
    tabular_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(record_module, "_moviepy_clip_class", lambda: None)
    monkeypatch.setattr(record_module.shutil, "which", lambda name: None)
    assert main(["record", str(tabular_model), "--env", FARM, "--out", str(tmp_path / "a.mp4")]) == 2
    err = capsys.readouterr().err
    assert "qgym[video]" in err
    assert not (tmp_path / "a.mp4").exists()


@pytest.mark.parametrize("command", ["enjoy", "record"])
def test_a_model_for_another_env_gives_a_clear_error(
    command: str, tabular_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [command, str(tabular_model), "--env", "qgym/Trading-Chain-v0"]
    assert main(argv + (["--out", str(tmp_path / "x.gif")] if command == "record" else [])) == 2
    err = capsys.readouterr().err
    assert "does not fit qgym/Trading-Chain-v0" in err
    assert "Discrete(98) != Discrete(63)" in err


def test_files_that_are_not_models_give_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "notes.zip"
    text.write_text("hello")
    assert main(["enjoy", str(text), "--env", FARM]) == 2
    assert "not a model file" in capsys.readouterr().err
    assert main(["enjoy", str(tmp_path / "missing.zip"), "--env", FARM]) == 2
    assert "no model file" in capsys.readouterr().err
    assert main(["record", str(text), "--out", str(tmp_path / "x.avi")]) == 2
    assert "must end in .gif or .mp4" in capsys.readouterr().err


def test_record_of_a_toy_text_env_prints_no_sdl_display_error(tmp_path: Path) -> None:
    """Gymnasium's toy-text envs call pygame.init(); without a display SDL printed "error:
    XDG_RUNTIME_DIR is invalid" before a GIF that was written fine. The command needs no display."""
    import os
    import subprocess
    import sys

    from qgym.agents import QLearning

    model = tmp_path / "lake.zip"
    QLearning("TabularPolicy", "FrozenLake-v1", seed=0).learn(500).save(model)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SDL_", "XDG_"))}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    argv = ["-m", "qgym", "record", str(model), "--env", "FrozenLake-v1", "--out", str(tmp_path / "a.gif")]
    result = subprocess.run(
        [sys.executable, *argv, "--max-frames", "5"], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "a.gif").is_file()
    assert result.stderr == ""


def test_enjoy_says_how_a_frozenlake_episode_ended(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from qgym.agents import QLearning

    model = tmp_path / "lake.zip"
    QLearning("TabularPolicy", "FrozenLake-v1", seed=0).learn(100).save(model)  # barely trained: it falls
    enjoy(model, "FrozenLake-v1", episodes=3, fps=1000)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "episode 1: the agent got 0.0; the best possible on average is 0.7 "
        "(the episode is over: fell into a hole)"
    )
