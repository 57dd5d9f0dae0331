"""qgym's benchmark suite: one command, one markdown table of steps/s, ratios and peak memory.

    python benchmarks/run_all.py            # full run, a few minutes
    python benchmarks/run_all.py --quick    # smaller budgets, about a minute

Every speed is reported next to a baseline measured in the same run (FrozenLake for single envs,
``SyncVectorEnv`` of the same env for native vector envs, the textbook loop for learners), because
the machines this runs on are shared and noisy: compare ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bench_model_vector
import gymnasium as gym
import learners
import numpy as np

import qgym

SINGLE_IDS = [
    "qgym/GridFarm-2x2-v0",
    "qgym/GridFarm-4x4-v0",
    "qgym/Trading-Chain-v0",
    "qgym/Trading-Market-v0",
]
VECTOR_IDS = ["qgym/GridFarm-2x2-v0", "qgym/Trading-Chain-v0", "qgym/Trading-Market-v0"]
SIZES = (1, 64, 1024)
LEARN_IDS = ("qgym/Trading-Chain-v0", "qgym/GridFarm-1x2-v0")
DQN_ID = "qgym/GridFarm-3x3-v0"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small budgets: about a minute")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.md"))
    args = parser.parse_args(argv)
    budget = _Budget(quick=args.quick)
    started = time.perf_counter()
    sections = [
        _env_section(budget),
        _vector_section(budget),
        bench_model_vector.section(budget.seconds, budget.repeats),
        *(_learner_section(budget, env_id) for env_id in LEARN_IDS),
        _dqn_section(budget),
    ]
    minutes = (time.perf_counter() - started) / 60
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    header = (
        f"# qgym benchmarks{' (--quick)' if args.quick else ''}\n\n"
        f"qgym {qgym.__version__}, gymnasium {gym.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()}, {platform.machine()}; {minutes:.1f} min; "
        f"peak RSS of the env benchmarks' process {peak_mb:.0f} MB. Speeds are medians of "
        f"{budget.repeats}; ratios are against a baseline timed in the same run.\n"
    )
    text = "\n".join([header, *sections])
    args.out.write_text(text)
    print(text)
    print(f"written to {args.out}")
    return 0


class _Budget:
    """How long each measurement runs: enough for a stable median, short enough for ~5 minutes in all."""

    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.seconds = 0.3 if quick else 1.0
        self.repeats = 1 if quick else 3
        self.learn_steps = 50_000 if quick else 200_000
        self.learn_seeds = (0,) if quick else (0, 1, 2)
        self.dqn_steps = 3_000 if quick else 20_000


# --- env steps/s ----------------------------------------------------------------------------------


def _env_section(budget: _Budget) -> str:
    rows = [
        "## Single env steps/s (random actions)",
        "",
        "| env | steps/s | × FrozenLake 8x8 |",
        "|---|---:|---:|",
    ]
    frozen = _median(budget, lambda: _single_rate("FrozenLake-v1", budget.seconds, map_name="8x8"))
    rows.append(f"| FrozenLake-v1 8x8 (baseline) | {frozen:,.0f} | 1.00 |")
    for env_id in SINGLE_IDS:
        rate = _median(budget, lambda env_id=env_id: _single_rate(env_id, budget.seconds))
        rows.append(f"| {env_id} | {rate:,.0f} | {rate / frozen:.2f} |")
    return "\n".join(rows) + "\n"


def _vector_section(budget: _Budget) -> str:
    rows = [
        "## Native vector env vs SyncVectorEnv of the same env (steps/s summed over envs)",
        "",
        "| env | N | native | SyncVectorEnv | × Sync |",
        "|---|---:|---:|---:|---:|",
    ]
    for env_id in VECTOR_IDS:
        for n in SIZES:
            native = _median(
                budget,
                lambda env_id=env_id, n=n: _vector_rate(env_id, n, "vector_entry_point", budget.seconds),
            )
            sync = _median(budget, lambda env_id=env_id, n=n: _vector_rate(env_id, n, "sync", budget.seconds))
            rows.append(f"| {env_id} | {n} | {native:,.0f} | {sync:,.0f} | {native / sync:.1f} |")
    return "\n".join(rows) + "\n"


def _single_rate(env_id: str, seconds: float, **kwargs: Any) -> float:
    env = gym.make(env_id, **kwargs)
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(env.action_space.n, size=4096).tolist()  # type: ignore[attr-defined]
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for action in actions[:512]:
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
        steps += 512
    return steps / (time.perf_counter() - start)


def _vector_rate(env_id: str, num_envs: int, mode: str, seconds: float) -> float:
    venv = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode)
    venv.reset(seed=0)
    n_actions = int(venv.single_action_space.n)  # type: ignore[attr-defined]
    actions = np.random.default_rng(0).integers(n_actions, size=(64, num_envs))
    venv.step(actions[0])  # warm-up
    # The native env runs at least a whole episode, so its batched resets are paid for in the rate.
    at_least = (venv.unwrapped.max_episode_steps or 0) + 1 if mode == "vector_entry_point" else 1  # type: ignore[attr-defined]
    steps, start = 0, time.perf_counter()
    while steps < at_least or time.perf_counter() - start < seconds:
        venv.step(actions[steps % 64])
        steps += 1
    rate = steps * num_envs / (time.perf_counter() - start)
    venv.close()
    return rate


def _median(budget: _Budget, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(budget.repeats))


# --- learners (each run in a fresh process: its own peak RSS) ------------------------------------


def _learner_section(budget: _Budget, env_id: str) -> str:
    steps = budget.learn_steps
    rows = [
        f"## Q-learning on {env_id}: {steps:,} steps, {len(budget.learn_seeds)} seed(s)",
        "",
        "Same hyperparameters everywhere (alpha 0.1, gamma 0.99, epsilon 1 -> 0.05 over the first 10%). "
        "'% of optimum' is the exact expected return of the greedy policy over the registered horizon "
        "(qgym.planning), median over seeds. Peak RSS is that of the process that ran the learner.",
        "",
        "| learner | envs | steps/s | × textbook | % of optimum | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    cases: list[tuple[str, str, Callable[..., learners.Result], tuple[Any, ...]]] = [
        ("textbook loop (numpy table, gym.make env)", "1", learners.textbook_q_learning, ()),
        ("`QLearning.learn` on the env", "1", learners.agent_q_learning, (0,)),
        (
            "`QLearning.learn` on `make_sb3_vec_env` (native vector env)",
            "64",
            learners.agent_q_learning,
            (64,),
        ),
        (
            "`QLearning.learn` on `make_sb3_vec_env` (native vector env)",
            "1024",
            learners.agent_q_learning,
            (1024,),
        ),
        (
            "reference: batched numpy update on the native vector env (not the agents)",
            "1024",
            learners.batched_q_learning,
            (1024,),
        ),
    ]
    baseline: float | None = None
    for label, envs, function, extra in cases:
        runs = [_isolated(function, env_id, steps, seed, *extra) for seed in budget.learn_seeds]
        rate = statistics.median(done / seconds for (done, seconds, _), _ in runs)
        percents = [percent for (_, _, percent), _ in runs if percent is not None]
        memory = max(rss for _, rss in runs)
        baseline = baseline or rate
        percent = f"{statistics.median(percents):.1f}" if percents else "-"
        rows.append(f"| {label} | {envs} | {rate:,.0f} | {rate / baseline:.1f} | {percent} | {memory:.0f} |")
    return "\n".join(rows) + "\n"


def _dqn_section(budget: _Budget) -> str:
    steps = budget.dqn_steps
    rows = [
        f"## SB3 DQN (defaults, 1 torch thread) on {DQN_ID}: {steps:,} steps",
        "",
        "| setup | envs | steps/s | peak RSS MB |",
        "|---|---:|---:|---:|",
    ]
    for label, envs in (("DQN on the env (Monitor + DummyVecEnv)", 0), ("DQN on `make_sb3_vec_env`", 16)):
        (done, seconds, _), rss = _isolated(learners.sb3_dqn, DQN_ID, steps, 0, envs)
        rows.append(f"| {label} | {max(envs, 1)} | {done / seconds:,.0f} | {rss:.0f} |")
    return "\n".join(rows) + "\n"


def _isolated(function: Callable[..., learners.Result], *args: Any) -> tuple[learners.Result, float]:
    """Run ``function(*args)`` in a fresh interpreter; return its result and that process's peak RSS (MB)."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(_with_peak_rss, (function, *args))


def _with_peak_rss(function: Callable[..., learners.Result], *args: Any) -> tuple[learners.Result, float]:
    result = function(*args)
    return result, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    sys.exit(main())
