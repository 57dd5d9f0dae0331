"""qgym's benchmark suite: one command, one markdown table of steps/s, ratios and peak memory.

    python benchmarks/run_all.py            # full run, a few minutes
    python benchmarks/run_all.py --quick    # smaller budgets, about two minutes

Every speed is reported next to a baseline measured in the same run (FrozenLake 8x8 for single envs,
timed right before each env; ``SyncVectorEnv`` of the same env for native vector envs; the textbook
loop for a learner on one env; a batched numpy update for a learner on the native vector env),
because the machines this runs on are shared and noisy: compare ratios, not absolute numbers. Each
table says the bar its ratios are held to (the performance issue's).
"""

from __future__ import annotations

import argparse
import importlib.util
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
from timing import env_rate, vector_rate

import qgym
from qgym.envs import qgym_env_ids

VECTOR_IDS = ["qgym/GridFarm-2x2-v0", "qgym/Trading-Chain-v0", "qgym/Trading-Market-v0"]
SIZES = (1, 64, 1024)
ONE_ENV_IDS = ("FrozenLake8x8-v1", "qgym/GridFarm-1x2-v0", "qgym/Trading-Chain-v0")
VECTOR_LEARN_IDS = ("qgym/Trading-Chain-v0", "qgym/GridFarm-1x2-v0")
DQN_ID = "qgym/GridFarm-3x3-v0"
SINGLE_BAR = 0.5
"""Every farm and chain steps at least this many times FrozenLake 8x8's speed..."""
MARKET_BAR = 0.3
"""...and the market rungs this many."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small budgets: about two minutes")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.md"))
    args = parser.parse_args(argv)
    budget = _Budget(quick=args.quick)
    started = time.perf_counter()
    sections = [
        _env_section(budget),
        _vector_section(budget),
        bench_model_vector.section(budget.seconds, budget.repeats),
        *(_one_env_section(budget, env_id) for env_id in ONE_ENV_IDS),
        *(_vector_learner_section(budget, env_id) for env_id in VECTOR_LEARN_IDS),
        _seeds_section(budget),
        _update_section(budget),
        _memory_section(budget),
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
        "Each env is timed right after FrozenLake 8x8, and the ratio is the median of those back-to-back "
        f"pairs. Bar: at least {SINGLE_BAR}x FrozenLake for every farm and chain, {MARKET_BAR}x for the "
        "market rungs.",
        "",
        "| env | steps/s | FrozenLake 8x8 steps/s | × FrozenLake 8x8 | bar |",
        "|---|---:|---:|---:|---|",
    ]
    for env_id in qgym_env_ids():
        pairs = [
            (
                _single_rate("FrozenLake-v1", budget.seconds, map_name="8x8"),
                _single_rate(env_id, budget.seconds),
            )
            for _ in range(budget.repeats)
        ]
        frozen = statistics.median(pair[0] for pair in pairs)
        rate = statistics.median(pair[1] for pair in pairs)
        ratio = statistics.median(pair[1] / pair[0] for pair in pairs)
        bar = MARKET_BAR if "Market" in env_id else SINGLE_BAR
        verdict = f"{'met' if ratio >= bar else 'MISSED'} (>= {bar})"
        rows.append(f"| {env_id} | {rate:,.0f} | {frozen:,.0f} | {ratio:.2f} | {verdict} |")
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
    return env_rate(gym.make(env_id, **kwargs), seconds)


def _vector_rate(env_id: str, num_envs: int, mode: str, seconds: float) -> float:
    venv = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode)
    venv.reset(seed=0)
    n_actions = int(venv.single_action_space.n)  # type: ignore[attr-defined]
    actions = np.random.default_rng(0).integers(n_actions, size=(64, num_envs))
    venv.step(actions[0])  # warm-up
    # The native env runs at least a whole episode, so its batched resets are paid for in the rate.
    at_least = (venv.unwrapped.max_episode_steps or 0) + 1 if mode == "vector_entry_point" else 1  # type: ignore[attr-defined]
    rate = vector_rate(venv.step, actions, seconds, at_least)
    venv.close()
    return rate


def _median(budget: _Budget, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(budget.repeats))


# --- learners (each run in a fresh process: its own peak RSS) ------------------------------------

LEARNER_NOTE = (
    "Same hyperparameters everywhere (alpha 0.1, gamma 0.99, epsilon 1 -> 0.05 over the first 10%). "
    "'% of optimum' is the exact expected return of the greedy policy over the registered horizon "
    "(qgym.planning), one value per seed. The learners of a seed run one after the other, each in a "
    "fresh process; speeds and ratios are medians over seeds of each seed's run."
)


def _one_env_section(budget: _Budget, env_id: str) -> str:
    steps = budget.learn_steps
    rows = [
        f"## Q-learning on one {env_id} env: {steps:,} steps, {len(budget.learn_seeds)} seed(s)",
        "",
        LEARNER_NOTE + " Bar: `QLearning.learn` at least 1.0x the textbook loop.",
        "",
        "| learner | steps/s | × textbook | % of optimum | peak RSS MB |",
        "|---|---:|---:|---|---:|",
    ]
    cases = {
        "textbook loop (numpy table, gym.make env)": (learners.textbook_q_learning, ()),
        "`QLearning.learn` on the env": (learners.agent_q_learning, (0,)),
    }
    for label, (rate, ratio, percents, memory) in _run_cases(budget, env_id, cases).items():
        rows.append(f"| {label} | {rate:,.0f} | {ratio:.2f} | {percents} | {memory:.0f} |")
    return "\n".join(rows) + "\n"


def _vector_learner_section(budget: _Budget, env_id: str) -> str:
    steps = budget.learn_steps
    rows = [
        f"## Q-learning on the native vector env of {env_id}: {steps:,} steps, "
        f"{len(budget.learn_seeds)} seed(s)",
        "",
        LEARNER_NOTE + " The reference is benchmark code, not the agents: a synchronous numpy update "
        "that keeps one of the updates when several envs hit the same (s, a) in a step; the agents apply "
        "them one after the other, bit for bit as one env after the other: compiled with numba "
        f"({_kernels_state()}), and on their numpy path for comparison. Bar: `QLearning.learn` at "
        "N=1024 at least 0.8x the reference.",
        "",
        "| learner | envs | steps/s | × reference | % of optimum | peak RSS MB |",
        "|---|---:|---:|---:|---|---:|",
    ]
    cases = {
        "reference: batched numpy update (not the agents)|1024": (learners.batched_q_learning, (1024,)),
        "`QLearning.learn` on `make_sb3_vec_env`|1024": (learners.agent_q_learning, (1024,)),
        "`QLearning.learn` on `make_sb3_vec_env`|64": (learners.agent_q_learning, (64,)),
        "`QLearning.learn`, numpy path (no numba)|1024": (learners.agent_q_learning, (1024, False)),
    }
    for key, (rate, ratio, percents, memory) in _run_cases(budget, env_id, cases).items():
        label, envs = key.split("|")
        rows.append(f"| {label} | {envs} | {rate:,.0f} | {ratio:.2f} | {percents} | {memory:.0f} |")
    return "\n".join(rows) + "\n"


def _seeds_section(budget: _Budget) -> str:
    """``bench_seeds``' table, in a fresh process (its learners' memory stays out of this one's)."""
    context = multiprocessing.get_context("spawn")
    steps = 5_000 if budget.quick else 20_000
    with context.Pool(1) as pool:
        return str(pool.apply(_seeds_table, (steps, budget.repeats)))


def _seeds_table(steps: int, repeats: int) -> str:
    """In the worker: ``bench_seeds`` imports the agents (SB3, torch), which this process must not,
    since a spawned worker's peak RSS starts from its parent's."""
    import bench_seeds

    return bench_seeds.section(steps, repeats)


def _kernels_state() -> str:
    """Whether this run had numba, said for the tables. (Not through ``qgym.agents``: importing SB3 and
    torch here would raise every worker's peak RSS, which a spawned process starts from.)"""
    if importlib.util.find_spec("numba") is not None:
        return "numba installed"
    return "numba NOT installed: compiled rows are the numpy path"


LearnerCases = dict[str, tuple[Callable[..., learners.Result], tuple[Any, ...]]]


def _run_cases(
    budget: _Budget, env_id: str, cases: LearnerCases
) -> dict[str, tuple[float, float, str, float]]:
    """Each case once per seed, seed by seed: (median steps/s, median ratio to the first case within a
    seed, % of optimum per seed, largest peak RSS) by case."""
    runs: dict[str, list[tuple[learners.Result, float]]] = {label: [] for label in cases}
    for seed in budget.learn_seeds:
        for label, (function, extra) in cases.items():
            runs[label].append(_isolated(function, env_id, budget.learn_steps, seed, *extra))
    baseline = [done / seconds for (done, seconds, _), _ in runs[next(iter(cases))]]
    table = {}
    for label, results in runs.items():
        rates = [done / seconds for (done, seconds, _), _ in results]
        percents = [percent for (_, _, percent), _ in results]
        shown = ", ".join("-" if p is None else f"{p:.1f}" for p in percents)
        ratio = statistics.median(rate / base for rate, base in zip(rates, baseline, strict=True))
        table[label] = (statistics.median(rates), ratio, shown, max(rss for _, rss in results))
    return table


def _update_section(budget: _Budget) -> str:
    """The batched update alone, on the batch the agents apply in numpy and on a crowded one."""
    size = 1024
    cases = [
        (f"{size:,} transitions among 100,000 states (conflict-free runs)", 100_000, 100_000),
        (f"{size:,} transitions among 30 states (1,024 envs in lockstep on a small rung)", 100_000, 30),
    ]
    rows = [
        f"## The batched Q-learning update alone: one batch of {size:,} transitions, 4 actions",
        "",
        "CPU microseconds, the least of 20 runs, in a fresh process. The reference is the synchronous "
        "numpy update of the tables above; `QLearning`'s batched update gives the bits of one transition "
        "after the other, which it also shows: compiled (numba, one loop over the batch; "
        f"{_kernels_state()}) or on its numpy path (where no update reads a row an earlier one writes "
        "and no pair repeats, a run goes in one numpy pass; a crowded batch is a chain of dependent "
        "updates and goes one after the other).",
        "",
        "| batch | reference µs | compiled µs | × reference (time) | numpy path µs | one at a time µs |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, n_states, crowd in cases:
        (reference, compiled, numpy_path, one_at_a_time), _ = _isolated(
            learners.update_times, n_states, crowd, size, 20
        )
        rows.append(
            f"| {label} | {reference * 1e6:,.0f} | {compiled * 1e6:,.0f} | {compiled / reference:.1f} | "
            f"{numpy_path * 1e6:,.0f} | {one_at_a_time * 1e6:,.0f} |"
        )
    return "\n".join(rows) + "\n"


def _memory_section(budget: _Budget) -> str:
    """Peak RSS of a tabular training run next to what importing its libraries alone costs."""
    steps = budget.learn_steps
    env_id = "qgym/Trading-Chain-v0"
    cases = [
        ("a fresh worker process (numpy, gymnasium, qgym's envs)", learners.nothing, ()),
        ("the same, after `import stable_baselines3` (and so torch)", learners.import_sb3, ()),
        ("the same, and qgym's compiled kernels loaded (numba)", learners.import_sb3_and_kernels, ()),
        (
            f"`QLearning.learn`, one {env_id} env, {steps:,} steps",
            learners.agent_q_learning,
            (env_id, steps, 0, 0),
        ),
        (
            f"`QLearning.learn`, native vector env N=1024, {steps:,} steps",
            learners.agent_q_learning,
            (env_id, steps, 0, 1024),
        ),
        (
            f"reference batched numpy update, N=1024, {steps:,} steps",
            learners.batched_q_learning,
            (env_id, steps, 0, 1024),
        ),
    ]
    measured = [(label, _isolated(function, *args)[1]) for label, function, args in cases]
    bare, with_sb3, with_numba, tabular = (measured[i][1] for i in range(4))
    rows = [
        "## Peak RSS of tabular training (each in a fresh process)",
        "",
        f"Importing Stable-Baselines3 (and so torch) takes {with_sb3 - bare:.0f} MB of the "
        f"{tabular:.0f} MB a tabular training run peaks at ({(with_sb3 - bare) / tabular:.0%}); the run "
        f"itself (env, table, loop) adds {tabular - with_sb3:.0f} MB. On many envs the batched loop "
        f"also loads numba's compiled kernels when numba is installed: {with_numba - with_sb3:.0f} MB more.",
        "",
        "| process | peak RSS MB |",
        "|---|---:|",
        *(f"| {label} | {rss:.0f} |" for label, rss in measured),
    ]
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
