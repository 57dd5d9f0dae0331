"""Steps per second of ``QLearning.learn`` against a textbook Python Q-learning loop, same env, same run.

Both learn on ``gym.make("FrozenLake8x8-v1")`` (slippery, 200-step limit) with alpha 0.1, gamma 0.99
and a constant epsilon of 0.1; the runs are interleaved and repeated, and the table reports medians
and the ratio to the textbook loop measured in this run (the machine is shared: trust ratios).

    python benchmarks/bench_qlearning_speed.py [--steps 200000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from qgym.agents import QLearning

ENV_ID = "FrozenLake8x8-v1"
ALPHA, GAMMA, EPSILON = 0.1, 0.99, 0.1


def textbook(steps: int, seed: int) -> float:
    """The loop of the slides: numpy table, argmax, epsilon-greedy, reset at episode ends."""
    env = gym.make(ENV_ID)
    n_actions = int(env.action_space.n)  # type: ignore[attr-defined]
    q = np.zeros((int(env.observation_space.n), n_actions))  # type: ignore[attr-defined]
    rng = np.random.default_rng(seed)
    state, _ = env.reset(seed=seed)
    start = time.perf_counter()
    for _ in range(steps):
        action = int(rng.integers(n_actions)) if rng.random() < EPSILON else int(np.argmax(q[state]))
        next_state, reward, terminated, truncated, _ = env.step(action)
        target = reward if terminated else reward + GAMMA * np.max(q[next_state])
        q[state, action] += ALPHA * (target - q[state, action])
        state = next_state
        if terminated or truncated:
            state, _ = env.reset()
    return steps / (time.perf_counter() - start)


class NoOp(BaseCallback):
    def _on_step(self) -> bool:
        return True


class StepThroughVecEnv(DummyVecEnv):
    """Not a plain DummyVecEnv, so the agents step it through ``step`` (one env after the other)."""


def agent(steps: int, seed: int, n_envs: int = 1, direct: bool = True, callback: bool = False) -> float:
    # A lone plain DummyVecEnv is stepped directly; a subclass goes through its step (the per-env loop).
    vec_env = DummyVecEnv if n_envs > 1 else StepThroughVecEnv
    env = (
        gym.make(ENV_ID) if n_envs == 1 and direct else vec_env([lambda: Monitor(gym.make(ENV_ID))] * n_envs)
    )
    model = QLearning(
        "TabularPolicy",
        env,
        learning_rate=ALPHA,
        gamma=GAMMA,
        exploration_fraction=0.0,
        exploration_initial_eps=EPSILON,
        exploration_final_eps=EPSILON,
        seed=seed,
    )
    model.set_logger(Logger(folder=None, output_formats=[]))  # silent, and no log folder
    start = time.perf_counter()
    model.learn(steps, callback=NoOp() if callback else None)
    return steps / (time.perf_counter() - start)


def dqn(steps: int, seed: int) -> float:
    th.set_num_threads(1)
    model = DQN("MlpPolicy", gym.make(ENV_ID), seed=seed, device="cpu")
    model.set_logger(Logger(folder=None, output_formats=[]))  # silent, and no log folder
    start = time.perf_counter()
    model.learn(steps)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dqn-steps", type=int, default=5_000)
    args = parser.parse_args()
    runs: dict[str, Callable[[int], float]] = {
        "textbook loop (baseline)": lambda seed: textbook(args.steps, seed),
        "QLearning.learn, gym.make env": lambda seed: agent(args.steps, seed),
        "QLearning.learn + no-op callback": lambda seed: agent(args.steps, seed, callback=True),
        "QLearning.learn via DummyVecEnv.step": lambda seed: agent(args.steps, seed, direct=False),
        "QLearning.learn, DummyVecEnv 8 envs": lambda seed: agent(args.steps, seed, n_envs=8, direct=False),
        "SB3 DQN defaults (1 thread)": lambda seed: dqn(args.dqn_steps, seed),
    }
    speeds: dict[str, list[float]] = {name: [] for name in runs}
    for repeat in range(args.repeats):
        for name, run in runs.items():
            speeds[name].append(run(repeat))
    baseline = statistics.median(speeds["textbook loop (baseline)"])
    print(f"FrozenLake8x8-v1, {args.steps} steps, median of {args.repeats} interleaved repeats")
    print(f"| {'learner':38} | {'steps/s':>9} | {'x textbook':>10} |")
    print(f"|{'-' * 40}|{'-' * 11}:|{'-' * 11}:|")
    for name, values in speeds.items():
        median = statistics.median(values)
        print(f"| {name:38} | {median:>9,.0f} | {median / baseline:>10.2f} |")


if __name__ == "__main__":
    main()
