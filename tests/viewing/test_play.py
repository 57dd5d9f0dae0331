"""Human play: the pure key handler for every registered env, the session, the headless event loop."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pygame
import pytest

from qgym.cli import main
from qgym.envs import known_optimum, qgym_env_ids
from qgym.viewing.play import (
    Command,
    CommandKind,
    PlaySession,
    handle_key,
    key_map,
    render_frame,
    reserved_keys,
    run_loop,
)
from qgym.viewing.screen import Screen

AGENT_BLUE = (40, 110, 235)
FARM_CELL = 84


@pytest.fixture(scope="module")
def tabular_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Q-learning agent trained briefly on the deterministic 1x1 farm, saved to a file."""
    from qgym.agents import QLearning

    path = tmp_path_factory.mktemp("models") / "farm-1x1-det.zip"
    QLearning("TabularPolicy", "qgym/GridFarm-1x1-Det-v0", seed=0).learn(3_000).save(path)
    return path


@pytest.fixture
def screen_closer() -> Any:
    screens: list[Screen] = []
    yield screens.append
    for screen in screens:
        screen.close()


def _session(env_id: str, seed: int | None = 0, **kwargs: Any) -> PlaySession:
    env = gym.make(env_id, render_mode="rgb_array")
    return PlaySession(env, env_id, seed=seed, optimum=known_optimum(env_id), **kwargs)


def _open(session: PlaySession, closer: Any) -> Screen:
    screen = Screen("test")
    closer(screen)
    return screen


def _post_keys(*keys: int) -> None:
    for key in keys:
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key))


@pytest.mark.parametrize("env_id", qgym_env_ids())
def test_every_mapped_key_of_every_env_gives_a_valid_action(env_id: str) -> None:
    env = gym.make(env_id)
    keymap = key_map(env)
    assert keymap, f"{env_id} maps no key"
    for key in keymap:
        command = handle_key(key, keymap)
        assert command is not None
        assert command.kind is CommandKind.ACT
        assert env.action_space.contains(command.action)
    assert set(keymap.values()) == set(range(int(env.action_space.n))), "every action has a key"
    env.close()


@pytest.mark.parametrize("env_id", qgym_env_ids())
def test_control_keys_restart_and_quit_in_every_env_even_after_the_episode(env_id: str) -> None:
    keymap = key_map(gym.make(env_id))
    for over in (False, True):
        assert handle_key(pygame.K_ESCAPE, keymap, over) == Command(CommandKind.QUIT)
        assert handle_key(pygame.K_r, keymap, over) == Command(CommandKind.RESTART)
    assert not set(reserved_keys()) & set(keymap)


def test_unmapped_keys_and_action_keys_after_the_episode_are_ignored() -> None:
    keymap = key_map(gym.make("qgym/GridFarm-2x2-v0"))
    assert handle_key(pygame.K_z, keymap) is None
    assert handle_key(pygame.K_p, keymap, episode_over=True) is None
    assert handle_key(pygame.K_p, keymap) == Command(CommandKind.ACT, 4)


def test_an_env_without_a_key_map_cannot_be_played(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["play", "Acrobot-v1"]) == 2
    assert "has no keyboard map" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("env_id", "keys"),
    [
        ("FrozenLake-v1", {pygame.K_LEFT: 0, pygame.K_DOWN: 1, pygame.K_RIGHT: 2, pygame.K_UP: 3}),
        ("CliffWalking-v1", {pygame.K_UP: 0, pygame.K_RIGHT: 1, pygame.K_DOWN: 2, pygame.K_LEFT: 3}),
        (
            "Taxi-v4",
            {
                pygame.K_DOWN: 0,
                pygame.K_UP: 1,
                pygame.K_RIGHT: 2,
                pygame.K_LEFT: 3,
                pygame.K_p: 4,
                pygame.K_d: 5,
            },
        ),
    ],
)
def test_gymnasiums_toy_text_envs_are_played_with_the_arrows(env_id: str, keys: dict[int, int]) -> None:
    assert key_map(gym.make(env_id)) == keys


def test_a_full_episode_ends_with_the_exact_optimum_in_the_summary() -> None:
    session = _session("qgym/GridFarm-1x1-Det-v0")
    while not session.episode_over:
        assert session.apply(Command(CommandKind.ACT, 7))  # wait, all season
    assert session.steps == 50
    summary = session.summary()
    assert summary is not None
    assert summary[0] == "time is up: 50 steps, the episode's limit"
    assert summary[1] == "you got 0.0; the best possible on average is 96.0"
    # Without an advisor no move is graded; the season's accounts follow: nothing planted, nothing earned.
    assert summary[2].startswith("farm accounting: harvests 0, revenue 0, seeds planted 0, water by hand 0")
    assert summary[2:] == session.field_summaries[-1]
    session.apply(Command(CommandKind.ACT, 4))
    assert session.steps == 50, "no step after the season"
    assert not session.apply(Command(CommandKind.QUIT))


def test_restart_starts_a_new_episode_with_the_next_seed() -> None:
    seeds: list[int | None] = []
    session = _session("qgym/GridFarm-2x2-v0", seed=7)
    original = session.env.reset

    def spy(**kwargs: Any) -> Any:
        seeds.append(kwargs.get("seed"))
        return original(**kwargs)

    session.env.reset = spy  # type: ignore[method-assign]
    session.apply(Command(CommandKind.ACT, 4))
    session.apply(Command(CommandKind.RESTART))
    session.apply(Command(CommandKind.RESTART))
    assert seeds == [8, 9]
    assert (session.steps, session.total, session.episode_over) == (0, 0.0, False)


def test_hud_shows_step_return_last_reward_and_weather_or_regime() -> None:
    farm = _session("qgym/GridFarm-2x2-v0")
    farm.apply(Command(CommandKind.ACT, 4))
    assert farm.hud()[:3] == ["step     1 / 100", "return   -1.00", "last     -1.00"]
    assert farm.hud()[3] in ("weather  rain", "weather  dry")
    market = _session("qgym/Trading-ChainRegime-v0")
    market.apply(Command(CommandKind.ACT, 1))
    assert any(line.startswith("regime   b") for line in market.hud())
    assert "position +1" in market.hud()


def test_the_help_names_letter_keys_as_capitals_like_readme_and_the_controls() -> None:
    farm = " ".join(_session("qgym/GridFarm-1x1-v0").help_lines())
    for key in ("P plant", "W water", "H harvest", "space wait", "R restart", "Esc quit"):
        assert key in farm
    assert "up/B buy" in " ".join(_session("qgym/Trading-Chain-v0").help_lines())


def test_the_event_loop_steps_on_key_presses_and_exits_on_window_close(screen_closer: Any) -> None:
    session = _session("qgym/GridFarm-2x2-v0")
    screen = _open(session, screen_closer)
    _post_keys(pygame.K_p, pygame.K_w, pygame.K_z, pygame.K_SPACE, pygame.K_F1)
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    _post_keys(pygame.K_SPACE)  # after the close: never read
    run_loop(session, screen, idle_timeout=5)
    assert session.steps == 3
    assert session.show_help is False


def test_the_event_loop_exits_on_escape_and_restarts_on_r(screen_closer: Any) -> None:
    session = _session("qgym/Trading-Chain-v0")
    screen = _open(session, screen_closer)
    _post_keys(pygame.K_UP, pygame.K_DOWN, pygame.K_r, pygame.K_b, pygame.K_ESCAPE, pygame.K_b)
    run_loop(session, screen, idle_timeout=5)
    assert (session.episodes, session.steps) == (2, 1)


def test_the_window_shows_the_farm_frame_with_the_farmer_in_blue(screen_closer: Any) -> None:
    session = _session("qgym/GridFarm-2x2-v0", seed=3)
    screen = _open(session, screen_closer)
    _post_keys(pygame.K_p)
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    run_loop(session, screen, idle_timeout=5)
    frame = render_frame(session.env)
    row, col = session.env.unwrapped.agent_cell
    # The farmer is a 5-pixel blue border on its cell; the middle of the cell's top edge is blue.
    assert tuple(frame[row * FARM_CELL + 2, col * FARM_CELL + FARM_CELL // 2]) == AGENT_BLUE
    other = (1 - row) * FARM_CELL + 2, (1 - col) * FARM_CELL + FARM_CELL // 2
    assert tuple(frame[other]) != AGENT_BLUE
    # The window's left pane is the same drawing, scaled to fill the pane.
    width, height = screen.pane
    window = np.transpose(pygame.surfarray.array3d(screen.surface), (1, 0, 2))
    np.testing.assert_array_equal(window[:height, :width], render_frame(session.env, screen.pane))


def test_hints_show_the_agents_greedy_action_and_its_q_values(tabular_model: Path) -> None:
    from qgym.agents import QLearning

    session = _session("qgym/GridFarm-1x1-Det-v0")
    from qgym.viewing.trained_model import load_agent

    session.agent = load_agent(tabular_model, session.env)
    assert session.hint() is None, "hints start switched off"
    session.apply(Command(CommandKind.TOGGLE_HINT))
    session.apply(Command(CommandKind.TOGGLE_Q))
    hint = session.hint()
    model = QLearning.load(tabular_model)
    assert hint is not None
    assert hint.q_values is not None
    q = model.q_table[int(session.observation)]
    np.testing.assert_allclose(hint.q_values, q)
    greedy = int(model.predict(session.observation, deterministic=True)[0])
    mask = session.env.unwrapped.action_masks().astype(bool)
    if mask[greedy]:
        assert (hint.action, hint.idle) == (greedy, None)
    else:  # its top value changes nothing here: the advice is its best action that does something
        useful = np.flatnonzero(mask)
        assert (hint.action, hint.idle) == (int(useful[np.argmax(q[useful])]), greedy)


def test_play_with_hints_runs_in_the_window_until_closed(screen_closer: Any, tabular_model: Path) -> None:
    from qgym.viewing.trained_model import load_agent

    session = _session("qgym/GridFarm-1x1-Det-v0")
    session.agent = load_agent(tabular_model, session.env)
    screen = _open(session, screen_closer)
    _post_keys(pygame.K_TAB, pygame.K_q, pygame.K_p)
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    run_loop(session, screen, idle_timeout=5)
    assert session.show_hint
    assert session.show_q
    assert session.steps == 1


def test_a_hint_model_for_another_env_gives_a_clear_error(
    tabular_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["play", "qgym/GridFarm-2x2-v0", "--hint", str(tabular_model)]) == 2
    err = capsys.readouterr().err
    assert "does not fit qgym/GridFarm-2x2-v0" in err
    assert "Traceback" not in err


def test_no_display_gives_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SDL_VIDEODRIVER")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert main(["play", "qgym/GridFarm-2x2-v0"]) == 2
    assert "cannot open a window" in capsys.readouterr().err


def test_a_video_driver_that_fails_gives_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pygame.display.quit()
    monkeypatch.setenv("SDL_VIDEODRIVER", "no-such-driver")
    assert main(["play", "qgym/Trading-Chain-v0"]) == 2
    err = capsys.readouterr().err
    assert "cannot open a window" in err
    assert "xvfb-run" in err


@pytest.mark.parametrize(
    ("actions", "ending", "total"),
    [([1, 2], "the episode is over: fell into a hole", 0.0), ([2, 2, 1, 1, 1, 2], "reached the goal", 1.0)],
)
def test_the_end_of_a_frozenlake_episode_is_said_on_screen(
    actions: list[int], ending: str, total: float
) -> None:
    env = gym.make("FrozenLake-v1", is_slippery=False, render_mode="rgb_array")
    session = PlaySession(env, "FrozenLake-v1", seed=0, optimum=1.0)
    for action in actions:
        session.apply(Command(CommandKind.ACT, action))
    assert session.episode_over
    summary = session.summary()
    assert summary is not None
    assert ending in summary[0]
    assert summary[1] == f"you got {total:.1f}; the best possible on average is 1.0"


def test_a_toy_text_frame_fills_the_pane(screen_closer: Any) -> None:
    env = gym.make("FrozenLake-v1", render_mode="rgb_array")
    session = PlaySession(env, "FrozenLake-v1", seed=0)
    screen = _open(session, screen_closer)
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    run_loop(session, screen, idle_timeout=5)
    frame = render_frame(env)
    assert frame.shape[:2] == (256, 256)  # Gymnasium's own size, a corner of the window before
    width, height = screen.pane
    side = min(width, height)
    window = np.transpose(pygame.surfarray.array3d(screen.surface), (1, 0, 2))
    left = (width - side) // 2
    # The goal, the map's bottom-right tile, is drawn in the bottom-right corner of the scaled frame.
    goal_tile = frame[256 - 32 :, 256 - 32 :].reshape(-1, 3).mean(axis=0)
    shown = window[side - side // 8 : side, left + side - side // 8 : left + side].reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(shown, goal_tile, atol=12)
    assert side > 2 * 256


def test_play_makes_the_env_with_env_kwargs_and_a_hint_runs_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from qgym.viewing import play as play_module

    sessions: list[PlaySession] = []
    monkeypatch.setattr(play_module, "run_loop", lambda session, screen: sessions.append(session))
    assert main(["play", "FrozenLake-v1", "--env-kwargs", "is_slippery:False"]) == 0
    assert sessions[-1].env.spec.kwargs["is_slippery"] is False
    assert sessions[-1].optimum == pytest.approx(1.0)  # the sure lake's optimum, not the slippery 0.74
    argv = ["train", "--algo", "qlearning", "--env", "FrozenLake-v1", "-n", "500", "--eval-episodes", "1"]
    assert main([*argv, "--env-kwargs", "is_slippery:False", "--log-folder", str(tmp_path)]) == 0
    run = tmp_path / "qlearning" / "FrozenLake-v1_1"
    assert main(["play", "FrozenLake-v1", "--hint", str(run)]) == 0  # the hint's run lends its kwargs
    assert sessions[-1].env.spec.kwargs["is_slippery"] is False
    assert main(["play", "FrozenLake-v1", "--hint", str(run), "--env-kwargs", "is_slippery:True"]) == 0
    assert sessions[-1].env.spec.kwargs["is_slippery"] is True
    capsys.readouterr()
