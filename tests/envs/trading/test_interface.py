"""What viewers and evaluation ask of the trading envs (qgym.envs.interface): names, HUD, frame,
state labels, the heuristic."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from qgym.envs.interface import EnvView, HasHeuristic, Overlay, StateNames
from qgym.envs.trading import BUY, HOLD, SELL, ChainTradingEnv, TradingEnv, TrendFollower
from qgym.training import episode_returns

ENV_IDS = [
    "qgym/Trading-Chain-v0",
    "qgym/Trading-ChainRegime-v0",
    "qgym/Trading-Market-v0",
    "qgym/Trading-MarketHidden-v0",
]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_both_envs_are_env_views_with_the_action_names(env_id: str) -> None:
    env = gym.make(env_id).unwrapped
    assert isinstance(env, EnvView)
    assert env.action_names == ("hold", "buy", "sell")


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_status_lines_say_the_regime_and_position_that_info_reports(env_id: str) -> None:
    env = gym.make(env_id)
    _, info = env.reset(seed=0)
    for action in (BUY, BUY, SELL, HOLD, SELL, SELL):
        status = env.unwrapped.status_lines()  # type: ignore[attr-defined]
        regime = [f"regime   {info['regime']}"] if "regime" in info else []
        assert status == [*regime, f"position {int(info['position']):+d}"]
        _, _, _, _, info = env.step(action)
    assert status[-1] == "position -1"
    assert any(line.startswith("regime   ") for line in status) == ("regime" in info)


def test_status_lines_name_the_regime_and_the_position() -> None:
    env = ChainTradingEnv(regime_switch=0.05, tilt=0.1)
    env.reset(seed=0)
    env.step(BUY)
    regime, position = env.status_lines()
    assert regime in ("regime   bull", "regime   bear")
    assert position == "position +1"


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_draw_is_the_rgb_frame_and_an_overlay_marks_the_advised_action(env_id: str) -> None:
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=1)
    for action in (BUY, HOLD, HOLD):
        env.step(action)
    base = env.unwrapped
    plain = base.draw()  # type: ignore[attr-defined]
    assert plain.shape == (320, 480, 3)
    assert plain.dtype == np.uint8
    np.testing.assert_array_equal(env.render(), plain)
    np.testing.assert_array_equal(base.draw(Overlay()), plain)  # type: ignore[attr-defined]
    advised = {action: base.draw(Overlay(action=action)) for action in (HOLD, BUY, SELL)}  # type: ignore[attr-defined]
    for frame in advised.values():
        assert (frame != plain).any(axis=2).sum() > 200
    assert not np.array_equal(advised[BUY], advised[SELL])
    # buy is shown in green, sell in red
    greener = advised[BUY][..., 1].astype(int) - advised[BUY][..., 0].astype(int)
    redder = advised[SELL][..., 0].astype(int) - advised[SELL][..., 1].astype(int)
    assert (greener > 60).sum() > 100
    assert (redder > 60).sum() > 100


@pytest.mark.parametrize("env_id", ["qgym/Trading-Chain-v0", "qgym/Trading-ChainRegime-v0"])
def test_the_chain_labels_its_states_as_the_q_table_plots_did(env_id: str) -> None:
    env = gym.make(env_id)
    base = env.unwrapped
    assert isinstance(base, ChainTradingEnv)
    assert isinstance(base, StateNames)
    for state in range(base.n_states):
        described = base.describe_state(state)
        expected = f"lvl {described['level']} pos {described['position']:+d}"
        expected += f" {described['regime']}" if base.n_regimes > 1 else ""
        assert base.state_label(state) == expected
    assert base.state_label(0) == "lvl 0 pos -1" + (" bull" if base.n_regimes > 1 else "")


@pytest.mark.parametrize(("regime_switch", "regime_named"), [(0.0, False), (0.05, True)])
def test_the_state_legend_is_one_line_that_explains_the_label(
    regime_switch: float, regime_named: bool
) -> None:
    legend = ChainTradingEnv(regime_switch=regime_switch, tilt=0.1).state_legend()
    assert "\n" not in legend
    assert "lvl" in legend
    assert "pos" in legend
    assert ("regime" in legend) == regime_named


@pytest.mark.parametrize("env_id", ["qgym/Trading-Market-v0", "qgym/Trading-MarketHidden-v0"])
def test_the_heuristic_is_the_trend_follower_and_beats_holding_cash(env_id: str) -> None:
    env = gym.make(env_id)
    base = env.unwrapped
    assert isinstance(base, HasHeuristic)
    policy = base.heuristic()
    assert isinstance(policy, TrendFollower)
    returns = episode_returns(env, policy, 12, seed=0)
    assert returns.mean() > 0  # holding cash earns 0


def test_the_heuristic_of_an_index_observation_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match=r"reads the 'features' observation.*observation='features'"):
        TradingEnv(observation="index").heuristic()
