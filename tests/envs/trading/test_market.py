"""The market rungs: accounting, timing, synthetic paths and splits, user data and its errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import DiscretizeObservation
from hypothesis import given, settings
from hypothesis import strategies as st
from trading_episodes import CHAIN_IDS, TRADING_IDS, random_episode

from qgym.envs.trading import BUY, HOLD, SELL, TradingEnv, generate_prices


def test_user_data_rewards_add_up_with_both_kinds_of_cost() -> None:
    env = TradingEnv(
        prices=generate_prices(400, seed=5, jump_rate=0.05),
        episode_length=60,
        fixed_cost=0.3,
        proportional_cost=0.01,
        max_position=3,
        allow_short=False,
        split="all",
    )
    total, first, last, _ = random_episode(env, seed=4)
    assert last["total_cost"] > 0
    assert total == pytest.approx(last["equity"] - first["equity"], abs=1e-9)


def test_the_new_position_earns_the_next_move_net_of_the_cost_of_trading() -> None:
    prices = [100.0] * 5 + [110.0, 99.0, 99.0]
    env = TradingEnv(
        prices=prices, window=4, n_returns=2, episode_length=3, split="all", proportional_cost=0.01
    )
    _, info = env.reset(seed=0)
    shares = 100.0 / 100.0
    assert info["price"] == 100.0
    _, reward, _, _, info = env.step(BUY)  # buy one unit at 100 (cost 1), earn 100 -> 110
    assert reward == pytest.approx(shares * 10 - 0.01 * 100)
    assert info["trade_cost"] == pytest.approx(1.0)
    _, reward, _, _, info = env.step(SELL)  # flat at 110 (cost 1.1): the fall to 99 is not earned
    assert reward == pytest.approx(-1.1)
    _, reward, _, truncated, info = env.step(SELL)  # short at 99 (cost 0.99), no move
    assert reward == pytest.approx(-0.99)
    assert truncated
    assert info["equity"] == pytest.approx(100 + 10 - 1 - 1.1 - 0.99)
    assert info["buy_and_hold_equity"] == pytest.approx(100 - 1 + shares * (99 - 100))


@settings(max_examples=40, deadline=None)
@given(
    prices=st.lists(st.floats(1.0, 1e4), min_size=19, max_size=19),
    cut=st.integers(0, 9),
    tail=st.lists(st.floats(1.0, 1e4), min_size=10, max_size=10),
    actions=st.lists(st.sampled_from([HOLD, BUY, SELL]), min_size=10, max_size=10),
    observation=st.sampled_from(["features", "index"]),
)
def test_changing_prices_after_t_never_changes_the_observation_at_t(
    prices: list[float], cut: int, tail: list[float], actions: list[int], observation: str
) -> None:
    window, horizon = 8, 10  # 19 prices: exactly one episode window, so step t sees prices[: window + t + 1]
    changed = list(prices)
    first_future = window + cut + 1
    changed[first_future:] = tail[: len(prices) - first_future]
    kwargs: dict[str, Any] = {"window": window, "n_returns": 3, "episode_length": horizon, "split": "all"}
    kwargs["observation"] = observation
    envs = [TradingEnv(prices=series, **kwargs) for series in (prices, changed)]
    observations = [[env.reset(seed=0)[0]] for env in envs]
    for env, trace in zip(envs, observations, strict=True):
        for action in actions[:cut]:
            trace.append(env.step(action)[0])
    for a, b in zip(*observations, strict=True):
        np.testing.assert_array_equal(a, b)


def test_episode_windows_start_at_random_points_of_user_data() -> None:
    env = TradingEnv(prices=generate_prices(500, seed=1), episode_length=50, split="all")
    starts = {env.reset(seed=seed)[1]["price"] for seed in range(10)}
    assert len(starts) > 5


def test_train_and_test_windows_come_from_disjoint_segments() -> None:
    prices = np.arange(1.0, 1001.0)  # each price is its own position in the series
    seen: dict[str, set[float]] = {}
    for split in ("train", "test"):
        env = TradingEnv(prices=prices, split=split, episode_length=50, window=10)
        seen[split] = set()
        for seed in range(20):
            env.reset(seed=seed)
            seen[split] |= set(env.price_path)
    assert max(seen["train"]) <= 800 < min(seen["test"])


def test_synthetic_train_and_test_paths_come_from_different_seed_streams() -> None:
    train = TradingEnv(split="train")
    test = TradingEnv(split="test")
    train.reset(seed=3)
    test.reset(seed=3)
    assert train.price_path != test.price_path
    again = TradingEnv(split="train")
    again.reset(seed=3)
    assert again.price_path == train.price_path


def test_each_reset_draws_a_fresh_synthetic_path() -> None:
    env = TradingEnv()
    env.reset(seed=0)
    first = list(env.price_path)
    env.reset()
    assert env.price_path != first


@pytest.mark.parametrize("env_id", [i for i in TRADING_IDS if i not in CHAIN_IDS])
def test_features_are_bounded_so_discretize_observation_works(env_id: str) -> None:
    env = DiscretizeObservation(gym.make(env_id), bins=3)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    for _ in range(30):
        obs, *_ = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)


def _follow(env: gym.Env[Any, Any], target: Any, episodes: int) -> float:
    """Mean return of a rule that picks a target position from (observation, info)."""
    returns = []
    for seed in range(episodes):
        obs, info = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            goal, position = target(obs, info), info["position"]
            action = BUY if goal > position else SELL if goal < position else HOLD
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


def test_following_the_observed_regime_beats_buy_and_hold() -> None:
    """The market rungs carry a learnable signal: ride rallies and slumps, sit out the ranging regime."""
    env = gym.make("qgym/Trading-Market-v0")
    by_regime = {"rally": 1, "slump": -1, "ranging": 0}
    regime_rule = _follow(env, lambda obs, info: by_regime[info["regime"]], episodes=40)
    buy_and_hold = _follow(env, lambda obs, info: 1, episodes=40)
    assert regime_rule > buy_and_hold + 10


def test_the_hidden_regime_is_neither_observed_nor_in_info() -> None:
    hidden, shown = TradingEnv(observe_regime=False), TradingEnv(observe_regime=True)
    assert shown.observation_space.shape[0] == hidden.observation_space.shape[0] + 3  # type: ignore[index]
    assert "regime" not in hidden.reset(seed=0)[1]
    assert shown.reset(seed=0)[1]["regime"] in ("ranging", "rally", "slump")


def test_a_missing_csv_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nowhere\.csv"):
        TradingEnv(csv_path=tmp_path / "nowhere.csv")


def test_a_missing_column_is_named_with_the_columns_there_are(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("date,Close\n2024-01-01,1.0\n")
    with pytest.raises(ValueError, match=r"column 'close' is not in p.csv.*'Close'"):
        TradingEnv(csv_path=path)


def test_csv_prices_load_from_the_named_column(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    rows = "\n".join(f"2024-01-{i:02d},{p:.4f}" for i, p in enumerate(generate_prices(300, seed=0)))
    path.write_text("date,adj close\n" + rows + "\n")
    env = TradingEnv(csv_path=str(path), column="adj close", split="all")
    total, first, last, _ = random_episode(env, seed=0)
    assert total == pytest.approx(last["equity"] - first["equity"])


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        ("abc", "numeric: line 4 holds 'abc'"),
        ("", "numeric: line 4 holds ''"),
        ("-1", "positive: line 4 holds -1.0"),
        ("nan", "finite: line 4 holds nan"),
    ],
)
def test_bad_csv_cells_are_named(tmp_path: Path, cell: str, problem: str) -> None:
    path = tmp_path / "p.csv"
    path.write_text(f"date,close\nmon,1.0\ntue,2.0\nwed,{cell}\nthu,3.0\n")
    with pytest.raises(ValueError, match=problem):
        TradingEnv(csv_path=path)


@pytest.mark.parametrize(
    ("prices", "problem"),
    [
        ([1.0, "x", 2.0], r"numeric: prices\[1\] holds 'x'"),
        ([1.0, None, 2.0], r"numeric: prices\[1\] holds None"),
        ([True, False], "numeric"),
        ([1.0, 0.0, 2.0], r"positive: prices\[1\] holds 0.0"),
        ([1.0, -3.0], "positive"),
        ([1.0, float("inf")], r"finite: prices\[1\] holds inf"),
        ([1.0, float("nan")], "finite"),
        ([[1.0, 2.0], [3.0, 4.0]], "1-D"),
    ],
)
def test_bad_prices_are_named(prices: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        TradingEnv(prices=prices)


def test_a_series_shorter_than_one_episode_is_refused_with_the_length_it_needs() -> None:
    with pytest.raises(
        ValueError, match=r"'train' segment holds 80 prices.*needs window \+ episode_length \+ 1 = 271"
    ):
        TradingEnv(prices=generate_prices(100, seed=0))
    with pytest.raises(ValueError, match="holds 100 prices"):
        TradingEnv(prices=generate_prices(100, seed=0), split="all")
    TradingEnv(prices=generate_prices(71, seed=0), split="all", episode_length=50)  # exactly long enough


def test_prices_and_csv_path_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="either prices= or csv_path="):
        TradingEnv(prices=[1.0, 2.0], csv_path=tmp_path / "p.csv")


def test_user_prices_cannot_claim_an_observed_regime() -> None:
    with pytest.raises(ValueError, match="observe_regime"):
        gym.make("qgym/Trading-Market-v0", prices=generate_prices(500, seed=0))
    env = gym.make("qgym/Trading-MarketHidden-v0", prices=generate_prices(500, seed=0))
    assert env.reset(seed=0)[1]["equity"] == 100.0


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"episode_length": 0}, "episode_length"),
        ({"max_position": 0}, "max_position"),
        ({"fixed_cost": -1.0}, "fixed_cost"),
        ({"proportional_cost": float("nan")}, "proportional_cost"),
        ({"observation": "pixels"}, "observation"),
        ({"split": "validation"}, "split"),
        ({"train_fraction": 1.0}, "train_fraction"),
        ({"window": 3, "n_returns": 5}, "n_returns"),
        ({"render_mode": "rgb"}, "render_mode"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs: dict[str, Any], argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        TradingEnv(**kwargs)


def test_a_market_episode_cannot_step_past_its_end() -> None:
    env = TradingEnv(episode_length=5)
    env.reset(seed=0)
    for _ in range(5):
        *_, truncated, _ = env.step(HOLD)
    assert truncated
    with pytest.raises(RuntimeError, match="reset"):
        env.step(HOLD)


def test_the_ticker_is_one_line_with_position_equity_and_costs() -> None:
    env = gym.make("qgym/Trading-Market-v0", render_mode="ansi")
    env.reset(seed=0)
    env.step(BUY)
    line = env.render()
    assert isinstance(line, str)
    assert "\n" not in line
    for word in ("price", "position +1", "equity", "buy&hold", "costs", "regime"):
        assert word in line
