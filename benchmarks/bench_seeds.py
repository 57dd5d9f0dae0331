"""Many seeds of Q-learning at once: the lockstep learners against the textbook loop, same process.

100 seeds of Q-learning on FrozenLake 8x8 (slippery, 200-step limit) trained in lockstep by
``qgym.agents.lockstep.Lockstep`` with the shipped preset (its 64 envs a seed, and one env a seed), against
the textbook Python loop of the slides (``bench_qlearning_speed.textbook``): 100 sequential loops run
at one loop's rate, so the ratio of aggregate steps per second is batched / textbook. Runs alternate
and the table gives medians (the machine is shared: trust ratios). Then the peak memory the lockstep
run allocates (tracemalloc) for 1, 10 and 100 seeds, against the bytes of their tables.

End to end (``--end-to-end``), what a person waits for: the installed ``qgym train --algo qlearning
--env FrozenLake8x8-v1 --seeds 32 -n 50000`` as a subprocess (start-up, imports, evaluations, files and
the final statistics included) against 32 textbook loops of 50,000 steps one after the other in this
process, alternating, medians of the repeats; and 100 seeds of the shipped FrozenLake 8x8 preset
(2,000,000 steps each) end to end against the textbook loops' time for as many steps at the rate
measured in the same repeat (200 million textbook steps would take over an hour).

    python benchmarks/bench_seeds.py [--steps 20000] [--repeats 3] [--end-to-end]
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import gymnasium as gym
from bench_qlearning_speed import textbook

from qgym import planning
from qgym.agents import QLearning
from qgym.agents.lockstep import Lockstep
from qgym.training.presets import resolve_preset

ENV_ID, HORIZON, SEEDS = "FrozenLake8x8-v1", 200, 100


def lockstep(steps: int, n_envs: int, seeds: int = SEEDS) -> tuple[float, Lockstep]:
    """Aggregate steps per second of ``seeds`` learners, ``steps`` each, with the shipped preset's
    hyperparameters (its step size decaying with visits, its exploration schedule)."""
    env = gym.make(ENV_ID)
    model = planning.model_of(env)
    assert isinstance(model, planning.TabularModel)
    preset, _ = resolve_preset("qlearning", ENV_ID, None, None)
    template = QLearning("TabularPolicy", env, seed=0, **preset.constructor_kwargs())
    learners = Lockstep(template, model, list(range(seeds)), n_envs=n_envs, max_episode_steps=HORIZON)
    start = time.perf_counter()
    learners.learn(steps)
    return seeds * learners.num_timesteps / (time.perf_counter() - start), learners


def peak_bytes(seeds: int, steps: int) -> tuple[int, int]:
    """Peak bytes tracemalloc sees while ``seeds`` learners train (64 envs each), and their tables' bytes."""
    tracemalloc.start()
    _, learners = lockstep(steps, 64, seeds)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, learners.tables.nbytes + learners.visits.nbytes


def section(steps: int = 20_000, repeats: int = 3, log: bool = False) -> str:
    """The markdown section: aggregate steps/s of 100 seeds in lockstep against the textbook loop (runs
    alternate; medians), then the peak memory allocated for 1, 10 and 100 seeds."""
    rates: dict[str, list[float]] = {
        "textbook": [],
        "lockstep, 64 envs a seed": [],
        "lockstep, 1 env a seed": [],
    }
    for repeat in range(repeats):
        rates["textbook"].append(textbook(steps, seed=repeat))
        rates["lockstep, 64 envs a seed"].append(lockstep(steps * 4, 64)[0])
        rates["lockstep, 1 env a seed"].append(lockstep(steps // 4, 1)[0])
        if log:
            print(
                f"run {repeat + 1}/{repeats}: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in rates.items())
            )
    compiled = (
        "numba installed" if importlib.util.find_spec("numba") else "numba NOT installed: the numpy path"
    )
    base = statistics.median(rates["textbook"])
    rows = [
        f"## Many seeds: {SEEDS} Q-learning seeds on {ENV_ID} in lockstep (aggregate steps/s)",
        "",
        f"`benchmarks/bench_seeds.py`: the shipped preset (64 envs a seed, the step size decaying with "
        f"visits) against {SEEDS} textbook loops one after the other; {steps * 4:,} steps a seed a run "
        f"(64 envs), medians of {repeats} alternating runs. The lockstep updates are compiled when "
        f"numba is installed ({compiled}).",
        "",
        f"| {SEEDS} seeds of Q-learning on {ENV_ID} | aggregate steps/s (median of {repeats}) | x textbook |",
        "|---|---:|---:|",
    ]
    for name, values in rates.items():
        rows.append(f"| {name} | {statistics.median(values):,.0f} | {statistics.median(values) / base:.1f} |")
    rows += [
        "",
        "Peak bytes that Python's allocator sees (tracemalloc; numba's own allocations are not traced):",
        "",
        "| seeds (64 envs each) | peak bytes allocated while training | bytes of tables and visit counts |",
        "|---:|---:|---:|",
    ]
    for seeds in (1, 10, 100):
        peak, tables = peak_bytes(seeds, 64 * 50)
        rows.append(f"| {seeds} | {peak / 2**20:,.2f} MiB | {tables / 2**20:,.2f} MiB |")
    return "\n".join(rows) + "\n"


def command_seconds(arguments: list[str]) -> float:
    """Wall seconds of the installed ``qgym`` with ``arguments``, in a fresh folder, output discarded."""
    qgym = shutil.which("qgym") or str(Path(sys.executable).with_name("qgym"))
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        subprocess.run(
            [qgym, *arguments, "--log-folder", folder], check=True, capture_output=True, cwd=folder
        )
        return time.perf_counter() - start


def textbook_seconds(loops: int, steps: int) -> float:
    """Wall seconds of ``loops`` textbook loops of ``steps`` steps one after the other (env creation
    included), in this process."""
    start = time.perf_counter()
    for seed in range(loops):
        textbook(steps, seed)
    return time.perf_counter() - start


def end_to_end_section(repeats: int = 3, log: bool = False) -> str:
    """The markdown section: the ``qgym train --seeds`` command against the textbook loops."""
    short = ["train", "--algo", "qlearning", "--env", ENV_ID, "--seeds", "32", "-n", "50000"]
    preset = ["train", "--algo", "qlearning", "--env", ENV_ID, "--seeds", str(SEEDS)]
    preset_steps = 2_000_000  # the shipped preset's n_timesteps (checked below)
    resolved, _ = resolve_preset("qlearning", ENV_ID, None, None)
    assert resolved.n_timesteps == preset_steps, resolved.n_timesteps
    times: dict[str, list[float]] = {"textbook": [], "short": [], "preset": [], "rate": []}
    for repeat in range(repeats):
        textbook_time = textbook_seconds(32, 50_000)
        times["textbook"].append(textbook_time)
        times["rate"].append(32 * 50_000 / textbook_time)
        times["short"].append(command_seconds(short))
        times["preset"].append(command_seconds(preset))
        if log:
            print(f"run {repeat + 1}/{repeats}: " + ", ".join(f"{k} {v[-1]:,.1f}" for k, v in times.items()))
    ratios_short = [t / c for t, c in zip(times["textbook"], times["short"], strict=True)]
    textbook_preset = [SEEDS * preset_steps / rate for rate in times["rate"]]
    ratios_preset = [t / c for t, c in zip(textbook_preset, times["preset"], strict=True)]
    median = statistics.median
    return "\n".join(
        [
            "## Many seeds end to end: the `qgym train --seeds` command against textbook loops",
            "",
            f"`benchmarks/bench_seeds.py --end-to-end`: the installed command as a subprocess (start-up, "
            f"imports, evaluations, files, statistics) against textbook loops in this process, "
            f"alternating; medians of {repeats} repeats (each ratio within a repeat).",
            "",
            "| what | command (s) | textbook loops (s) | x textbook |",
            "|---|---:|---:|---:|",
            f"| `{' '.join(['qgym', *short])}` | {median(times['short']):.2f} | "
            f"{median(times['textbook']):.1f} (32 loops of 50,000 steps) | {median(ratios_short):.1f} |",
            f"| `{' '.join(['qgym', *preset])}` (the shipped preset: {preset_steps:,} steps a seed) | "
            f"{median(times['preset']):.1f} | {median(textbook_preset):,.0f} ({SEEDS} x {preset_steps:,} "
            f"steps at the textbook rate of this repeat, {median(times['rate']):,.0f} steps/s) | "
            f"{median(ratios_preset):.0f} |",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="steps per learner per run (default 20000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each (default 3)")
    parser.add_argument("--end-to-end", action="store_true", help="time the qgym train --seeds command too")
    args = parser.parse_args()
    print(section(args.steps, args.repeats, log=True))
    if args.end_to_end:
        print(end_to_end_section(args.repeats, log=True))


if __name__ == "__main__":
    main()
