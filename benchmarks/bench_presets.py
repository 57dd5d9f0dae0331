"""Check every shipped preset's promise over several seeds and print a markdown table.

    python benchmarks/bench_presets.py                     # qlearning and dqn, seeds 0 1 2
    python benchmarks/bench_presets.py --algo dqn --env qgym/Trading-Chain-v0 --seeds 0 1
    python benchmarks/bench_presets.py --algo qrdqn         # QR-DQN where DQN falls short

The promises (issue 5): a tabular preset reaches at least 95% of the exact optimum; a DQN (or QR-DQN)
preset on an exactly solvable rung at least 90%; on the rungs without an exact optimum a preset beats
the env family's heuristic: over the same seeded episodes (500 unless --episodes), the
agent's mean return exceeds the heuristic's by more than twice the standard error of the paired
difference. '%' is the exact expected return of the greedy policy over the registered horizon
(``qgym.training.evaluate``), or the sampled mean where only the optimum is known (CartPole's 500);
the lowest seed decides. An env with neither an optimum nor a heuristic (MountainCar, Acrobot) is held
to the floor its preset's comment begins with, ``Mean return >= X``: the lowest seed's mean over the
episodes must reach it. A preset whose comment begins with ``NO PROMISE`` is run only with --all and
never fails the check. Exit status 1 when a promise fails.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

import yaml

THRESHOLD = {"qlearning": 95.0, "nstep_sarsa": 95.0, "dqn": 90.0, "qrdqn": 90.0}
FLOOR = re.compile(r"^Mean return >= (-?\d+(?:\.\d+)?)")
"""The promise of a preset on an env with neither an optimum nor a heuristic, in its comment."""


def main(argv: list[str] | None = None) -> int:
    """Run the checks; print the table; return 1 if a promise fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", nargs="+", default=["qlearning", "dqn"], choices=sorted(THRESHOLD))
    parser.add_argument("--env", nargs="+", default=None, help="only these env IDs")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--episodes", type=int, default=500, help="evaluation episodes (default 500)")
    parser.add_argument("--all", action="store_true", help="also run the NO PROMISE presets")
    args = parser.parse_args(argv)

    from qgym.training.presets import default_preset_path

    jobs: list[tuple[str, str, int, int]] = []
    for algo in args.algo:
        path = default_preset_path(algo)
        comments = _comments(path)
        for env_id in yaml.safe_load(path.read_text(encoding="utf-8")):
            if args.env and env_id not in args.env:
                continue
            if comments.get(env_id, "").startswith("NO PROMISE") and not args.all:
                continue
            jobs.extend((algo, env_id, seed, args.episodes) for seed in args.seeds)
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(_run_one, jobs))
    rows: dict[tuple[str, str], list[Measured]] = {}
    for (algo, env_id, _, _), result in zip(jobs, results, strict=True):
        rows.setdefault((algo, env_id), []).append(result)

    print("| preset | steps | promise | measured (min / median over seeds) | s per seed | ok |")
    print("|---|---:|---|---|---:|:-:|")
    failed = 0
    for (algo, env_id), measured in rows.items():
        from qgym.training.presets import load_preset

        steps = load_preset(algo, env_id)["n_timesteps"]
        comment = comments_of(algo).get(env_id, "")
        seconds = sum(m.seconds for m in measured) / len(measured)
        if measured[0].kind == "return":
            floor = FLOOR.match(comment)
            if floor is None and comment.startswith("NO PROMISE"):
                floor = re.search(r"mean return of at least (-?\d+(?:\.\d+)?)", comment)
            if floor is None:
                raise SystemExit(
                    f"{algo} {env_id}: no optimum and no heuristic to measure against, and its comment "
                    "does not begin with the promise 'Mean return >= X'"
                )
            by_value = sorted(measured, key=lambda m: m.value)
            promise = f"mean return >= {floor[1]}"
            ok = by_value[0].value >= float(floor[1])
            worst, median = by_value[0], by_value[len(by_value) // 2]
            shown = f"{worst.value:.1f} (s.e. {worst.stderr:.1f}) / {median.value:.1f}"
        elif measured[0].heuristic is None:
            values = sorted(m.value for m in measured)
            promise = f">= {THRESHOLD[algo]:.0f}% of optimum"
            ok = values[0] >= THRESHOLD[algo]
            shown = f"{values[0]:.1f}% / {values[len(values) // 2]:.1f}%"
        else:
            by_margin = sorted(measured, key=lambda m: m.value - m.heuristic)  # type: ignore[operator]
            worst, median = by_margin[0], by_margin[len(by_margin) // 2]
            promise = "> heuristic by 2 s.e."
            ok = all(m.value - m.heuristic > 2 * m.stderr for m in measured)  # type: ignore[operator]
            shown = f"{_versus(worst)} / {_versus(median)}"
        if comment.startswith("NO PROMISE"):
            promise, ok = "none (see comment)", True
        failed += not ok
        print(
            f"| {algo} {env_id} | {steps:,} | {promise} | {shown} | {seconds:.0f} | {'yes' if ok else 'NO'} |"
        )
    print()
    for (algo, env_id), measured in rows.items():
        print(f"{algo} {env_id}, seeds {args.seeds}: {', '.join(_per_seed(m) for m in measured)}")
    print(f"\n{len(jobs)} runs in {time.perf_counter() - started:.0f} s; seeds {args.seeds}; {failed} failed")
    return 1 if failed else 0


class Measured(NamedTuple):
    """One seed's result: % of optimum, or mean return against the heuristic's on the same episodes,
    or (``kind`` "return") the mean return alone, with its standard error."""

    value: float
    heuristic: float | None
    stderr: float
    seconds: float
    kind: str = "percent"


def _versus(m: Measured) -> str:
    return f"{m.value:.1f} vs {m.heuristic:.1f} (diff s.e. {m.stderr:.1f})"


def _per_seed(m: Measured) -> str:
    if m.kind == "return":
        return f"{m.value:.1f} (s.e. {m.stderr:.1f})"
    if m.heuristic is None:
        return f"{m.value:.1f}%"
    return f"{m.value - m.heuristic:+.2f} (s.e. {m.stderr:.2f})"


def comments_of(algo: str) -> dict[str, str]:
    """The comment above each env ID's block in the shipped preset file of ``algo``."""
    from qgym.training.presets import default_preset_path

    return _comments(default_preset_path(algo))


def _comments(path: Path) -> dict[str, str]:
    comments: dict[str, str] = {}
    block: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            block.append(line.lstrip("# ").strip())
        elif line and not line.startswith(" ") and line.endswith(":"):
            comments[line[:-1]] = " ".join(block)
            block = []
        elif not line.strip():
            block = []
    return comments


def _run_one(job: tuple[str, str, int, int]) -> Measured:
    """Train one preset with one seed and evaluate it over seeded episodes."""
    import torch
    from stable_baselines3.common.logger import Logger

    from qgym import training
    from qgym.training.presets import load_preset

    torch.set_num_threads(1)
    algo, env_id, seed, episodes = job
    preset = load_preset(algo, env_id)
    hyperparameters = {key: value for key, value in preset.items() if key != "n_timesteps"}
    start = time.perf_counter()
    model = training.make_model(algo, env_id, hyperparameters, seed)
    model.set_logger(Logger(folder=None, output_formats=[]))
    model.learn(int(preset["n_timesteps"]))
    seconds = time.perf_counter() - start
    evaluation = training.evaluate(
        model, env_id, episodes, seed=10_000 + 1_000 * seed, env_wrapper=preset.get("env_wrapper")
    )
    if evaluation.percent_of_optimum is not None:
        return Measured(evaluation.percent_of_optimum, None, 0.0, seconds)
    if evaluation.heuristic_return is None or evaluation.difference_stderr is None:
        return Measured(evaluation.mean_return, None, evaluation.standard_error, seconds, "return")
    return Measured(
        evaluation.mean_return, evaluation.heuristic_return, evaluation.difference_stderr, seconds
    )


if __name__ == "__main__":
    sys.exit(main())
