"""Steps per second of SB3's DQN with one torch thread against torch's default, same run.

SB3's docs train ``DQN("MlpPolicy", env)`` as it comes; torch then uses one thread per core. On a
small network the threads cost more in hand-offs than they gain. The runs alternate (default, one
thread, default, ...) on ``qgym/GridFarm-1x1-v0`` with the quick start's DQN, and the table gives
medians and the ratio measured in this process (the machine is shared: trust the ratio).

    python benchmarks/bench_torch_threads.py [--steps 5000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import torch
from stable_baselines3 import DQN
from stable_baselines3.common.logger import Logger

import qgym  # noqa: F401  (registers the qgym/ envs)

ENV_ID = "qgym/GridFarm-1x1-v0"


def steps_per_second(threads: int, steps: int, seed: int) -> float:
    """Train the docs' DQN (after 1,000 warm-up steps) with ``threads`` torch threads."""
    torch.set_num_threads(threads)
    model = DQN("MlpPolicy", gym.make(ENV_ID), learning_starts=1_000, seed=seed, device="cpu")
    model.set_logger(Logger(folder=None, output_formats=[]))
    model.learn(1_000)  # fill the buffer: from here on every 4th step trains the network
    start = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5_000, help="timed steps per run (default 5000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each setting (default 3)")
    args = parser.parse_args()
    default = torch.get_num_threads()
    timings: dict[int, list[float]] = {default: [], 1: []}
    for repeat in range(args.repeats):
        for threads in timings:
            timings[threads].append(steps_per_second(threads, args.steps, seed=repeat))
            rate = timings[threads][-1]
            print(f"run {repeat + 1}/{args.repeats}, {threads} thread(s): {rate:,.0f} steps/s")
    one, many = statistics.median(timings[1]), statistics.median(timings[default])
    print(f"\n| torch threads | DQN steps/s (median of {args.repeats}) | ratio to the default |")
    print("|---|---:|---:|")
    print(f"| {default} (default) | {many:,.0f} | 1.00 |")
    print(f"| 1 | {one:,.0f} | {one / many:.2f} |")


if __name__ == "__main__":
    main()
