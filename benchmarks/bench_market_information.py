"""What the hidden-regime market rung lets a policy earn: the trend heuristic against policies that see more.

    python benchmarks/bench_market_information.py [--episodes 300]

All policies play the same seeded episodes of ``qgym/Trading-MarketHidden-v0`` (paired, as
``qgym.training.evaluate`` does); each row shows its mean return and its paired difference to the
env family's heuristic. The rows that beat the heuristic by far use what the observation does
not carry: the true regime (read from the env's internals), or a Bayes filter over the whole price
history that knows the process, with or without its anchor (the level the ranging regime reverts to).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from qgym.envs.trading import PriceProcess
from qgym.training import episode_returns, heuristic_for

ENV_ID = "qgym/Trading-MarketHidden-v0"
_HOLD, _BUY, _SELL = 0, 1, 2
_JUMP_RATE = 0.02  # the rung's registered jump_rate


def main(argv: list[str] | None = None) -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--seed", type=int, default=50_000)
    args = parser.parse_args(argv)

    env = gym.make(ENV_ID)
    stream: Any = env.unwrapped.desk.stream  # type: ignore[attr-defined]  # the hidden regime, for the oracle
    policies: dict[str, Callable[[Any, int], int]] = {
        "trend heuristic": heuristic_for(env),
        "hold cash": lambda *_: _HOLD,
        "Bayes filter, trend only (no anchor)": BayesFilter(env, use_anchor=False),
        "Bayes filter knowing the anchor": BayesFilter(env, use_anchor=True),
        "regime oracle (long rally, short slump, flat ranging)": lambda obs, t: _towards(
            obs, {0: 0, 1: 1, 2: -1}[int(stream.path_regimes[0, stream.now[0]])]
        ),
    }
    results = {
        name: episode_returns(env, policy, args.episodes, args.seed) for name, policy in policies.items()
    }
    heuristic = results["trend heuristic"]
    print(f"{ENV_ID}, {args.episodes} paired episodes (seeds {args.seed}..)\n")
    print("| policy | mean return | minus heuristic (s.e.) |")
    print("|---|---:|---:|")
    for name, returns in results.items():
        difference = returns - heuristic
        stderr = difference.std(ddof=1) / math.sqrt(len(difference))
        print(f"| {name} | {returns.mean():.1f} | {difference.mean():+.1f} ({stderr:.1f}) |")
    return 0


def _towards(observation: Any, target: int) -> int:
    position = round(float(np.asarray(observation)[-2]))  # features: [..., position, steps left]
    return _BUY if target > position else _SELL if target < position else _HOLD


class BayesFilter:
    """Filter the three regimes from every price since the path began (the process's own
    parameters), then hold the sign of the expected next log return beyond ``threshold``."""

    def __init__(self, env: gym.Env[Any, Any], use_anchor: bool, threshold: float = 0.0005) -> None:
        self.base: Any = env.unwrapped
        self.process = PriceProcess()
        self.use_anchor = use_anchor
        self.threshold = threshold
        self._drifts: list[float] = []

    def __call__(self, observation: Any, step: int) -> int:
        if step == 0:  # a new episode: filter its whole path once
            self._drifts = self._expected_drifts(np.log(np.asarray(self.base.price_path)))
        drift = self._drifts[self.base.desk.stream.now[0]]  # uses prices up to now only
        target = 1 if drift > self.threshold else -1 if drift < -self.threshold else 0
        return _towards(observation, target)

    def _expected_drifts(self, log_prices: np.ndarray) -> list[float]:
        p = self.process
        leave = p.regime_switch
        transition = np.array(
            [[1 - leave, leave / 2, leave / 2], [leave, 1 - leave, 0], [leave, 0, 1 - leave]]
        )
        scales = np.array([p.volatility, p.trend_volatility, p.trend_volatility])
        jumpy = np.sqrt(scales**2 + p.jump_size**2)
        belief = p.stationary_regimes()
        drifts = []
        for t, level in enumerate(log_prices):
            means = np.array([p.reversion * (math.log(p.start) - level), p.trend, -p.trend])
            expected = means.copy()
            if not self.use_anchor:
                expected[0] = 0.0
            drifts.append(float(belief @ expected))
            if t + 1 < len(log_prices):
                step = log_prices[t + 1] - level
                likelihood = (1 - _JUMP_RATE) * _normal(step, means, scales) + _JUMP_RATE * _normal(
                    step, means, jumpy
                )
                belief = belief * likelihood
                belief = belief / belief.sum() @ transition
        return drifts


def _normal(x: float, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return np.asarray(np.exp(-0.5 * ((x - mean) / scale) ** 2) / scale)


if __name__ == "__main__":
    sys.exit(main())
