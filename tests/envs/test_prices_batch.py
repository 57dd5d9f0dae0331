"""``PriceProcess.simulate_batch`` gives, path for path, exactly what ``simulate`` gives."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from qgym.envs.prices import PriceProcess

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
