"""A farm's season in its accounts: by hand on scripted seasons, against an independent recount from the
crops, against the return, and the optimal policy's exact expectations against its played seasons."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from qgym import planning
from qgym.envs.farm import rules
from qgym.envs.farm.accounting import FARM_FIGURES, farm_report
from qgym.envs.farm.rules import Action, Crop

PLANT, WATER, HARVEST, WAIT = int(Action.PLANT), int(Action.WATER), int(Action.HARVEST), int(Action.WAIT)


def _play(env: gym.Env[Any, Any], actions: list[int], seed: int = 0) -> dict[str, Any]:
    env.reset(seed=seed)
    for action in actions:
        env.step(action)
    return env.unwrapped.episode_metrics()


def test_a_deterministic_season_by_hand() -> None:
    env = gym.make("qgym/GridFarm-1x1-Det-v0")
    # Plant (1), water the dry seed (0.5), wait, water the dry growing crop (0.5), wait, harvest the
    # ripe crop (+10), harvest the empty plot (nothing).
    figures = _play(env, [PLANT, WATER, WAIT, WATER, WAIT, WAIT, HARVEST, HARVEST])
    assert figures == {
        "harvests": 1.0,
        "revenue": 10.0,
        "planted": 1.0,
        "watered": 2.0,
        "rain_waterings": 0.0,
        "rainy_days": 0.0,
        "costs": 2.0,
        "profit": 8.0,
        "water_use_efficiency": 0.5,
        "lost": 0.0,
        "withered": 0.0,
        "rotted": 0.0,
        "standing": 0.0,
    }


def test_rain_waters_the_dry_seed_and_a_ripe_crop_rots() -> None:
    env = gym.make("qgym/GridFarm-1x1-v0", p_rain=1.0, p_grow=1.0, p_evap=0.0, p_wither=0.0, p_rot=1.0)
    # Day 1: a dry seed, rained on, grows; day 2 it ripens; day 3 it rots; day 4 the dead plot is cleared.
    figures = _play(env, [PLANT, WAIT, WAIT, HARVEST])
    assert figures["planted"] == 1.0
    assert figures["rain_waterings"] == 1.0
    assert figures["rainy_days"] == 4.0
    assert figures["watered"] == 0.0
    assert figures["water_use_efficiency"] is None  # no water applied: undefined, not a division by 0
    assert (figures["rotted"], figures["withered"], figures["lost"], figures["harvests"]) == (
        1.0,
        0.0,
        1.0,
        0.0,
    )
    assert figures["profit"] == -1.0


def test_a_crop_that_dies_the_day_another_dead_plot_is_cleared_is_counted() -> None:
    env = gym.make("qgym/GridFarm-1x2-v0", p_rain=1.0, p_grow=1.0, p_evap=0.0, p_wither=0.0, p_rot=1.0)
    env.reset(seed=0)
    env.unwrapped.state_index = 0  # an empty field, the farmer on the west plot
    # Plant west (it grows), go east (it ripens), plant east (west rots), go west (east ripens), clear
    # the dead west plot on the very day the east one rots: the dead count stays 1, two crops rotted.
    for action in (PLANT, int(Action.EAST), PLANT, int(Action.WEST), HARVEST):
        env.step(action)
    figures = env.unwrapped.episode_metrics()
    assert (figures["rotted"], figures["planted"], figures["standing"]) == (2.0, 2.0, 0.0)


def test_a_dry_seed_withers_without_rain() -> None:
    env = gym.make("qgym/GridFarm-1x1-v0", p_rain=0.0, p_wither=1.0)
    figures = _play(env, [PLANT, WAIT])
    assert (figures["withered"], figures["rotted"], figures["standing"]) == (1.0, 0.0, 0.0)


def _recount(env: gym.Env[Any, Any], actions: list[int], seed: int) -> tuple[dict[str, float], float]:
    """The accounts recounted from the crops before and after each step with the batched rules, and
    the return."""
    base = env.unwrapped
    env.reset(seed=seed)
    counts = dict.fromkeys(("planted", "watered", "harvests", "rain", "withered", "rotted"), 0.0)
    total = 0.0
    for action in actions:
        before, cell = base.crops[None], np.array([base.cell])
        acted, _, _ = rules.act(before, cell, np.array([action]), base.config)
        under = int(before[0, cell[0]])
        _, reward, _, _, info = env.step(action)
        total += float(reward)
        after = base.crops
        counts["planted"] += action == PLANT and under == Crop.EMPTY
        counts["watered"] += action == WATER and under in (Crop.SEED_DRY, Crop.GROWING_DRY)
        counts["harvests"] += action == HARVEST and under == Crop.RIPE
        dry = np.isin(acted[0], (Crop.SEED_DRY, Crop.GROWING_DRY))
        if info["rained"]:
            counts["rain"] += int(dry.sum())
        died = (after == Crop.DEAD) & (acted[0] != Crop.DEAD)
        counts["rotted"] += int((died & (acted[0] == Crop.RIPE)).sum())
        counts["withered"] += int((died & dry).sum())
    return counts, total


@pytest.mark.parametrize("env_id", ["qgym/GridFarm-1x1-v0", "qgym/GridFarm-2x2-v0", "qgym/GridFarm-3x3-v0"])
def test_the_ledger_agrees_with_a_recount_from_the_crops_and_with_the_return(env_id: str) -> None:
    env = gym.make(env_id)
    rng = np.random.default_rng(1)
    for seed in range(4):
        # Mostly work, so crops are planted, watered, harvested and lost.
        actions = rng.choice(
            8, size=env.spec.max_episode_steps, p=[0.1] * 4 + [0.2, 0.2, 0.15, 0.05]
        ).tolist()
        counts, total = _recount(env, actions, seed)
        figures = _play(env, actions, seed)
        assert figures["planted"] == counts["planted"]
        assert figures["watered"] == counts["watered"]
        assert figures["harvests"] == counts["harvests"]
        assert figures["rain_waterings"] == counts["rain"]
        assert figures["withered"] == counts["withered"]
        assert figures["rotted"] == counts["rotted"]
        assert figures["profit"] == pytest.approx(total)
        assert figures["planted"] == figures["harvests"] + figures["lost"] + figures["standing"]


def test_the_last_day_of_the_season_carries_the_accounts_in_its_info() -> None:
    env = gym.make("qgym/GridFarm-1x2-v0")
    env.reset(seed=0)
    for day in range(1, 101):
        _, _, _, truncated, info = env.step(PLANT if day % 3 else WATER)
        assert ("episode_metrics" in info) == (day == 100) == truncated
    assert info["episode_metrics"] == env.unwrapped.episode_metrics()
    assert all(value is None or np.isfinite(value) for value in info["episode_metrics"].values())


def test_over_many_seasons_the_efficiency_pools_the_totals() -> None:
    one = {spec.key: 0.0 for spec in FARM_FIGURES} | {"harvests": 3.0, "watered": 1.0}
    two = {spec.key: 0.0 for spec in FARM_FIGURES} | {"harvests": 1.0, "watered": 3.0}
    report = farm_report([one, two])
    assert report.value("water_use_efficiency") == pytest.approx(1.0)  # 4 harvests over 4 waterings
    assert report.value("harvests") == pytest.approx(2.0)
    dry = {spec.key: 0.0 for spec in FARM_FIGURES} | {"water_use_efficiency": None}
    assert farm_report([dry, dry]).value("water_use_efficiency") is None


@pytest.mark.parametrize("env_id", ["qgym/GridFarm-1x1-v0", "qgym/GridFarm-1x2-v0"])
def test_the_optimal_policys_exact_accounts_match_its_played_seasons(env_id: str) -> None:
    env = gym.make(env_id)
    reference = env.unwrapped.optimal_report(100)
    assert reference is not None
    model = planning.model_of(env)
    solution = planning.backward_induction(model, 100)
    assert reference.value("profit") == pytest.approx(planning.expected_return(model, solution.values))
    records = []
    for seed in range(400):
        env.reset(seed=seed)
        for step in range(100):
            env.step(int(solution.policy[step, planning.current_state(env)]))
        records.append(env.unwrapped.episode_metrics())
    played = env.unwrapped.field_report(records)
    for spec in FARM_FIGURES:
        mine, theirs = played.get(spec.key), reference.get(spec.key)
        assert mine is not None
        assert theirs is not None
        assert theirs.how == "exact"
        assert mine.interval is not None, spec.key
        low, high = mine.interval
        slack = max(high - low, 0.02) * 0.5
        assert low - slack <= theirs.value <= high + slack, (spec.key, mine.text(), theirs.text())  # type: ignore[operator]


def test_fields_above_2x2_have_no_exact_accounts() -> None:
    assert gym.make("qgym/GridFarm-2x3-v0").unwrapped.optimal_report(100) is None
    assert gym.make("qgym/GridFarm-4x4-v0").unwrapped.optimal_report(300) is None


def test_the_farm_groups_its_four_moves_into_one_kind_of_decision() -> None:
    kinds = gym.make("qgym/GridFarm-1x1-v0").unwrapped.action_kinds
    assert kinds == ("move", "move", "move", "move", "plant", "water", "harvest", "wait")
