"""Rules of the toy trading envs: accounting, timing, the exact model, costs and user data."""

from __future__ import annotations

import json
from math import comb
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import DiscretizeObservation
from hypothesis import given, settings
from hypothesis import strategies as st

from qgym import planning
from qgym.envs import known_optimum, qgym_env_ids
from qgym.envs.prices import PriceProcess, generate_prices
from qgym.envs.trading import BUY, HOLD, SELL, ChainTradingEnv, TradingEnv

TRADING_IDS = [env_id for env_id in qgym_env_ids() if env_id.startswith("qgym/Trading-")]
CHAIN_IDS = [env_id for env_id in TRADING_IDS if "Chain" in env_id]
LEVELS = 21


def _random_episode(env: gym.Env[Any, Any], seed: int) -> tuple[float, dict[str, Any], dict[str, Any], int]:
    """Play one episode with random actions: total reward, first and last info, and its length."""
    env.action_space.seed(seed)
    _, first = env.reset(seed=seed)
    total, steps, info = 0.0, 0, first
    while True:
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        total += float(reward)
        steps += 1
        if terminated or truncated:
            return total, first, info, steps


def _no_trade_band(fixed_cost: float, horizon: int = 100) -> tuple[int, int]:
    """Highest level where the optimal first move from flat is buy, lowest where it is sell."""
    env = ChainTradingEnv(levels=LEVELS, fixed_cost=fixed_cost, episode_length=horizon)
    policy = planning.backward_induction(env.transition_model(), horizon).policy[0]
    flat = [int(policy[env._encode(level, 0, 0)]) for level in range(LEVELS)]
    buys = [level for level, action in enumerate(flat) if action == BUY]
    sells = [level for level, action in enumerate(flat) if action == SELL]
    assert buys == list(range(len(buys))), "buying should happen exactly at the lowest levels"
    assert sells == list(range(LEVELS - len(sells), LEVELS)), "selling should happen exactly at the top"
    return max(buys), min(sells)


# --- registry --------------------------------------------------------------------------------------


def test_the_ladder_has_exact_continuous_and_high_cost_rungs() -> None:
    assert len(TRADING_IDS) >= 4
    assert len(CHAIN_IDS) >= 2
    assert any(gym.spec(env_id).kwargs.get("fixed_cost", 0) >= 2 for env_id in CHAIN_IDS)
    market = [gym.spec(env_id).kwargs for env_id in TRADING_IDS if env_id not in CHAIN_IDS]
    assert {kwargs["observe_regime"] for kwargs in market} == {True, False}


@pytest.mark.parametrize("env_id", TRADING_IDS)
def test_registered_kwargs_carry_no_data_and_are_json(env_id: str) -> None:
    kwargs = gym.spec(env_id).kwargs
    assert not {"prices", "csv_path"} & set(kwargs)
    assert json.loads(json.dumps(kwargs)) == kwargs


@pytest.mark.parametrize("env_id", CHAIN_IDS)
def test_registered_optimum_is_the_exact_optimum_and_sets_the_threshold(env_id: str) -> None:
    spec = gym.spec(env_id)
    env = gym.make(env_id)
    model = planning.model_of(env)
    assert spec.max_episode_steps is not None
    solution = planning.backward_induction(model, spec.max_episode_steps)
    optimum = planning.expected_return(model, solution.values)
    assert known_optimum(env_id) == pytest.approx(optimum, abs=5e-5)
    assert spec.reward_threshold == pytest.approx(0.95 * optimum, abs=0.01)


# --- accounting and timing --------------------------------------------------------------------------


@pytest.mark.parametrize("env_id", TRADING_IDS)
def test_rewards_add_up_to_final_minus_initial_equity_costs_included(env_id: str) -> None:
    env = gym.make(env_id)
    for seed in range(3):
        total, first, last, steps = _random_episode(env, seed)
        assert steps == gym.spec(env_id).max_episode_steps
        assert last["total_cost"] > 0
        assert total == pytest.approx(last["equity"] - first["equity"], abs=1e-9)
    env.close()


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
    total, first, last, _ = _random_episode(env, seed=4)
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


def test_a_buy_at_the_position_limit_is_masked_and_acts_as_a_hold() -> None:
    env = ChainTradingEnv(fixed_cost=1.0)
    _, info = env.reset(seed=0)
    np.testing.assert_array_equal(info["action_mask"], [1, 1, 1])
    _, _, _, _, info = env.step(BUY)
    np.testing.assert_array_equal(info["action_mask"], [1, 0, 1])
    _, _, _, _, info = env.step(BUY)
    assert info["position"] == 1
    assert info["trade_cost"] == 0.0
    env.step(SELL)
    _, _, _, _, info = env.step(SELL)
    np.testing.assert_array_equal(info["action_mask"], [1, 1, 0])
    assert env.action_masks() is not env.action_masks()


def test_without_shorting_the_position_never_goes_below_zero() -> None:
    env = ChainTradingEnv(allow_short=False)
    env.reset(seed=0)
    _, _, _, _, info = env.step(SELL)
    assert info["position"] == 0
    assert env.observation_space.n == LEVELS * 2  # type: ignore[attr-defined]


@pytest.mark.parametrize("env_id", TRADING_IDS)
def test_info_reports_equity_position_costs_and_baseline_but_never_episode(env_id: str) -> None:
    env = gym.make(env_id)
    _, info = env.reset(seed=0)
    _, _, _, _, info = env.step(BUY)
    assert {"equity", "position", "trade_cost", "total_cost", "buy_and_hold_equity", "action_mask"} <= set(
        info
    )
    assert "episode" not in info


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
            seen[split] |= set(env._prices)
    assert max(seen["train"]) <= 800 < min(seen["test"])


def test_synthetic_train_and_test_paths_come_from_different_seed_streams() -> None:
    train = TradingEnv(split="train")
    test = TradingEnv(split="test")
    train.reset(seed=3)
    test.reset(seed=3)
    assert train._prices != test._prices
    again = TradingEnv(split="train")
    again.reset(seed=3)
    assert again._prices == train._prices


def test_each_reset_draws_a_fresh_synthetic_path() -> None:
    env = TradingEnv()
    env.reset(seed=0)
    first = list(env._prices)
    env.reset()
    assert env._prices != first


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


# --- the exact chain ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("cost", "band"), [(0.0, (9, 11)), (2.0, (6, 14))])
def test_the_no_trade_band_matches_the_research_figures(cost: float, band: tuple[int, int]) -> None:
    assert _no_trade_band(cost) == band


def test_the_no_trade_band_widens_as_costs_rise() -> None:
    bands = [_no_trade_band(cost) for cost in (0.0, 0.5, 1.0, 2.0)]
    widths = [sell - buy for buy, sell in bands]
    assert widths == sorted(widths)
    assert widths[0] < widths[-1]


def _expected_trades(env_id: str) -> float:
    """Exact expected number of trades per episode under the optimal (time-dependent) policy."""
    env = gym.make(env_id).unwrapped
    assert isinstance(env, ChainTradingEnv)
    model = env.transition_model()
    horizon = env.config.episode_length
    policy = planning.backward_induction(model, horizon).policy
    distribution, trades = model.initial_distribution.copy(), 0.0
    for step in range(horizon):
        actions = policy[step]
        states = np.arange(model.n_states)
        positions = np.array([env._decode(s)[1] for s in states])
        moved = (
            np.array([env._decode(int(model.next_states[s, actions[s], 0]))[1] for s in states]) != positions
        )
        trades += float(distribution @ moved)
        nxt = np.zeros_like(distribution)
        np.add.at(
            nxt,
            model.next_states[states, actions].ravel(),
            (distribution[:, None] * model.probs[states, actions]).ravel(),
        )
        distribution = nxt
    return trades


def test_the_high_cost_rung_trades_visibly_less() -> None:
    cheap, costly = _expected_trades("qgym/Trading-Chain-v0"), _expected_trades("qgym/Trading-ChainCostly-v0")
    assert costly < 0.6 * cheap


def test_the_observed_regime_shifts_the_optimal_band() -> None:
    env = gym.make("qgym/Trading-ChainRegime-v0").unwrapped
    assert isinstance(env, ChainTradingEnv)
    policy = planning.backward_induction(env.transition_model(), 100).policy[0]
    highest_buy = [max(lvl for lvl in range(LEVELS) if policy[env._encode(lvl, 0, r)] == BUY) for r in (0, 1)]
    assert highest_buy[0] > highest_buy[1]  # buy higher in the bull regime than in the bear regime


@pytest.mark.parametrize("env_id", CHAIN_IDS)
def test_playing_the_optimal_policy_in_the_env_earns_the_exact_optimum(env_id: str) -> None:
    env = gym.make(env_id)
    policy = planning.backward_induction(planning.model_of(env), 100).policy
    returns = []
    for seed in range(400):
        obs, _ = env.reset(seed=seed)
        total, truncated, step = 0.0, False, 0
        while not truncated:
            obs, reward, _, truncated, _ = env.step(int(policy[step, obs]))
            total += float(reward)
            step += 1
        returns.append(total)
    standard_error = np.std(returns) / np.sqrt(len(returns))
    assert abs(np.mean(returns) - known_optimum(env_id)) < 4 * standard_error  # type: ignore[operator]


def test_p_is_the_toy_text_view_of_the_transition_model() -> None:
    env = ChainTradingEnv(regime_switch=0.1, tilt=0.2, fixed_cost=0.7, proportional_cost=0.01)
    model = env.transition_model()
    rebuilt = planning.TabularModel.from_toy_text(env.P, env.initial_state_distrib)
    values = np.random.default_rng(0).normal(size=model.n_states)
    np.testing.assert_allclose(rebuilt.backup(values, 0.9), model.backup(values, 0.9))
    assert env.initial_state_distrib.sum() == pytest.approx(1.0)


def test_the_chain_starts_flat_from_its_stationary_law() -> None:
    env = ChainTradingEnv()
    isd = env.initial_state_distrib
    for state in range(env.n_states):
        described = env.describe_state(state)
        expected = (
            comb(LEVELS - 1, described["level"]) / 2 ** (LEVELS - 1) if described["position"] == 0 else 0
        )
        assert isd[state] == pytest.approx(expected, abs=1e-12)


def test_state_index_round_trips_through_its_setter() -> None:
    env = ChainTradingEnv(regime_switch=0.05, tilt=0.1)
    env.reset(seed=0)
    for state in (0, 17, env.n_states - 1):
        env.state_index = state
        assert env.state_index == state
    with pytest.raises(ValueError, match="state_index"):
        env.state_index = env.n_states


# --- the synthetic process ----------------------------------------------------------------------------


def test_generate_prices_is_seeded_positive_and_reverts_in_the_ranging_regime() -> None:
    a, b = generate_prices(300, seed=4), generate_prices(300, seed=4)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (300,)
    assert np.all(a > 0)
    ranging = generate_prices(5000, seed=1, regime_switch=0.0, volatility=0.01, reversion=0.1)
    assert abs(float(np.mean(np.log(ranging))) - np.log(100)) < 0.01


def test_jumps_fatten_the_tails() -> None:
    calm = np.diff(np.log(generate_prices(20_000, seed=0, regime_switch=0.0)))
    jumpy = np.diff(np.log(generate_prices(20_000, seed=0, regime_switch=0.0, jump_rate=0.05)))
    assert np.abs(jumpy).max() > 2 * np.abs(calm).max()


def test_unknown_process_parameters_are_named() -> None:
    with pytest.raises(TypeError, match="volatilty"):
        generate_prices(10, seed=0, volatilty=0.1)
    with pytest.raises(ValueError, match="jump_rate"):
        PriceProcess(jump_rate=2.0)


# --- bad data and bad arguments -----------------------------------------------------------------------


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
    total, first, last, _ = _random_episode(env, seed=0)
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


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"levels": 2}, "levels"), ({"tilt": 0.5}, "tilt"), ({"regime_switch": 1.0}, "regime_switch")],
)
def test_bad_chain_arguments_are_refused_by_name(kwargs: dict[str, Any], argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        ChainTradingEnv(**kwargs)


_PRICES = generate_prices(600, seed=2).tolist()


@pytest.mark.parametrize(
    ("env_id", "kwargs"),
    [
        ("qgym/Trading-ChainRegime-v0", {"observation": "features"}),
        ("qgym/Trading-Chain-v0", {"max_position": 2, "allow_short": False, "proportional_cost": 0.01}),
        ("qgym/Trading-Market-v0", {"observation": "index", "max_position": 2}),
        ("qgym/Trading-MarketHidden-v0", {"prices": _PRICES, "observation": "index", "allow_short": False}),
        ("qgym/Trading-MarketHidden-v0", {"prices": _PRICES, "split": "test", "episode_length": 60}),
    ],
    ids=["chain-features", "chain-long-only", "market-index", "data-index", "data-test-split"],
)
def test_variants_made_with_extra_arguments_pass_the_gymnasium_checker(
    env_id: str, kwargs: dict[str, Any]
) -> None:
    from gymnasium.utils.env_checker import check_env

    env = gym.make(env_id, **kwargs)
    check_env(env.unwrapped)
    total, first, last, steps = _random_episode(env, seed=1)
    assert steps == min(env.unwrapped.config.episode_length, gym.spec(env_id).max_episode_steps or steps)  # type: ignore[attr-defined]
    assert total == pytest.approx(last["equity"] - first["equity"], abs=1e-9)
    assert env.observation_space.contains(env.unwrapped._observation())  # type: ignore[attr-defined]


def test_a_market_episode_cannot_step_past_its_end() -> None:
    env = TradingEnv(episode_length=5)
    env.reset(seed=0)
    for _ in range(5):
        *_, truncated, _ = env.step(HOLD)
    assert truncated
    with pytest.raises(RuntimeError, match="reset"):
        env.step(HOLD)


def test_unknown_chain_arguments_are_named() -> None:
    with pytest.raises(TypeError, match="levls"):
        ChainTradingEnv(levls=5)


# --- play and rendering ---------------------------------------------------------------------------------


def test_keyboard_map_buys_sells_and_holds() -> None:
    import pygame

    keys = ChainTradingEnv().get_keys_to_action()
    assert keys[(pygame.K_UP,)] == BUY
    assert keys[(pygame.K_DOWN,)] == SELL
    assert keys[(pygame.K_SPACE,)] == HOLD
    assert set(keys.values()) == {HOLD, BUY, SELL}


def test_the_ticker_is_one_line_with_position_equity_and_costs() -> None:
    env = gym.make("qgym/Trading-Market-v0", render_mode="ansi")
    env.reset(seed=0)
    env.step(BUY)
    line = env.render()
    assert isinstance(line, str)
    assert "\n" not in line
    for word in ("price", "position +1", "equity", "buy&hold", "costs", "regime"):
        assert word in line


def test_the_frame_shades_long_positions_green() -> None:
    env = ChainTradingEnv(render_mode="rgb_array")
    env.reset(seed=0)
    before = env.render()
    for _ in range(10):
        env.step(BUY)
    after = env.render()
    greenish = (after[..., 1].astype(int) - after[..., 0].astype(int)) > 20
    assert greenish.sum() > (before[..., 1].astype(int) - before[..., 0].astype(int) > 20).sum() + 500
