"""The trading rules on values of any shape: position tables, costs, rewards, features, the state index,
and the desk that applies them to one trader (numpy scalars, or Python numbers) or to many (arrays) alike."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from qgym.envs.native_vector import ALL
from qgym.envs.trading import BUY, HOLD, SELL, TradingConfig, generate_prices, market_features
from qgym.envs.trading.chain import ChainPrices
from qgym.envs.trading.chain_rules import Chain
from qgym.envs.trading.desk import Desk
from qgym.envs.trading.market import MarketPaths, TradingEnv
from qgym.envs.trading.rules import (
    decode_index,
    encode_index,
    position_tables,
    step_rewards,
    trade_costs,
    z_bins,
)

CONFIGS = [TradingConfig(), TradingConfig(max_position=2, allow_short=False), TradingConfig(max_position=3)]


@pytest.mark.parametrize("config", CONFIGS)
def test_buy_and_sell_move_one_unit_and_hold_at_the_limits(config: TradingConfig) -> None:
    tables = position_tables(config)
    for position in range(config.min_position, config.max_position + 1):
        assert tables.next_positions(position, HOLD) == position
        assert tables.next_positions(position, BUY) == min(position + 1, config.max_position)
        assert tables.next_positions(position, SELL) == max(position - 1, config.min_position)
        changes = [tables.next_positions(position, action) != position for action in (BUY, SELL)]
        np.testing.assert_array_equal(tables.action_masks(position), [1, *changes])
    with pytest.raises(ValueError, match="read-only"):
        tables.next_position[0, 0] = 5


@pytest.mark.parametrize(("config", "n_regimes"), [(CONFIGS[0], 1), (CONFIGS[1], 2), (CONFIGS[2], 3)])
def test_the_index_encoding_numbers_every_state_once_and_decodes_back(
    config: TradingConfig, n_regimes: int
) -> None:
    bins = range(5)
    positions = range(config.min_position, config.max_position + 1)
    states = list(itertools.product(bins, positions, range(n_regimes)))
    indices = [int(encode_index(b, p, r, config, n_regimes)) for b, p, r in states]
    assert sorted(indices) == list(range(len(states)))
    for (b, p, r), index in zip(states, indices, strict=True):
        assert index == (b * config.n_positions + p - config.min_position) * n_regimes + r
    batch = encode_index(*(np.array(column) for column in zip(*states, strict=True)), config, n_regimes)
    np.testing.assert_array_equal(batch, indices)
    decoded = decode_index(batch, config, n_regimes)
    assert [tuple(int(v) for v in row) for row in zip(*decoded, strict=True)] == states


def test_costs_and_rewards_are_the_same_for_one_trader_and_for_a_batch() -> None:
    config = TradingConfig(fixed_cost=0.3, proportional_cost=0.01, max_position=2)
    rng = np.random.default_rng(0)
    old, new = rng.integers(-2, 3, size=50), rng.integers(-2, 3, size=50)
    prices, next_prices, shares = rng.uniform(50, 150, size=(3, 50))
    costs = trade_costs(old, new, prices, shares, config)
    rewards = step_rewards(new, shares, prices, next_prices, costs)
    for i in range(50):
        cost = trade_costs(old[i], new[i], prices[i], shares[i], config)
        assert cost == costs[i]
        assert step_rewards(new[i], shares[i], prices[i], next_prices[i], cost) == rewards[i]
    assert costs[old == new].sum() == 0.0


def test_the_features_use_numpys_own_mean_and_standard_deviation() -> None:
    config = TradingConfig(window=12, n_returns=4)
    rng = np.random.default_rng(1)
    windows = np.exp(np.cumsum(rng.normal(0, 0.02, size=(100, 13)), axis=1)) * 50
    features = market_features(windows, np.zeros(100, dtype=np.int64), np.full(100, 7), config)
    for row, window in zip(features, windows, strict=True):
        log_prices = np.log(window)
        returns = np.diff(log_prices)
        z = (log_prices[-1] - np.mean(log_prices)) / np.std(log_prices)
        expected = np.clip(returns[-4:] / np.std(returns), -4, 4)
        np.testing.assert_array_equal(row[:4], expected.astype(np.float32))
        assert row[4] == np.float32(np.clip(z, -4, 4))
        assert row[6] == np.float32(7 / config.episode_length)


def test_a_flat_window_has_no_returns_and_sits_in_the_middle_z_bin() -> None:
    config = TradingConfig(window=5, n_returns=2, z_bins=9)
    flat = np.full((1, 6), 80.0)
    np.testing.assert_array_equal(market_features(flat, np.zeros(1), np.zeros(1), config)[0, :3], 0.0)
    assert int(z_bins(flat, config)[0]) == 4


@pytest.mark.parametrize("observation", ["index", "features"])
def test_one_trader_by_number_and_a_batch_step_the_very_same_accounts(observation: str) -> None:
    """One trader's number (numpy scalars), one trader on Python numbers (``step_one``, what the single
    envs run) and a slice (arrays, the vector envs): the same rewards, observations and accounts."""
    config = TradingConfig(observation=observation, fixed_cost=0.2, proportional_cost=0.01, max_position=2)
    chain = Chain(levels=9, regime_switch=0.1, tilt=0.2)
    batch = Desk(ChainPrices(3, chain, config), config)
    batch_rng = np.random.default_rng(5)
    batch.reset(ALL, 3, batch_rng)
    actions = np.random.default_rng(6).integers(3, size=(200, 3))
    batch_rewards, observations = [], [batch.observations()]
    for row in actions:
        batch_rewards.append(batch.step(row, ALL, 3, batch_rng))
        observations.append(batch.observations())
    # The batch draws one number per trader in turn: replay each trader's share of the draws.
    uniforms = np.random.default_rng(5).random(
        (1 + (config.window if observation == "features" else 0) + len(actions), 3)
    )
    for i in range(3):
        by_number, on_numbers = (Desk(ChainPrices(1, chain, config), config) for _ in range(2))
        by_number.reset(0, None, _Replay(uniforms[:, i]))  # type: ignore[arg-type]
        replay = _Replay(uniforms[:, i])
        on_numbers.reset(0, None, replay)  # type: ignore[arg-type]
        _assert_same_observation(on_numbers.observation_one(0), observations[0][i])
        for t, row in enumerate(actions):
            reward = on_numbers.step_one(int(row[i]), 0, replay)  # type: ignore[arg-type]
            assert type(reward) is float
            assert reward == batch_rewards[t][i]
            _assert_same_observation(on_numbers.observation_one(0), observations[t + 1][i])
        rng = _Replay(uniforms[1 + (config.window if observation == "features" else 0) :, i])
        rewards = [by_number.step(row[i : i + 1], 0, None, rng) for row in actions]  # type: ignore[arg-type]
        np.testing.assert_array_equal(rewards, np.array(batch_rewards)[:, i])
        np.testing.assert_array_equal(by_number.observations(0), observations[-1][i])
        for desk in (by_number, on_numbers):
            for name in ("position", "equity", "price", "total_cost", "last_cost", "elapsed"):
                assert getattr(desk.book, name)[0] == getattr(batch.book, name)[i], name
            assert desk.book.buy_and_hold(0) == batch.book.buy_and_hold()[i]
            assert desk.book.buy_and_hold_one(0) == batch.book.buy_and_hold()[i]
            np.testing.assert_array_equal(desk.book.action_masks(0), batch.book.action_masks()[i])
            position = desk.book.position.item(0)
            np.testing.assert_array_equal(
                desk.book.tables.action_mask_one(position), batch.book.action_masks()[i]
            )


@pytest.mark.parametrize(
    ("observation", "observe_regime", "user_data"),
    [("features", True, False), ("features", False, True), ("index", True, False), ("index", False, True)],
)
def test_a_market_traders_whole_path_observations_are_its_step_by_step_ones(
    observation: str, observe_regime: bool, user_data: bool
) -> None:
    """``observation_one`` computes a path's observations once, at its first call after a reset;
    ``observations`` computes them one window a step. Every position and steps-left value, every step."""
    prices = generate_prices(900, seed=4) if user_data else None
    env = TradingEnv(prices=prices, split="all", observation=observation, observe_regime=observe_regime)
    config = env.config
    stream = MarketPaths(3, env.source, config, observe_regime)
    rng = np.random.default_rng(8)
    positions = range(config.min_position, config.max_position + 1)
    for episode in range(3):
        # The middle episode resets one trader by number: its cached path goes, the others' stay.
        traders = [1] if episode == 1 else [0, 1, 2]
        stream.reset(1, None, rng) if episode == 1 else stream.reset(ALL, 3, rng)
        for t in range(config.episode_length + 1):
            for trader, position in itertools.product(traders, positions):
                steps_left = config.episode_length - t
                expected = stream.observations(trader, np.int64(position), np.int64(steps_left))
                got = stream.observation_one(trader, position, steps_left)
                _assert_same_observation(got, expected)
            if t < config.episode_length:
                if episode == 1:
                    assert stream.advance_one(1, rng) == tuple(
                        stream.paths[1, [t + config.window, t + config.window + 1]]
                    )
                else:
                    stream.advance(ALL, 3, rng)
    with pytest.raises(RuntimeError, match="episode is over"):
        stream.advance_one(0, rng)


def _assert_same_observation(got: object, expected: object) -> None:
    if isinstance(got, np.ndarray):
        assert isinstance(expected, np.ndarray)
        assert got.dtype == expected.dtype
        assert got.tobytes() == expected.tobytes()
    else:
        assert type(got) is int
        assert got == expected


class _Replay:
    """Hands out given uniforms one at a time, as ``Generator.random()`` would."""

    def __init__(self, uniforms: np.ndarray) -> None:
        self._uniforms = iter(uniforms.tolist())

    def random(self, size: None = None) -> float:
        assert size is None
        return next(self._uniforms)
