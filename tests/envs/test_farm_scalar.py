"""The single farm's scalar path (farm/scalar.py) is the batched rules of farm/rules.py, value for value."""

from __future__ import annotations

import numpy as np
import pytest

from qgym.envs.farm import rules
from qgym.envs.farm.rules import N_ACTIONS, N_CROPS, FarmConfig, nature_cdf
from qgym.envs.farm.scalar import scalar_rules

CONFIGS = [
    FarmConfig(rows=1, cols=1),
    FarmConfig(rows=1, cols=2, obs_mode="factored"),
    FarmConfig(rows=2, cols=2, obs_mode="grid"),
    FarmConfig(rows=2, cols=3, p_rain=0.9, p_grow=0.6, p_evap=0.0, p_wither=1.0, p_rot=0.3),
    FarmConfig(rows=3, cols=3, obs_mode="grid", p_rain=0.0, p_grow=1.0, p_evap=1.0, p_wither=0.0, p_rot=0.0),
    FarmConfig(rows=4, cols=4, obs_mode="factored", plant_cost=0.3, water_cost=0.0, harvest_reward=7.5),
    FarmConfig(rows=1, cols=3, p_rain=1.0, p_grow=1e-17, p_evap=0.7, p_wither=0.1 + 1e-16, p_rot=1.0),
]


def _random_farms(config: FarmConfig, n: int, seed: int) -> tuple[np.ndarray, ...]:
    """Random crops, cells, actions and uniforms, a third of the uniforms exactly on a threshold."""
    rng = np.random.default_rng(seed)
    crops = rng.integers(N_CROPS, size=(n, config.n_plots)).astype(np.int8)
    cells = rng.integers(config.n_plots, size=n)
    actions = rng.integers(N_ACTIONS, size=n)
    draws = rng.random((n, 1 + config.n_plots))
    thresholds = nature_cdf(config).ravel()
    on_edge = rng.random(draws.shape) < 1 / 3
    draws[on_edge] = rng.choice(np.append(thresholds[thresholds < 1.0], [0.0, config.p_rain]), on_edge.sum())
    draws[draws >= 1.0] = 0.5
    return crops, cells, actions, draws


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.rows}x{c.cols}-{c.obs_mode}-rain{c.p_rain}")
def test_one_scalar_step_is_the_batched_step_of_that_farm(config: FarmConfig) -> None:
    crops, cells, actions, draws = _random_farms(config, 3_000, seed=config.n_plots)
    acted, next_cells, rewards = rules.act(crops, cells, actions, config)
    rain = draws[:, 0] < config.p_rain
    next_crops = rules.nature_step(acted, rain, draws[:, 1:], config)
    one = scalar_rules(config)
    for i in range(len(cells)):
        got = one.step(crops[i].tolist(), int(cells[i]), int(actions[i]), draws[i].tolist())
        assert got == (next_crops[i].tolist(), int(next_cells[i]), float(rewards[i]), bool(rain[i])), i
        assert type(got[2]) is float
        assert type(got[3]) is bool


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.rows}x{c.cols}-{c.obs_mode}")
def test_scalar_observations_and_masks_are_the_batched_ones_with_their_dtypes(config: FarmConfig) -> None:
    crops, cells, _, _ = _random_farms(config, 500, seed=1)
    observations = rules.observations(crops, cells, config)
    masks = rules.action_masks(crops, cells, config)
    one = scalar_rules(config)
    for i in range(len(cells)):
        observation = one.observation(crops[i].tolist(), int(cells[i]))
        if config.obs_mode == "index":
            assert type(observation) is int
            assert observation == observations[i]
        else:
            assert observation.dtype == observations.dtype
            assert observation.shape == observations[i].shape
            assert observation.tobytes() == observations[i].tobytes()
        mask = one.action_mask(crops[i].tolist(), int(cells[i]))
        assert mask.dtype == np.int8
        assert mask.flags.writeable
        np.testing.assert_array_equal(mask, masks[i])


@pytest.mark.parametrize("plots", [1, 2, 4, 6, 9, 16])
def test_one_draw_of_1_plus_plots_uniforms_is_what_a_batch_of_one_draws(plots: int) -> None:
    """``rules.step`` draws ``random(1)``, then ``random((1, plots))``; the single env ``random(1 + plots)``:
    the same doubles in the same order, and the generator ends in the same state."""
    for seed in range(50):
        batched, single = np.random.default_rng(seed), np.random.default_rng(seed)
        for _ in range(5):
            expected = np.concatenate([batched.random(1), batched.random((1, plots)).ravel()])
            assert single.random(1 + plots).tobytes() == expected.tobytes()
        assert single.bit_generator.state == batched.bit_generator.state


@pytest.mark.parametrize("config", CONFIGS[:4], ids=lambda c: f"{c.rows}x{c.cols}")
def test_seeded_scalar_steps_follow_the_seeded_batched_rules(config: FarmConfig) -> None:
    batched_rng, scalar_rng = np.random.default_rng(7), np.random.default_rng(7)
    crops, cells = np.zeros((1, config.n_plots), dtype=np.int8), np.zeros(1, dtype=np.int64)
    plots, cell = [0] * config.n_plots, 0
    one = scalar_rules(config)
    for action in np.random.default_rng(0).integers(N_ACTIONS, size=2_000).tolist():
        crops, cells, rewards, rain = rules.step(crops, cells, np.array([action]), batched_rng, config)
        plots, cell, reward, rained = one.step(plots, cell, action, scalar_rng.random(one.draws).tolist())
        assert (plots, cell, reward, rained) == (
            crops[0].tolist(),
            int(cells[0]),
            float(rewards[0]),
            bool(rain[0]),
        )
