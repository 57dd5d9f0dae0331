"""A farm's season in its accounts: harvests, crops lost, seeds, water by hand and by rain, costs,
revenue, profit and water-use efficiency, as agriculture gyms report them.

The single env keeps a :class:`Ledger`: at each step it notes what the farmer's work did and what the
weather did (a few comparisons and list counts; entries only on days something happens), and the
figures are counted from it when asked (:meth:`Ledger.figures`). Over many seasons
(:func:`farm_report`) counts are means over seasons and the efficiency a ratio of totals, each with
its 95% bootstrap interval over seasons. The optimal policy's expected accounts come from the exact
model (:mod:`qgym.envs.farm.expected`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from qgym.envs.farm.rules import WORK_DONE, Action, Crop, FarmConfig
from qgym.envs.figures import mean_figure, ratio_figure
from qgym.envs.interface import EpisodeChart, FieldReport, Figure, FigureSpec, Panel

__all__ = ["FARM_FIGURES", "NOTE", "TITLE", "Ledger", "farm_report", "work_events"]

TITLE = "farm accounting"
NOTE = "counts of plots; money in the env's reward units"
PLANTED, WATERED, HARVESTED, CLEARED = 1, 2, 3, 4
"""What the farmer's work did, as the ledger notes it (0: nothing)."""
_DEAD, _RIPE, _SEED_DRY, _GROWING_DRY = (
    int(Crop.DEAD),
    int(Crop.RIPE),
    int(Crop.SEED_DRY),
    int(Crop.GROWING_DRY),
)

FARM_FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("harvests", "harvests", "ripe crops harvested (the yield)", quantity="crops"),
    FigureSpec("revenue", "revenue", "harvests times the harvest reward", quantity="reward units"),
    FigureSpec("planted", "seeds planted", "empty plots planted", quantity="seeds"),
    FigureSpec(
        "watered", "water by hand", "dry crops the farmer watered, one watering each", quantity="waterings"
    ),
    FigureSpec(
        "rain_waterings",
        "water by rain",
        "dry crops a rainy day watered for free, one watering each",
        quantity="waterings",
    ),
    FigureSpec("rainy_days", "rainy days", "days it rained", quantity="days"),
    FigureSpec(
        "costs",
        "costs",
        "seeds planted times the planting cost plus waterings by hand times the water cost",
        quantity="reward units",
    ),
    FigureSpec("profit", "profit", "revenue minus costs: the season's return", quantity="reward units"),
    FigureSpec(
        "water_use_efficiency",
        "water-use efficiency",
        "harvests per watering by hand; over many seasons, total harvests over total waterings by hand; "
        "undefined when no water was applied",
        quantity="harvests per watering",
    ),
    FigureSpec("lost", "crops lost", "crops that withered or rotted", quantity="crops"),
    FigureSpec("withered", "withered", "dry crops that withered on a day without rain", quantity="crops"),
    FigureSpec("rotted", "rotted", "ripe crops that rotted before the harvest", quantity="crops"),
    FigureSpec(
        "standing",
        "crops standing at the end",
        "planted crops still growing or ripe when the season ended: planted = harvests + lost + standing",
        quantity="crops",
    ),
)
"""Every farm figure, in report order, with its definition."""
_SPECS = {spec.key: spec for spec in FARM_FIGURES}


def work_events() -> tuple[tuple[int, ...], ...]:
    """``[action][crop]``: what the farmer's action does to the plot under them (0: nothing)."""
    events = np.zeros((len(Action), len(Crop)), dtype=np.int64)
    events[Action.PLANT, Crop.EMPTY] = PLANTED
    events[Action.WATER, [Crop.SEED_DRY, Crop.GROWING_DRY]] = WATERED
    events[Action.HARVEST, Crop.RIPE] = HARVESTED
    events[Action.HARVEST, Crop.DEAD] = CLEARED
    return tuple(tuple(row) for row in events.tolist())


_EVENTS = work_events()
_AFTER_WORK = tuple(tuple(row) for row in WORK_DONE.tolist())


class Ledger:
    """One farm's season as it happens: the farmer's work, the rain's waterings, the crops lost."""

    __slots__ = ("_dead", "config", "deaths", "rain", "work")

    def __init__(self, config: FarmConfig) -> None:
        self.config = config
        self.work: list[tuple[int, int]] = []
        """``(day, event)``: what the farmer's work did on a day (:data:`PLANTED` ...)."""
        self.rain: list[tuple[int, int]] = []
        """``(day, dry crops watered)`` of each rainy day."""
        self.deaths: list[tuple[int, int, int]] = []
        """``(day, withered, rotted)`` of each day crops died."""
        self._dead = 0
        """Dead plots on the field after the last step noted."""

    def clear(self) -> None:
        """Start a new season (an empty field)."""
        self.work, self.rain, self.deaths, self._dead = [], [], [], 0

    def note(
        self, day: int, before: list[int], cell: int, action: int, after: list[int], rained: bool
    ) -> None:
        """Note step ``day`` (1 for the first): the crops ``before`` the farmer worked ``cell`` with
        ``action``, the crops ``after`` the weather, and whether it rained."""
        crop = before[cell]
        event = _EVENTS[action][crop]
        if event:
            self.work.append((day, event))
        if rained:
            dry = before.count(_SEED_DRY) + before.count(_GROWING_DRY)
            dry += (event == PLANTED) - (event == WATERED)  # planting sows a dry seed; watering wets one
            self.rain.append((day, dry))
        dead = after.count(_DEAD)
        if dead == self._dead and event != CLEARED:  # the common day: no plot cleared, none died
            return
        died = dead - self._dead + (event == CLEARED)
        self._dead = dead
        if died > 0:
            acted = before.copy()
            acted[cell] = _AFTER_WORK[action][crop]
            rotted = sum(1 for was, now in zip(acted, after, strict=True) if now == _DEAD and was == _RIPE)
            self.deaths.append((day, died - rotted, rotted))

    def field_set(self, crops: Sequence[int]) -> None:
        """The field was set from outside the steps (a planner placed the env in a state): deaths
        count from it on."""
        self._dead = sum(1 for crop in crops if crop == _DEAD)

    def figures(self, crops: Sequence[int]) -> dict[str, float | None]:
        """The season's figures so far, ``crops`` the field now (for the crops standing)."""
        config = self.config
        counts = [0] * 5
        for _, event in self.work:
            counts[event] += 1
        planted, watered, harvests = counts[PLANTED], counts[WATERED], counts[HARVESTED]
        withered = sum(w for _, w, _ in self.deaths)
        rotted = sum(r for _, _, r in self.deaths)
        costs = planted * config.plant_cost + watered * config.water_cost
        revenue = harvests * config.harvest_reward
        return {
            "harvests": float(harvests),
            "revenue": revenue,
            "planted": float(planted),
            "watered": float(watered),
            "rain_waterings": float(sum(dry for _, dry in self.rain)),
            "rainy_days": float(len(self.rain)),
            "costs": costs,
            "profit": revenue - costs,
            "water_use_efficiency": harvests / watered if watered else None,
            "lost": float(withered + rotted),
            "withered": float(withered),
            "rotted": float(rotted),
            "standing": float(sum(1 for crop in crops if 0 < crop < _DEAD)),
        }

    def chart(self, days: int, title: str) -> EpisodeChart:
        """The season day by day: money, water by hand and by rain, harvests and losses (cumulative)."""
        config = self.config
        series = {name: np.zeros(days + 1) for name in ("planted", "watered", "harvests", "rain", "lost")}
        names = {PLANTED: "planted", WATERED: "watered", HARVESTED: "harvests"}
        for day, event in self.work:
            if event in names and day <= days:
                series[names[event]][day] += 1
        for day, dry in self.rain:
            if day <= days:
                series["rain"][day] += dry
        for day, withered, rotted in self.deaths:
            if day <= days:
                series["lost"][day] += withered + rotted
        total = {name: np.cumsum(values) for name, values in series.items()}
        revenue = total["harvests"] * config.harvest_reward
        costs = total["planted"] * config.plant_cost + total["watered"] * config.water_cost

        def line(label: str, values: Any) -> tuple[str, tuple[float, ...]]:
            return label, tuple(float(v) for v in values)

        return EpisodeChart(
            title,
            "day",
            (
                Panel(
                    "money so far",
                    "reward units",
                    (line("revenue", revenue), line("costs", costs), line("profit", revenue - costs)),
                ),
                Panel(
                    "water so far",
                    "waterings",
                    (line("by hand", total["watered"]), line("by rain", total["rain"])),
                ),
                Panel(
                    "crops so far",
                    "crops",
                    (
                        line("planted", total["planted"]),
                        line("harvested", total["harvests"]),
                        line("lost", total["lost"]),
                    ),
                ),
            ),
        )


def farm_report(records: Sequence[Mapping[str, Any]], source: str = "") -> FieldReport:
    """The farm figures of the seasons whose records (:meth:`Ledger.figures`) are given: one season's
    own, or over many the means (water-use efficiency: total harvests over total waterings by hand)
    with 95% bootstrap intervals over seasons."""
    if len(records) == 1:
        figures = tuple(Figure(spec, _number(records[0].get(spec.key))) for spec in FARM_FIGURES)
        return FieldReport(TITLE, figures, source or "one season", NOTE)
    return FieldReport(
        TITLE,
        tuple(
            ratio_figure(spec, records, "harvests", "watered")
            if spec.key == "water_use_efficiency"
            else mean_figure(spec, records)
            for spec in FARM_FIGURES
        ),
        source,
        NOTE,
    )


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
