"""The field pictures: an episode as its field reads it, and the figures beside the optimal policy's;
every panel titled, labelled and with a legend."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from qgym.viewing.field_plots import plot_episode_chart, plot_field_report, write_evaluation_plots


def _episode(env_id: str, seed: int = 0) -> gym.Env:  # type: ignore[type-arg]
    env = gym.make(env_id)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    done = False
    while not done:
        done = bool(env.step(int(rng.choice([1, 2, 0, 0, 0]) if "Trading" in env_id else rng.integers(8)))[3])
    return env


def test_the_trading_episode_shows_equity_and_drawdown_beside_buy_and_hold(tmp_path: Path) -> None:
    env = _episode("qgym/Trading-ChainRegime-v0")
    chart = env.unwrapped.episode_chart()
    figure = plot_episode_chart(chart, tmp_path / "episode.png")
    axes = figure.get_axes()
    assert [ax.get_title(loc="left") for ax in axes] == [
        "equity",
        "drawdown (fall from the running peak)",
        "position held",
    ]
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["agent", "buy and hold"]
    assert all(ax.get_ylabel() for ax in axes)
    assert axes[-1].get_xlabel() == "step"
    equity = dict(chart.panels[0].lines)["agent"]
    assert len(equity) == 101
    assert equity[-1] - equity[0] == pytest.approx(env.unwrapped.episode_metrics()["return"])
    drawdown = dict(chart.panels[1].lines)["agent"]
    assert -min(drawdown) == pytest.approx(env.unwrapped.episode_metrics()["max_drawdown"])
    assert (tmp_path / "episode.png").stat().st_size > 10_000


def test_the_farm_season_shows_money_water_and_crops_day_by_day() -> None:
    env = _episode("qgym/GridFarm-2x2-v0")
    chart = env.unwrapped.episode_chart()
    figures = env.unwrapped.episode_metrics()
    lines = {title: dict(panel.lines) for title, panel in ((p.title, p) for p in chart.panels)}
    assert lines["money so far"]["profit"][-1] == pytest.approx(figures["profit"])
    assert lines["water so far"]["by hand"][-1] == figures["watered"]
    assert lines["water so far"]["by rain"][-1] == figures["rain_waterings"]
    assert lines["crops so far"]["lost"][-1] == figures["lost"]
    assert chart.xlabel == "day"
    figure = plot_episode_chart(chart)
    assert all(ax.get_legend() is not None and ax.get_title(loc="left") for ax in figure.get_axes())


def test_the_figures_picture_has_a_panel_per_figure_and_a_legend(tmp_path: Path) -> None:
    env = gym.make("qgym/Trading-Chain-v0")
    records = [dict(_episode("qgym/Trading-Chain-v0", seed).unwrapped.episode_metrics()) for seed in range(5)]
    agent = env.unwrapped.field_report(records)
    optimal = env.unwrapped.optimal_report(100)
    figure = plot_field_report(agent, optimal)
    titled = [ax for ax in figure.get_axes() if ax.get_title()]
    assert [ax.get_title() for ax in titled] == [f.spec.label for f in agent.figures]
    assert all(ax.get_xlabel() for ax in titled)
    assert figure.legends
    labels = [t.get_text() for t in figure.legends[0].get_texts()]
    assert labels[:2] == [
        "agent: value, 95% interval over episodes",
        "optimal policy: exact, or sampled with its interval",
    ]
    written = write_evaluation_plots(env.unwrapped.episode_chart(), agent, optimal, tmp_path / "plots")
    assert [path.name for path in written] == ["episode.png", "figures.png"]
    assert write_evaluation_plots(None, None, None, tmp_path / "none") == []
