"""Rules, exact model and arguments of the grid farm."""

from __future__ import annotations

import itertools
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qgym  # noqa: F401 - registers the envs
from qgym import planning
from qgym.envs import KNOWN_OPTIMA
from qgym.envs.farm.env import GridFarmEnv
from qgym.envs.farm.model import FarmModel
from qgym.envs.farm.rules import Action, Crop, FarmConfig, act, nature_matrices

FARM_OPTIMA = {env_id: value for env_id, value in KNOWN_OPTIMA.items() if "GridFarm" in env_id}


def _exact_optimum(env_id: str) -> float:
    env = gym.make(env_id)
    model = planning.model_of(env)
    solution = planning.backward_induction(model, env.spec.max_episode_steps)  # type: ignore[union-attr]
    return planning.expected_return(model, solution.values)


def _act_one(crops: list[int], cell: int, action: Action, config: FarmConfig) -> tuple[list[int], int, float]:
    new_crops, cells, rewards = act(
        np.array([crops], dtype=np.int8), np.array([cell]), np.array([action], dtype=np.int64), config
    )
    return new_crops[0].tolist(), int(cells[0]), float(rewards[0])


@pytest.fixture(scope="module")
def optima() -> dict[str, float]:
    return {env_id: _exact_optimum(env_id) for env_id in FARM_OPTIMA}


def test_registered_optima_and_thresholds_match_exact_planning(optima: dict[str, float]) -> None:
    assert len(FARM_OPTIMA) >= 4
    for env_id, recorded in FARM_OPTIMA.items():
        assert optima[env_id] == pytest.approx(recorded, abs=5e-5), env_id
        assert gym.spec(env_id).reward_threshold == round(0.95 * recorded, 2)


def test_a_larger_field_is_worth_more(optima: dict[str, float]) -> None:
    stochastic = [env_id for env_id in FARM_OPTIMA if "Det" not in env_id]
    sizes = [np.prod([int(n) for n in env_id.split("-")[1].split("x")]) for env_id in stochastic]
    ordered = [optima[env_id] for _, env_id in sorted(zip(sizes, stochastic, strict=True))]
    assert len(ordered) >= 4
    assert all(later > earlier * 1.05 for earlier, later in itertools.pairwise(ordered)), ordered


def test_deterministic_farm_cycles_plant_water_water_harvest() -> None:
    env = gym.make("qgym/GridFarm-1x1-Det-v0")
    env.reset(seed=0)
    cycle = [Action.PLANT, Action.WATER, Action.WATER, Action.HARVEST]
    rewards = [env.step(action)[1] for action in cycle * 3]
    assert rewards == [-1.0, -0.5, -0.5, 10.0] * 3
    full_cycles_in_a_season = 50 // len(cycle)  # the 2 spare days cannot finish a crop
    assert sum(rewards) / 3 * full_cycles_in_a_season == KNOWN_OPTIMA["qgym/GridFarm-1x1-Det-v0"]


def test_harvesting_a_ripe_crop_pays_and_clears_the_plot() -> None:
    config = FarmConfig(rows=1, cols=2)
    crops, cell, reward = _act_one([Crop.RIPE, Crop.RIPE], 1, Action.HARVEST, config)
    assert (crops, cell, reward) == ([Crop.RIPE, Crop.EMPTY], 1, config.harvest_reward)


def test_harvesting_a_dead_plot_clears_it_for_free() -> None:
    crops, _, reward = _act_one([Crop.DEAD], 0, Action.HARVEST, FarmConfig(rows=1, cols=1))
    assert (crops, reward) == ([Crop.EMPTY], 0.0)


def test_planting_costs_and_seeds_only_an_empty_plot() -> None:
    config = FarmConfig(rows=1, cols=1, plant_cost=2.5)
    assert _act_one([Crop.EMPTY], 0, Action.PLANT, config) == ([Crop.SEED_DRY], 0, -2.5)
    assert _act_one([Crop.GROWING_DRY], 0, Action.PLANT, config) == ([Crop.GROWING_DRY], 0, 0.0)


def test_watering_wets_a_dry_crop_and_is_free_when_useless() -> None:
    config = FarmConfig(rows=1, cols=1, water_cost=0.25)
    assert _act_one([Crop.SEED_DRY], 0, Action.WATER, config) == ([Crop.SEED_WET], 0, -0.25)
    assert _act_one([Crop.GROWING_DRY], 0, Action.WATER, config) == ([Crop.GROWING_WET], 0, -0.25)
    for stage in (Crop.EMPTY, Crop.SEED_WET, Crop.RIPE, Crop.DEAD):
        assert _act_one([stage], 0, Action.WATER, config) == ([stage], 0, 0.0)


def test_walking_off_the_field_leaves_the_farmer_in_place() -> None:
    config = FarmConfig(rows=2, cols=3)
    empty = [Crop.EMPTY] * 6
    assert _act_one(empty, 0, Action.NORTH, config)[1] == 0
    assert _act_one(empty, 0, Action.WEST, config)[1] == 0
    assert _act_one(empty, 0, Action.EAST, config)[1] == 1
    assert _act_one(empty, 0, Action.SOUTH, config)[1] == 3
    assert _act_one(empty, 5, Action.SOUTH, config)[1] == 5


def test_rain_wets_and_may_grow_every_planted_crop_but_never_empties_or_revives() -> None:
    dry_day, rainy_day = nature_matrices(FarmConfig())
    for stage in (Crop.SEED_DRY, Crop.GROWING_DRY):
        assert rainy_day[stage, Crop.DEAD] == 0.0
        assert dry_day[stage, Crop.DEAD] == pytest.approx(FarmConfig().p_wither)
    assert rainy_day[Crop.SEED_DRY, Crop.GROWING_WET] == pytest.approx(FarmConfig().p_grow)
    assert rainy_day[Crop.GROWING_DRY, Crop.RIPE] == pytest.approx(FarmConfig().p_grow)
    for matrix in (dry_day, rainy_day):
        assert matrix[Crop.EMPTY, Crop.EMPTY] == 1.0
        assert matrix[Crop.DEAD, Crop.DEAD] == 1.0


probability = st.floats(0.0, 1.0)


@settings(max_examples=60, deadline=None)
@given(probability, probability, probability, probability, probability)
def test_nature_matrices_are_stochastic_for_any_rates(
    p_rain: float, p_grow: float, p_evap: float, p_wither: float, p_rot: float
) -> None:
    config = FarmConfig(p_rain=p_rain, p_grow=p_grow, p_evap=p_evap, p_wither=p_wither, p_rot=p_rot)
    for matrix in nature_matrices(config):
        assert np.all(matrix >= 0)
        np.testing.assert_allclose(matrix.sum(axis=1), 1.0)


def test_factored_backup_equals_the_toy_text_model() -> None:
    env = GridFarmEnv(rows=1, cols=2)
    tabular = planning.TabularModel.from_toy_text(env.P, env.initial_state_distrib)
    factored = env.transition_model()
    values = np.random.default_rng(0).normal(size=factored.n_states)
    np.testing.assert_allclose(factored.backup(values, 0.9), tabular.backup(values, 0.9), atol=1e-12)


def test_factored_planning_on_2x3_agrees_with_enumerated_outcomes() -> None:
    model = FarmModel(FarmConfig(rows=2, cols=3))
    values = np.random.default_rng(1).normal(size=model.n_states)
    q = model.backup(values, 0.95)
    for state in np.random.default_rng(2).integers(model.n_states, size=5):
        for action in range(model.n_actions):
            expected = sum(p * (r + 0.95 * values[s]) for p, s, r, _ in model.outcomes(int(state), action))
            assert q[state, action] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("obs_mode", ["index", "factored", "grid"])
def test_every_observation_mode_describes_the_same_state(obs_mode: str) -> None:
    env = GridFarmEnv(rows=2, cols=2, obs_mode=obs_mode)
    env.reset(seed=4)
    for action in [Action.PLANT, Action.EAST, Action.PLANT, Action.WATER, Action.SOUTH]:
        obs, *_ = env.step(action)
    crops, (row, col) = env.crops, env.agent_cell
    if obs_mode == "index":
        assert obs == env.state_index
        decoded, cell = env.transition_model().decode(obs)
        assert decoded.tolist() == crops.tolist()
        assert cell == row * 2 + col
    elif obs_mode == "factored":
        assert obs.tolist() == [*crops.tolist(), row, col]
    else:
        planes = obs.reshape(env.grid_shape)
        assert planes.sum() == 5
        assert planes[7, row, col] == 1.0
        assert planes[:7].argmax(axis=0).reshape(-1).tolist() == crops.tolist()


def test_action_mask_marks_exactly_the_actions_that_change_something() -> None:
    env = GridFarmEnv(rows=2, cols=2)
    env.reset(seed=0)
    for _ in range(40):
        state = env.state_index
        mask = env.action_masks()
        for action in range(8):
            env.state_index = state
            crops, cell, _ = _act_one(env.crops.tolist(), env.cell, Action(action), env.config)
            changes = (crops, cell) != (env.crops.tolist(), env.cell)
            assert bool(mask[action]) == (changes or action == Action.WAIT)
        env.state_index = state
        env.step(int(env.np_random.integers(8)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rows": -1}, r"rows must be an integer from 1 to 32, got -1"),
        ({"cols": 0}, r"cols must be an integer from 1 to 32, got 0"),
        ({"rows": 2.5}, r"rows must be an integer"),
        ({"rows": True}, r"rows must be an integer"),
        ({"p_rain": 1.5}, r"p_rain must be a probability in \[0, 1\], got 1.5"),
        ({"p_grow": -0.1}, r"p_grow must be a probability in \[0, 1\]"),
        ({"p_rot": float("nan")}, r"p_rot must be a probability"),
        ({"plant_cost": -1.0}, r"plant_cost must be a finite number >= 0"),
        ({"harvest_reward": 0.0}, r"harvest_reward must be a finite number > 0"),
        ({"obs_mode": "pixels"}, r"obs_mode must be one of index, factored, grid; got 'pixels'"),
        ({"render_mode": "video"}, r"render_mode must be None or one of human, rgb_array, ansi"),
        ({"rows": 32, "cols": 32}, r"obs_mode 'index' cannot number the states"),
    ],
)
def test_bad_arguments_raise_value_errors_naming_them(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GridFarmEnv(**kwargs)


def test_an_unknown_argument_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="p_snow"):
        GridFarmEnv(p_snow=0.1)


def test_fields_too_large_for_planning_say_so() -> None:
    env = gym.make("qgym/GridFarm-3x3-v0")
    with pytest.raises(ValueError, match="3x3 field has no exact model"):
        planning.model_of(env)
    with pytest.raises(ValueError, match="too many for a toy-text dict"):
        GridFarmEnv(rows=2, cols=3).P  # noqa: B018 - the property raises


def test_frame_shows_the_farmer_in_its_colour_on_its_cell() -> None:
    env = GridFarmEnv(rows=2, cols=3, render_mode="rgb_array")
    env.reset(seed=5)
    frame = env.render()
    row, col = env.agent_cell
    assert tuple(frame[row * 84 + 2, col * 84 + 2]) == (40, 110, 235)
    other_row, other_col = (row + 1) % 2, col
    assert tuple(frame[other_row * 84 + 2, other_col * 84 + 2]) != (40, 110, 235)


def test_ansi_picture_brackets_the_farmer_and_shows_the_status() -> None:
    env = GridFarmEnv(rows=1, cols=2, render_mode="ansi")
    env.state_index = 0
    env.reset(seed=0)
    env.state_index = FarmModel(env.config).encode(np.array([Crop.RIPE, Crop.EMPTY]), 1)
    picture = env.render()
    assert picture.splitlines()[1] == " * [.]"
    assert picture.startswith("day 0  return +0.0")
