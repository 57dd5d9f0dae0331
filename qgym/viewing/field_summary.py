"""The end of an episode in a field's words, for play and enjoy: the episode's figures (a portfolio's,
a farm's accounts) and the exact optimal policy's averages, and the kinds of decision its actions are."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym

from qgym.envs.interface import FieldReport, HasActionKinds, HasFieldMetrics
from qgym.training.field_metrics import episode_lines

__all__ = ["FieldSummary", "action_kinds"]


class FieldSummary:
    """An env's field figures at the end of each episode; with ``exact`` (the env has an exact model)
    the optimal policy's averages over ``horizon`` steps follow, computed once."""

    def __init__(self, env: gym.Env[Any, Any], horizon: int | None, exact: bool) -> None:
        base = env.unwrapped
        self.source: HasFieldMetrics | None = base if isinstance(base, HasFieldMetrics) else None
        self.horizon = horizon if exact else None
        self._optimal: FieldReport | None = None
        self._asked = False

    def lines(self) -> list[str]:
        """The figures of the episode the env is in now (at its end), as wrapped lines."""
        if self.source is None:
            return []
        if self.horizon is not None and not self._asked:
            self._optimal, self._asked = self.source.optimal_report(self.horizon), True
        return episode_lines(self.source.field_report([self.source.episode_metrics()]), self._optimal)


def action_kinds(env: gym.Env[Any, Any], names: Sequence[str]) -> tuple[str, ...]:
    """The kind of decision of each action (the farm's four moves are one kind), else its name."""
    base = env.unwrapped
    return base.action_kinds if isinstance(base, HasActionKinds) else tuple(names)
