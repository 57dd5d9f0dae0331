"""Hostile env arguments and data: each refused by name before anything large is built, or before a
reward could become NaN."""

from __future__ import annotations

import pathlib
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from qgym.envs.trading import ChainTradingEnv, TradingEnv, generate_prices


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: TradingEnv(episode_length=10**9), "episode_length must be an integer from 1 to 1000000"),
        (lambda: TradingEnv(window=10**8), "window must be an integer from 2 to 10000"),
        (lambda: ChainTradingEnv(levels=10**6), "levels must be an integer from 3 to 1001"),
        (lambda: TradingEnv(jump_rate=1, jump_size=500), "jump_size must be at most 1.0"),
        (lambda: TradingEnv(trend=1000), "trend must be at most 0.1"),
        (lambda: TradingEnv(start=1e300), "start must lie in"),
        (lambda: TradingEnv(initial_equity=1e300), "initial_equity must be a positive number up to 1e12"),
        (lambda: TradingEnv(prices=np.full(400, 1e300)), r"prices must lie in .*prices\[0\] holds 1e\+300"),
        (lambda: TradingEnv(column="open"), "column= names a column of csv_path="),
        (lambda: TradingEnv(episode_length=True), "episode_length must be an integer"),
    ],
)
def test_an_argument_out_of_bounds_is_refused_by_name(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_a_path_that_leaves_the_price_range_is_a_sentence_not_nan_rewards() -> None:
    # Within bounds each, but a jump every step of the largest size wanders out of range: refused at reset.
    env = TradingEnv(jump_rate=1.0, jump_size=1.0, episode_length=100_000)
    with pytest.raises(ValueError, match="a simulated path left the price range"):
        env.reset(seed=0)


@pytest.mark.parametrize("env_id", ["qgym/Trading-Chain-v0", "qgym/Trading-Market-v0"])
@pytest.mark.parametrize("call", ["step", "render"])
def test_a_trading_env_used_before_reset_says_to_reset(env_id: str, call: str) -> None:
    env = gym.make(env_id, render_mode="rgb_array").unwrapped  # no OrderEnforcing: built directly
    with pytest.raises(gym.error.ResetNeeded, match=f"call reset\\(\\) before {call}"):
        env.step(0) if call == "step" else env.render()


def test_csv_prices_with_a_byte_order_mark_are_read(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "bom.csv"
    prices = generate_prices(300, seed=1)
    path.write_text("close\n" + "\n".join(f"{p:.6f}" for p in prices) + "\n", encoding="utf-8-sig")
    env = TradingEnv(csv_path=path, split="all", episode_length=50)
    env.reset(seed=0)
    assert env.price_path[0] in {round(p, 6) for p in prices}


def test_a_csv_file_that_is_not_utf8_is_named(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("close,note\n100.0,café\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"csv_path latin\.csv is not UTF-8 text"):
        TradingEnv(csv_path=path)
