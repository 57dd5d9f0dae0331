"""Optimal hints and regret in play, driven by fake key events: the HUD's Q* are planning's, a move's
regret is the exact gap, the episode's total is the sum of its moves; the window fills its pane."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pygame
import pytest

from qgym import planning
from qgym.cli import main
from qgym.envs import known_optimum, qgym_env_ids
from qgym.envs.interface import Overlay
from qgym.viewing.advice import OptimalAdvisor
from qgym.viewing.play import Command, CommandKind, PlaySession, handle_key, redraw, render_frame, run_loop
from qgym.viewing.screen import Screen

FARM = "qgym/GridFarm-1x2-v0"


def _session(env_id: str, seed: int = 0, **kwargs: Any) -> PlaySession:
    env = gym.make(env_id, render_mode="rgb_array")
    advisor = OptimalAdvisor.for_env(env, env_id)
    return PlaySession(
        env, env_id, seed=seed, optimum=known_optimum(env_id), advisor=advisor, optimal_hints=True, **kwargs
    )


def _press(session: PlaySession, *keys: int) -> None:
    """Each key as the event loop would handle it."""
    for key in keys:
        command = handle_key(key, session.keymap, session.episode_over)
        if command is not None:
            session.apply(command)


def _exact_q(session: PlaySession) -> np.ndarray:
    """Q* of the session's current state with the steps left, from a fresh backward induction."""
    model = planning.model_of(session.env)
    horizon = session.env.spec.max_episode_steps
    solution = planning.backward_induction(model, horizon - session.steps)
    return solution.q[planning.current_state(session.env)]


def _key_of(session: PlaySession, action: int) -> int:
    return next(key for key, mapped in session.keymap.items() if mapped == action)


@pytest.mark.parametrize("env_id", [FARM, "qgym/Trading-ChainRegime-v0"])
def test_the_hint_shows_q_star_of_planning_with_the_steps_left(env_id: str) -> None:
    session = _session(env_id)
    assert session.hint() is None, "hints start switched off in a bare session"
    _press(session, pygame.K_TAB, pygame.K_q)
    for _ in range(4):
        hint = session.hint()
        assert hint is not None
        assert hint.q_values is not None
        np.testing.assert_allclose(hint.q_values, _exact_q(session), rtol=0, atol=1e-9)
        assert hint.q_values[hint.action] == pytest.approx(hint.q_values.max(), abs=1e-9)
        assert hint.action in hint.best
        assert hint.caption == f"Q* with {100 - session.steps} steps left"
        _press(session, _key_of(session, (hint.action + 1) % len(session.names)))


def test_an_optimal_move_has_no_regret_and_a_bad_one_costs_the_exact_gap() -> None:
    session = _session(FARM, seed=3)
    _press(session, pygame.K_TAB)
    exact = _exact_q(session)
    _press(session, _key_of(session, int(np.argmax(exact))))
    assert session.moves[-1].regret == 0.0
    assert "optimal" in session.hud()[-2]
    exact = _exact_q(session)
    worst = int(np.argmin(exact))
    _press(session, _key_of(session, worst))
    assert session.moves[-1].regret == pytest.approx(exact.max() - exact[worst], abs=1e-9)
    assert session.moves[-1].regret > 0
    assert session.hud()[-2].startswith(f"regret   {exact.max() - exact[worst]:.3f} ({session.names[worst]}")


def test_the_episode_total_regret_is_the_sum_of_its_moves_and_return_plus_regret_is_the_optimum() -> None:
    session = _session("qgym/GridFarm-1x1-Det-v0")
    rng = np.random.default_rng(0)
    keys = list(session.keymap)
    while not session.episode_over:
        _press(session, keys[int(rng.integers(len(keys)))])
    grade = session.grades[-1]
    assert grade is not None
    assert len(grade.moves) == 50
    assert grade.total_regret == pytest.approx(sum(move.regret for move in grade.moves), abs=1e-12)
    # The deterministic farm has no luck: what was not earned was given away by the moves.
    assert session.total + grade.total_regret == pytest.approx(known_optimum("qgym/GridFarm-1x1-Det-v0"))
    ending, *summary = session.summary() or [""]
    assert ending == "time is up: 50 steps, the episode's limit"
    assert summary[0] == f"you got {session.total:.1f}; the best possible on average is 96.0"
    assert f"gave away {grade.total_regret:.1f}" in summary[1]
    assert summary[1].endswith(("luck of the draw +0.0", "luck of the draw -0.0"))
    costly = grade.costliest(3)
    figures = session.field_summaries[-1]
    assert figures[0].startswith("farm accounting: ")
    assert summary[len(summary) - len(figures) :] == figures
    summary = summary[: len(summary) - len(figures)]
    # The regret by kind of decision: what was done, then what was best instead; each sums to the total.
    assert summary[2].startswith("  by what you did: ")
    assert summary[3].startswith("  by what was best instead: ")
    for line in summary[2:4]:
        parts = line.split(": ", 1)[1].split(", ")
        assert sum(float(part.rsplit(" ", 1)[1]) for part in parts) == pytest.approx(
            grade.total_regret, abs=0.2
        )
    assert len(summary) == 4 + len(costly) + 1
    assert summary[-1] == f"  (states: {session.env.unwrapped.state_legend()})"
    for line, move in zip(summary[4:-1], costly, strict=True):
        label = session.env.unwrapped.state_label(move.state)
        assert line.strip().startswith(f"step {move.step} at {label}: {session.names[move.action]}")
        assert f"(cost {move.regret:.2f})" in line


def test_restart_grades_a_new_episode_from_its_first_step() -> None:
    session = _session(FARM, seed=1)
    _press(session, pygame.K_SPACE, pygame.K_SPACE, pygame.K_r)
    assert session.moves == []
    _press(session, pygame.K_p)
    assert [move.step for move in session.moves] == [0]


def test_the_heat_map_shows_v_star_with_the_farmer_on_each_cell() -> None:
    session = _session("qgym/GridFarm-2x2-v0", seed=2)
    _press(session, pygame.K_p, pygame.K_RIGHT, pygame.K_p)
    assert session.cell_values() is None
    _press(session, pygame.K_v)
    heat = session.cell_values()
    assert heat is not None
    values, title = heat
    base = session.env.unwrapped
    model = planning.model_of(session.env)
    exact = planning.backward_induction(model, 100 - session.steps).values
    here = planning.current_state(session.env)
    assert values[base.cell] == pytest.approx(exact[here], abs=1e-9), "the farmer's own cell is V*(s)"
    crops = base.crops
    for cell, value in enumerate(values):
        assert value == pytest.approx(exact[model.encode(crops, cell)], abs=1e-9)
    assert title.startswith("V*")
    plain = base.draw(Overlay(size=(500, 400)))
    shown = base.draw(Overlay(cell_values=values, values_title=title, size=(500, 400)))
    assert (plain != shown).any(axis=2).sum() > 5000


def test_optimal_hints_on_an_env_without_a_model_say_so_and_offer_a_model(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["play", "qgym/GridFarm-4x4-v0", "--hint", "optimal"]) == 2
    err = capsys.readouterr().err
    assert "--hint optimal needs an exact model" in err
    assert "4x4 field has no exact model" in err
    assert "--hint MODEL" in err


@pytest.mark.parametrize("size", [(300, 240), (760, 740), (1400, 500)])
@pytest.mark.parametrize("env_id", ["qgym/GridFarm-1x1-v0", "qgym/GridFarm-2x2-v0", "qgym/GridFarm-4x4-v0"])
def test_the_farm_fills_its_pane_at_any_field_and_window_size(env_id: str, size: tuple[int, int]) -> None:
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    frame = render_frame(env, size)
    assert frame.shape == (size[1], size[0], 3)
    rows, cols = env.unwrapped.grid_size
    blue = np.all(frame == (40, 110, 235), axis=2)
    _, xs = np.nonzero(blue)
    side = min(size[0] // cols, (size[1] - min(max(size[1] // 16, 30), 48)) // rows)
    assert xs.max() - xs.min() + 1 == side, "the farmer's outline is one scaled plot wide"
    assert side * max(rows, cols) >= 0.5 * min(size), "the field fills most of the pane"


def test_the_trading_chart_fills_its_pane_and_marks_each_trade() -> None:
    env = gym.make("qgym/Trading-Chain-v0", render_mode="rgb_array")
    env.reset(seed=0)
    for action in (1, 0, 0, 2, 2, 0, 1):
        env.step(action)
    frame = render_frame(env, (900, 700))
    assert frame.shape == (700, 900, 3)
    plain = env.render()
    assert plain.shape == (320, 480, 3), "render() keeps its own size"
    buy_green = np.all(frame == (40, 150, 60), axis=2).sum()
    sell_red = np.all(frame == (200, 50, 50), axis=2).sum()
    assert buy_green > 40, "green triangles under the buys (and the legend's)"
    assert sell_red > 40, "red triangles over the sells (and the legend's)"


@pytest.mark.parametrize("env_id", qgym_env_ids())
def test_render_is_byte_for_byte_deterministic_for_a_seed(env_id: str) -> None:
    frames = []
    for _ in range(2):
        env = gym.make(env_id, render_mode="rgb_array")
        env.reset(seed=4)
        env.action_space.seed(4)
        for _ in range(5):
            env.step(env.action_space.sample())
        frames.append(env.render())
        env.close()
    np.testing.assert_array_equal(frames[0], frames[1])


def test_every_qgym_env_has_a_legend_and_the_window_draws_it() -> None:
    session = _session(FARM)
    labels = [label for label, _ in session.legend]
    assert any(label.startswith("ripe") for label in labels)
    assert any("withered" in label for label in labels)
    assert all(icon.shape == (40, 40, 3) for _, icon in session.legend)
    screen = Screen("test")
    try:
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_TAB))
        pygame.event.post(pygame.event.Event(pygame.QUIT))
        run_loop(session, screen, idle_timeout=5)
        assert session.show_hint
        redraw(session, screen)
        window = np.transpose(pygame.surfarray.array3d(screen.surface), (1, 0, 2))
        width, height = screen.pane
        hinted = session.view.draw(
            Overlay(action=session.hint().action, size=screen.pane)  # type: ignore[union-attr]
        )
        np.testing.assert_array_equal(window[:height, :width], hinted)
    finally:
        screen.close()
    market = gym.make("qgym/Trading-Market-v0", render_mode="rgb_array")
    assert PlaySession(market, "qgym/Trading-Market-v0").legend, "the chart explains its marks too"


def test_a_session_without_hints_still_grades_where_there_is_a_model() -> None:
    env = gym.make(FARM, render_mode="rgb_array")
    session = PlaySession(env, FARM, seed=0, advisor=OptimalAdvisor.for_env(env, FARM))
    session.apply(Command(CommandKind.ACT, 7))
    assert session.hint() is None
    assert len(session.moves) == 1
    assert not any(line.startswith("regret") for line in session.hud()), "no regret shown without hints"


def test_the_optimal_hint_never_advises_an_action_that_changes_nothing() -> None:
    """At position +1 of the trading chain buy is hold (the mask says so): the hint says hold, not
    "hold or buy"; on the farm a move into the fence is a wait, and is never the advice while another
    optimal action does something."""
    said_hold = 0
    for seed in range(6):
        session = _session("qgym/Trading-Chain-v0", seed=seed)
        _press(session, pygame.K_TAB, pygame.K_q, pygame.K_b)  # hints and Q-values on; buy: now long
        assert session.env.unwrapped.status_lines()[-1] == "position +1"
        hint = session.hint()
        assert hint is not None
        assert hint.q_values is not None
        assert hint.q_values[0] == pytest.approx(hint.q_values[1], abs=1e-12)  # buy is hold here
        assert 1 not in hint.best
        if hint.best == (0,):
            said_hold += 1
            assert hint.action == 0
            assert hint.idle == 1  # the panel says: (buy changes nothing here)
    assert said_hold > 0, "no seed where holding was the optimal move at +1"
    farm = _session(FARM, seed=0)
    _press(farm, pygame.K_TAB)
    for _ in range(30):
        hint = farm.hint()
        assert hint is not None
        mask = farm.env.unwrapped.action_masks()
        assert all(mask[a] for a in hint.best), (hint.best, mask)
        _press(farm, _key_of(farm, hint.action))


def test_an_agent_whose_top_action_changes_nothing_is_shown_its_useful_equivalent() -> None:
    from qgym.viewing.advice import agent_hint

    class LongAgent:
        """An agent whose table rates buy a hair above hold and sell: buy while long changes nothing."""

        def q_values(self, observation: Any) -> np.ndarray:
            return np.array([1.0, 1.001, 0.5])

        def act(self, observation: Any, step: int = 0) -> int:
            return 1

    mask = np.array([True, False, True])  # the chain's mask at position +1
    hint = agent_hint(LongAgent(), 0, True, True, mask)  # type: ignore[arg-type]
    assert (hint.action, hint.best, hint.idle) == (0, (0,), 1)
    assert hint.q_values is not None  # the agent's own values are still shown, buy's included
    flat = agent_hint(LongAgent(), 0, True, True, np.array([True, True, True]))  # type: ignore[arg-type]
    assert (flat.action, flat.idle) == (1, None)
