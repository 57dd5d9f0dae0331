"""The optimal policy's expected season accounts on the exact farm rungs, computed, not sampled.

Every count of the accounts is a sum over the season of a per-step quantity whose expectation given
the state and the action is known: a harvest is harvesting a ripe crop; rain waters each dry crop
with probability ``p_rain``; a dry crop withers with ``(1 - p_rain) * p_wither``; a ripe one rots with
``p_rot``. The expected sum of such a quantity under a policy is its value as a reward
(:func:`qgym.expectations.policy_totals`), so the optimal policy's expected harvests, losses, seeds,
waterings, costs, revenue and profit are exact; the efficiency is the ratio of the expected totals.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import NDArray

from qgym import planning
from qgym.envs.farm.accounting import (
    CLEARED,
    FARM_FIGURES,
    HARVESTED,
    NOTE,
    PLANTED,
    TITLE,
    WATERED,
    work_events,
)
from qgym.envs.farm.model import model_for
from qgym.envs.farm.rules import Crop, FarmConfig, decode_states
from qgym.envs.interface import FieldReport, Figure
from qgym.expectations import policy_totals

__all__ = ["MAX_EXACT_STATES", "optimal_farm_report"]

MAX_EXACT_STATES = 100_000
"""Expected accounts are computed for farms up to this many states (the 2x2 field's 9,604; the 2x3
field's 705,894 would take minutes)."""


@functools.lru_cache(maxsize=8)
def optimal_farm_report(config: FarmConfig, horizon: int) -> FieldReport | None:
    """The exact optimal policy's expected accounts over a season of ``horizon`` days, or None for a
    field with no exact model or more than :data:`MAX_EXACT_STATES` states."""
    if config.n_plots > 6 or config.n_states > MAX_EXACT_STATES:
        return None
    model = model_for(config)
    policy = planning.backward_induction(model, horizon).policy
    totals = policy_totals(model, policy, horizon, _quantities(config))
    harvests, watered, planted = totals["harvests"], totals["watered"], totals["planted"]
    costs = planted * config.plant_cost + watered * config.water_cost
    revenue = harvests * config.harvest_reward
    lost = totals["withered"] + totals["rotted"]
    values = totals | {
        "revenue": revenue,
        "costs": costs,
        "profit": revenue - costs,
        "water_use_efficiency": harvests / watered if watered > 0 else None,
        "lost": lost,
        "standing": planted - harvests - lost,
    }
    figures = tuple(Figure(spec, values[spec.key], how="exact") for spec in FARM_FIGURES)
    source = (
        f"backward induction over a {horizon}-day season; its expected accounts, exact from the model "
        "(efficiency: expected harvests over expected waterings by hand)"
    )
    return FieldReport(TITLE, figures, source, NOTE)


def _quantities(config: FarmConfig) -> dict[str, NDArray[np.float64]]:
    """Each count's expectation for every (state, action): the farmer's work, then the weather."""
    model = model_for(config)
    after, _ = model.after_action()
    n_states, n_actions = after.shape
    crops, cells = decode_states(np.arange(n_states), config)
    under = crops[np.arange(n_states), cells]
    events = np.asarray(work_events())[:, under].T  # (S, A)
    worked, _ = decode_states(after.reshape(-1), config)
    dry = ((worked == Crop.SEED_DRY) | (worked == Crop.GROWING_DRY)).sum(axis=1).reshape(n_states, n_actions)
    ripe = (worked == Crop.RIPE).sum(axis=1).reshape(n_states, n_actions)
    rain = config.p_rain
    return {
        "harvests": (events == HARVESTED).astype(np.float64),
        "planted": (events == PLANTED).astype(np.float64),
        "watered": (events == WATERED).astype(np.float64),
        "cleared": (events == CLEARED).astype(np.float64),
        "rain_waterings": rain * dry,
        "rainy_days": np.full((n_states, n_actions), rain),
        "withered": (1 - rain) * config.p_wither * dry,
        "rotted": config.p_rot * ripe,
    }
