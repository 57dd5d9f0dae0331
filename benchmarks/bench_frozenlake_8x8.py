"""Sample efficiency on slippery FrozenLake 8x8, measured exactly with ``qgym.planning``.

Every ``--every`` steps the greedy policy's success probability within the env's 200-step limit is
computed exactly (no sampling) and divided by the optimal stationary policy's (0.863). Per seed the
table shows when it first reaches 95%, from when on it stays at or above 95% until the end of
training, and the final ratio; constant and visit-count step sizes side by side.

    python benchmarks/bench_frozenlake_8x8.py --seeds 8 --steps 1000000
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.logger import Logger

from qgym import planning
from qgym.agents import QLearning
from qgym.training.callbacks import ExactReturnCallback

PRESETS: dict[str, dict[str, Any]] = {
    "visit-count n^-0.6, eps 1->0.5": {
        "learning_rate": 0.0,
        "visit_decay": 0.6,
        "exploration_fraction": 0.05,
        "exploration_initial_eps": 1.0,
        "exploration_final_eps": 0.5,
    },
    "visit-count n^-0.6, eps 1->0.3": {
        "learning_rate": 0.0,
        "visit_decay": 0.6,
        "exploration_fraction": 0.05,
        "exploration_initial_eps": 1.0,
        "exploration_final_eps": 0.3,
    },
    "constant alpha 0.1, eps 0.1": {
        "learning_rate": 0.1,
        "exploration_fraction": 0.0,
        "exploration_initial_eps": 0.1,
        "exploration_final_eps": 0.1,
    },
}


def run(preset: dict[str, Any], seed: int, steps: int, every: int, optimum: float) -> dict[str, Any]:
    env = gym.make("FrozenLake8x8-v1")
    tracker = ExactReturnCallback(env, every, horizon=200)
    model = QLearning("TabularPolicy", env, gamma=0.99, seed=seed, **preset)
    model.set_logger(Logger(folder=None, output_formats=[]))  # silent, and no log folder
    start = time.perf_counter()
    model.learn(steps, callback=tracker)
    seconds = time.perf_counter() - start
    checks = [step for step, _ in tracker.history]
    ratios = np.array([success for _, success in tracker.history]) / optimum
    above = ratios >= 0.95
    first = checks[int(np.argmax(above))] if above.any() else None
    holds = next((checks[i] for i in range(len(above)) if above[i:].all()), None)
    return {"first": first, "holds": holds, "final": ratios[-1], "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=10_000)
    parser.add_argument("--preset", choices=sorted(PRESETS), action="append")
    args = parser.parse_args()
    mdp = planning.model_of(gym.make("FrozenLake8x8-v1"))
    policy = planning.value_iteration(mdp, gamma=0.99).policy
    optimum = planning.policy_return(mdp, policy, horizon=200)
    print(f"optimal success within 200 steps: {optimum:.4f}; 95% of it: {0.95 * optimum:.4f}")
    print(f"{'preset':34} {'seed':>4} {'first 95%':>10} {'holds from':>11} {'final':>6} {'s':>6}")
    for name in args.preset or list(PRESETS):
        results = [run(PRESETS[name], seed, args.steps, args.every, optimum) for seed in range(args.seeds)]
        for seed, r in enumerate(results):
            first, holds = str(r["first"]), str(r["holds"])
            print(f"{name:34} {seed:>4} {first:>10} {holds:>11} {r['final']:>6.3f} {r['seconds']:>6.1f}")
        held = [r["holds"] for r in results if r["holds"] is not None]
        median = statistics.median(held) if len(held) == len(results) else "n/a (some never held)"
        print(
            f"{name:34} held 95% to the end in {len(held)}/{len(results)} seeds; median holds-from {median}"
        )


if __name__ == "__main__":
    main()
