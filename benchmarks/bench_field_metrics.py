"""What the field metrics cost a step, and how often the look-ahead alarm fires on an honest policy.

    python benchmarks/bench_field_metrics.py            # about 2 minutes on 2 idle cores
    python benchmarks/bench_field_metrics.py --quick    # about 40 seconds

1. **Step cost.** A farm keeps a ledger at every step; a trader computes nothing until its record is
   read (the final step's ``info["episode_metrics"]`` is computed on first read). Each env is timed
   back to back with the same env whose ledger does nothing (farm) or whose final step skips the record
   (trading), on the same actions; the ratio is the median over repeats. Also the time to compute one
   episode's figures when they are read, and the single env's speed against FrozenLake 8x8's.
2. **False alarms.** The exact optimal policy's returns are sampled from the exact model (numpy, many
   episodes at once), cut into evaluations of 100 episodes, and each evaluation's z-score
   ``(mean - optimum) / standard error`` compared with the thresholds: the share above each is the
   false-alarm rate of an honest policy, next to the normal tail the alarm's threshold was chosen by.
3. **Power.** The one-step look-ahead leak of tutorial 6 evaluated as ``qgym.training.evaluate`` does.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from scipy import stats
from timing import env_rate

import qgym  # noqa: F401  (registers the IDs)
from qgym import expectations, planning, training
from qgym.envs.farm.accounting import Ledger
from qgym.envs.trading import PeekNextMove, peeking_policy
from qgym.planning import TabularModel
from qgym.training.field_metrics import ALARM_Z

THRESHOLDS = (2.0, 3.0, 4.0, ALARM_Z)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller budgets")
    parser.add_argument("--part", choices=("all", "steps", "alarms", "power"), default="all")
    args = parser.parse_args(argv)
    seconds, repeats = (0.4, 3) if args.quick else (1.0, 5)
    evaluations = 2_000 if args.quick else 20_000
    if args.part in ("all", "steps"):
        print(step_cost_table(seconds, repeats), end="\n\n")
    if args.part in ("all", "alarms"):
        print(false_alarm_table(evaluations), end="\n\n")
    if args.part in ("all", "power"):
        print(power_line(3 if args.quick else 5))
    return 0


# --- 1. step cost -----------------------------------------------------------------------------------


def step_cost_table(seconds: float, repeats: int) -> str:
    lines = [
        "| env | steps/s with the metrics | without | ratio (median) | figures computed when read "
        "| x FrozenLake 8x8 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for env_id in (
        "qgym/GridFarm-1x2-v0",
        "qgym/GridFarm-2x2-v0",
        "qgym/GridFarm-4x4-v0",
        "qgym/Trading-Chain-v0",
        "qgym/Trading-Market-v0",
    ):
        with_rates, without_rates, frozen = [], [], []
        for _ in range(repeats):
            frozen.append(env_rate(gym.make("FrozenLake-v1", map_name="8x8"), seconds))
            with_rates.append(env_rate(gym.make(env_id), seconds))
            without_rates.append(env_rate(_without_metrics(env_id), seconds))
        ratio = statistics.median(w / o for w, o in zip(with_rates, without_rates, strict=True))
        read = _read_cost(env_id)
        versus = statistics.median(w / f for w, f in zip(with_rates, frozen, strict=True))
        lines.append(
            f"| {env_id} | {statistics.median(with_rates):,.0f} | {statistics.median(without_rates):,.0f} | "
            f"{ratio:.3f} | {read * 1e6:,.0f} us an episode | {versus:.2f} |"
        )
    return "\n".join(lines)


class _SilentLedger(Ledger):
    """A ledger that notes nothing: the farm as it stepped before its accounts."""

    __slots__ = ()

    def note(self, *args: Any) -> None:
        return None


def _without_metrics(env_id: str) -> gym.Env[Any, Any]:
    env = gym.make(env_id)
    base: Any = env.unwrapped
    if hasattr(base, "ledger"):
        base.ledger = _SilentLedger(base.config)
    else:  # a trader: its final step's record skipped (a LazyRecord that is never built)
        import qgym.envs.trading.env as trading_env

        original = trading_env.LazyRecord

        class _Skip:
            def __init__(self, compute: Callable[[], Any]) -> None:
                pass

        step = base.step

        def skipping(action: Any) -> Any:
            trading_env.LazyRecord = _Skip  # type: ignore[misc,assignment]
            try:
                return step(action)
            finally:
                trading_env.LazyRecord = original  # type: ignore[misc]

        base.step = skipping
    return env


def _read_cost(env_id: str) -> float:
    """Seconds to compute one finished episode's figures (what reading the final info costs)."""
    env = gym.make(env_id)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    done = False
    while not done:
        _, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))  # type: ignore[attr-defined]
        done = terminated or truncated
    base: Any = env.unwrapped
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < 0.3:
        base.episode_metrics()
        count += 1
    return (time.perf_counter() - start) / count


# --- 2. false alarms --------------------------------------------------------------------------------


def false_alarm_table(evaluations: int) -> str:
    """The share of honest evaluations above each threshold: the z-score with the sample's standard
    error alone, and floored by the optimal policy's exact one (what ``evaluate`` uses)."""
    lines = [
        f"| env (optimal policy, {evaluations:,} evaluations of 100 episodes) | standard error | "
        + " | ".join(f"z > {z:g}" for z in THRESHOLDS)
        + " | largest z |",
        "|---|---|" + "---:|" * len(THRESHOLDS) + "---:|",
    ]
    for env_id in (
        "qgym/Trading-Chain-v0",
        "qgym/Trading-ChainCostly-v0",
        "qgym/GridFarm-1x1-v0",
        "qgym/GridFarm-1x2-v0",
    ):
        env = gym.make(env_id)
        model = planning.model_of(env)
        if not isinstance(model, TabularModel):
            model = TabularModel.from_toy_text(env.unwrapped.P, env.unwrapped.initial_state_distrib)  # type: ignore[attr-defined]
        horizon = int(env.spec.max_episode_steps)  # type: ignore[union-attr]
        solution = planning.backward_induction(model, horizon)
        optimum = planning.expected_return(model, solution.values)
        _, variance = expectations.return_moments(model, solution.policy, horizon)
        returns = _sampled_returns(model, solution.policy, evaluations * 100, seed=1)
        groups = returns.reshape(evaluations, 100)
        sample = groups.std(axis=1, ddof=1) / 10.0
        for name, error in (("sample", sample), ("floored", np.maximum(sample, math.sqrt(variance) / 10.0))):
            z = (groups.mean(axis=1) - optimum) / error
            cells = [f"{np.mean(z > t):.1e}" for t in THRESHOLDS]
            lines.append(f"| {env_id} | {name} | " + " | ".join(cells) + f" | {z.max():.2f} |")
    tails = ", ".join(
        f"z > {t:g}: t {stats.t.sf(t, 99):.1e}, normal {stats.norm.sf(t):.1e}" for t in THRESHOLDS
    )
    lines.append(f"\nTails (Student's t with 99 d.f., normal): {tails}.")
    return "\n".join(lines)


def _sampled_returns(model: TabularModel, policy: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` returns of the time-dependent ``policy`` drawn from ``model``, all episodes at once."""
    rng = np.random.default_rng(seed)
    states = rng.choice(model.n_states, size=count, p=model.initial_distribution)
    cumulative = np.cumsum(model.probs, axis=2)
    width = model.probs.shape[2]
    last = width - 1 - np.argmax(model.probs[..., ::-1] > 0, axis=2)
    cumulative[np.arange(width) >= last[..., None]] = 2.0
    totals = np.zeros(count)
    for step in range(len(policy)):
        actions = policy[step][states].astype(np.int64)
        outcome = (cumulative[states, actions] <= rng.random(count)[:, None]).sum(axis=1)
        totals += model.rewards[states, actions, outcome]
        states = model.next_states[states, actions, outcome]
    return totals


# --- 3. power ---------------------------------------------------------------------------------------


def power_line(evaluations: int) -> str:
    scores = []
    for index in range(evaluations):
        evaluation = training.evaluate(
            peeking_policy(gym.make("qgym/Trading-Chain-v0")),
            "qgym/Trading-Chain-v0",
            100,
            seed=1_000 * index,
            env_wrapper=PeekNextMove,
            field_metrics=False,
        )
        assert evaluation.look_ahead is not None
        scores.append(evaluation.look_ahead.z)
    return (
        f"The one-step look-ahead leak on Trading-Chain-v0, {evaluations} evaluations of 100 episodes: "
        f"z from {min(scores):.1f} to {max(scores):.1f} (the alarm fires above {ALARM_Z:g}): it fired "
        f"{sum(z > ALARM_Z for z in scores)} of {evaluations} times."
    )


if __name__ == "__main__":
    raise SystemExit(main())
