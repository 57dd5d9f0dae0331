"""The synthetic price process: seeded, reverting, jumpy, validated; a batch of paths is path for path what
``simulate`` draws."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from qgym.envs.trading.prices import PriceProcess, generate_prices


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


PROCESSES = [
    {},
    {"jump_rate": 0.2},
    {"regime_switch": 0.0},
    {"regime_switch": 0.5, "reversion": 1.0, "trend": -0.01},
]


@pytest.mark.parametrize("params", PROCESSES)
def test_each_path_of_a_batch_is_the_path_simulate_draws_from_the_same_generator(
    params: dict[str, Any],
) -> None:
    process = PriceProcess(**params)
    prices, regimes = process.simulate_batch(120, [np.random.default_rng(seed) for seed in range(16)])
    assert prices.shape == regimes.shape == (16, 120)
    for seed in range(16):
        single_prices, single_regimes = process.simulate(120, np.random.default_rng(seed))
        assert prices[seed].tobytes() == single_prices.tobytes()
        assert np.array_equal(regimes[seed], single_regimes)


def test_a_batch_leaves_each_generator_where_simulate_leaves_it() -> None:
    process = PriceProcess(jump_rate=0.1)
    batched, single = np.random.default_rng(7), np.random.default_rng(7)
    process.simulate_batch(50, [batched])
    process.simulate(50, single)
    assert batched.random() == single.random()


def test_a_batch_of_paths_needs_a_positive_length() -> None:
    with pytest.raises(ValueError, match="n must be a positive number of prices"):
        PriceProcess().simulate_batch(0, [np.random.default_rng(0)])
