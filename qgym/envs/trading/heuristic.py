"""The market rungs' hand-written policy: the bar a learner must clear where no exact optimum is known."""

from __future__ import annotations

from typing import Any

import numpy as np

from qgym.envs.trading.rules import BUY, HOLD, SELL, TradingConfig

__all__ = ["TrendFollower"]


class TrendFollower:
    """Ride the trend: long in a rally, short in a slump (when the regime is observed), flat while it
    ranges; without the regime, follow the mean of the latest volatility-scaled returns beyond
    ``threshold``, keeping the position in between. (A z-score mean-reversion band was tried first:
    it loses to holding cash on both market rungs.)

    It reads the ``features`` observation (:func:`~qgym.envs.trading.rules.market_features`).
    """

    def __init__(self, config: TradingConfig, regime_observed: bool = False, threshold: float = 0.5) -> None:
        if config.observation != "features":
            raise ValueError(
                "TrendFollower reads the 'features' observation of a trading env, and this one observes "
                f"{config.observation!r}: make the env with observation='features'"
            )
        self.n_returns = config.n_returns
        self.max_position = config.max_position
        self.lowest = config.min_position
        self.regime_observed = regime_observed
        self.threshold = float(threshold)

    def __call__(self, observation: Any, step: int = 0) -> int:
        """The action for one feature observation (``step`` is not used)."""
        features = np.asarray(observation, dtype=np.float64)
        position = round(features[self.n_returns + 1] * self.max_position)
        target = position
        regime = int(np.argmax(features[self.n_returns + 3 :])) if self.regime_observed else 0
        if self.regime_observed and regime != 0:
            target = self.max_position if regime == 1 else self.lowest
        elif not self.regime_observed:
            momentum = float(features[: self.n_returns].mean())
            if momentum > self.threshold:
                target = self.max_position
            elif momentum < -self.threshold:
                target = self.lowest
        else:
            target = 0
        if target > position:
            return BUY
        return SELL if target < position else HOLD
