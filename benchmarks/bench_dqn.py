"""DQN at the speed of its env: qgym's fast path against Stable-Baselines3's DQN, preset by preset.

    python benchmarks/bench_dqn.py                          # every case, seeds 0 1 2, two processes
    python benchmarks/bench_dqn.py --env qgym/GridFarm-1x1-v0 CartPole-v1 --seeds 0
    python benchmarks/bench_dqn.py --out benchmarks/results.md   # also write the section there

Each case is trained twice per seed, each run in a fresh process with one torch thread: **SB3**,
Stable-Baselines3's own ``DQN`` (sb3-contrib's ``QRDQN``) with the preset qgym 0.2.0 shipped
(``benchmarks/dqn_presets_0_2_0.yml``; for CartPole, MountainCar and Acrobot, RL Zoo's preset read
from the installed ``rl_zoo3``) on the VecEnv 0.2.0 built, and **qgym**, ``qgym.deep``'s DQN
(QR-DQN) with the preset shipped now (``zoo_configs/``), as ``qgym train`` runs them. A run's clock
covers building the envs and the model and ``learn``; the checkpoints (``--checkpoints`` evenly
spaced evaluations, the last at the end) are left out of it. The figure judged is the preset's
promise: on the exact rungs the exact share of the optimum of the greedy policy (``qgym.planning``),
elsewhere the greedy policy's mean return over 100 seeded episodes (CartPole's 500 is its maximum,
so its share is exact). "to promise" is the clock at the first checkpoint that met the promise.
Medians over seeds; a speedup is the ratio of the medians.

The bar (issue 27) is the **whole run**: qgym's shipped preset, whose promise is kept at its end on
every seed, against the whole of SB3's run with the 0.2.0 preset, the wall time a user waited. The
preset's promise is a statement about the end of its run (``bench_presets.py`` checks it there), and
"to promise" depends on the checkpoint grid (a fifth of each run by default) and counts a seed that
touched the share once and fell back; it is printed beside, as the time a user watching the
checkpoints could have stopped. Run the two paths of a seed side by side (``--jobs 2``, the default)
on an otherwise idle 2-core machine: each gets a core.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
BASELINES = HERE / "dqn_presets_0_2_0.yml"
SECTION = "## DQN and QR-DQN: qgym's fast path against SB3's DQN"


@dataclass(frozen=True)
class Case:
    """A preset and its promise: ``percent`` of the exact optimum, or a mean return of ``score``."""

    algo: str
    env_id: str
    percent: float | None = None
    score: float | None = None

    def met(self, value: float) -> bool:
        """Whether ``value`` (a % of the optimum, or a mean return) keeps the promise."""
        if self.percent is not None:
            return value >= self.percent - 1e-9
        return self.score is not None and value >= self.score

    @property
    def promise(self) -> str:
        if self.percent is not None:
            return f">= {self.percent:g}% of optimum"
        return f"mean return >= {self.score:g}"


CASES = [
    *(
        Case("dqn", f"qgym/{name}", percent=90.0)
        for name in (
            "GridFarm-1x1-Det-v0",
            "GridFarm-1x1-v0",
            "GridFarm-1x2-v0",
            "GridFarm-2x2-v0",
            "Trading-Chain-v0",
            "Trading-ChainRegime-v0",
            "Trading-ChainCostly-v0",
        )
    ),
    Case("qrdqn", "qgym/GridFarm-2x3-v0", percent=90.0),
    Case("dqn", "CartPole-v1", percent=100.0),  # 500 a season: the maximum, so a share of it
    Case("dqn", "MountainCar-v0", score=-110.0),  # RL Zoo's DQN: -100.8 +- 9.9
    Case("dqn", "Acrobot-v1", score=-85.0),  # RL Zoo's DQN: -76.6 +- 11.8
]
MAXIMUM = {"CartPole-v1": 500.0}
"""Envs whose best return is known without a model: the share of it is exact."""


@dataclass(frozen=True)
class Result:
    """One run: its clock, the value at each checkpoint (with the clock there), the final value."""

    seconds: float
    checkpoints: list[tuple[float, float]]

    @property
    def final(self) -> float:
        return self.checkpoints[-1][1]

    def to_promise(self, case: Case) -> float:
        """Seconds until the first checkpoint that kept the promise (inf when none did)."""
        return next((seconds for seconds, value in self.checkpoints if case.met(value)), math.inf)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", nargs="+", default=None, help="only these env IDs")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--paths", nargs="+", default=["sb3", "qgym"], choices=["sb3", "qgym"])
    parser.add_argument("--jobs", type=int, default=2, help="processes side by side (default 2)")
    parser.add_argument("--checkpoints", type=int, default=5, help="evaluations per run (default 5)")
    parser.add_argument("--out", type=Path, default=None, help="write the section into this markdown file")
    args = parser.parse_args(argv)
    cases = [case for case in CASES if args.env is None or case.env_id in args.env]
    jobs = [
        (path, case, seed, args.checkpoints, preset_block(case, path))
        for case in cases
        for seed in args.seeds
        for path in args.paths
    ]
    started = time.perf_counter()
    results = []
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
        for (path, case, seed, *_), result in zip(jobs, pool.map(_run, jobs), strict=True):
            results.append(result)
            marks = ", ".join(f"{value:.1f} at {at:.0f} s" for at, value in result.checkpoints)
            print(
                f"{path} {case.algo} {case.env_id} seed {seed}: {result.seconds:.1f} s; {marks}",
                file=sys.stderr,
            )
    by_case: dict[tuple[str, str], list[Result]] = {}
    for (path, case, *_), result in zip(jobs, results, strict=True):
        by_case.setdefault((case.env_id, path), []).append(result)
    table = _table(cases, args.paths, by_case, args.seeds)
    text = (
        f"{SECTION}\n\n`python benchmarks/bench_dqn.py {' '.join(argv or sys.argv[1:])}`: seeds "
        f"{args.seeds}, {args.jobs} process(es) side by side, {time.perf_counter() - started:.0f} s "
        f"in all. {_context()}\n\n{table}\n"
    )
    print(text)
    if args.out is not None:
        _write_section(args.out, text)
    return 0


def _table(cases: list[Case], paths: list[str], by_case: dict[Any, list[Result]], seeds: list[int]) -> str:
    """One row a preset: each path's median seconds (whole run, and to the promise), its median and
    lowest figure at the end with the seeds that kept the promise, and both speedups."""
    rows = [
        "| preset | promise | SB3, 0.2.0 preset: s / to promise / end (lowest), kept "
        "| qgym: s / to promise / end (lowest), kept | speedup: whole run | to promise |",
        "|---|---|---|---|---:|---:|",
    ]
    for case in cases:
        cells, whole, reach = [], {}, {}
        for path in ("sb3", "qgym"):
            results = by_case.get((case.env_id, path), []) if path in paths else []
            if not results:
                cells.append("not run")
                continue
            whole[path] = statistics.median(r.seconds for r in results)
            reach[path] = statistics.median(r.to_promise(case) for r in results)
            finals = sorted(r.final for r in results)
            unit = "%" if case.percent is not None else ""
            kept = sum(case.met(r.final) for r in results)
            reached = "never" if math.isinf(reach[path]) else f"{reach[path]:.0f}"
            cells.append(
                f"{whole[path]:.0f} / {reached} / {statistics.median(finals):.1f}{unit} "
                f"({finals[0]:.1f}{unit}), {kept}/{len(results)}"
            )
        speedups = [_ratio(measure.get("sb3"), measure.get("qgym")) for measure in (whole, reach)]
        columns = " | ".join([*cells, *speedups])
        rows.append(f"| {case.algo} {case.env_id} | {case.promise} | {columns} |")
    return "\n".join(rows)


def _ratio(baseline: float | None, ours: float | None) -> str:
    if baseline is None or ours is None:
        return ""
    if math.isinf(ours):
        return "never kept"
    return "SB3 never kept" if math.isinf(baseline) else f"{baseline / ours:.1f}x"


def preset_block(case: Case, path: str) -> dict[str, Any]:
    """What ``path`` trains ``case`` with: 0.2.0's (or RL Zoo's) preset for SB3, the shipped one for qgym."""
    from qgym.training.presets import load_preset

    return _baseline(case) if path == "sb3" else load_preset(case.algo, case.env_id)


def _run(job: tuple[str, Case, int, int, dict[str, Any]]) -> Result:
    """Train one case with one seed on one path with a preset block, in this (fresh) process."""
    import torch
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.logger import Logger

    from qgym.training.presets import Preset

    torch.set_num_threads(1)
    path, case, seed, checkpoints, block = job
    preset = Preset.from_block(block)
    steps = int(block["n_timesteps"])
    cls = _sb3_class(case.algo) if path == "sb3" else _qgym_class(case.algo)
    measure = _measure(case, preset.env_wrapper, seed)
    marks = [round(steps * (k + 1) / checkpoints) for k in range(checkpoints)]

    class Checkpoints(BaseCallback):
        """Evaluates at the marks; the time it takes is kept out of the run's clock."""

        def __init__(self) -> None:
            super().__init__()
            self.excluded = 0.0
            self.values: list[tuple[float, float]] = []

        def _on_step(self) -> bool:
            if len(self.values) >= len(marks) - 1:
                return True  # the last checkpoint is taken after learn
            if self.num_timesteps >= marks[len(self.values)]:
                self.take()
            return True

        def take(self) -> None:
            paused = time.perf_counter()
            self.values.append((paused - start - self.excluded, measure(self.model)))
            self.excluded += time.perf_counter() - paused

    start = time.perf_counter()
    env = _env(path, case.env_id, preset, seed)
    model = cls(preset.policy or "MlpPolicy", env, seed=seed, device="cpu", **preset.constructor_kwargs())
    model.set_logger(Logger(folder=None, output_formats=[]))
    callback = Checkpoints()
    model.learn(steps, callback=callback)
    seconds = time.perf_counter() - start - callback.excluded
    callback.take()
    return Result(seconds, callback.values)


def _env(path: str, env_id: str, preset: Any, seed: int) -> Any:
    """The VecEnv as each path's qgym builds it: 0.2.0 stepped a wrapped preset (``ScaleReward``) on
    SB3's ``DummyVecEnv`` of wrapped single envs; qgym now steps reward-scaled presets natively."""
    from stable_baselines3.common.env_util import make_vec_env

    from qgym.training.envs import make_env, single_env, wrapper

    if path == "sb3" and preset.env_wrapper is not None:
        wrap = wrapper(preset.env_wrapper)
        return make_vec_env(lambda **kwargs: single_env(env_id, wrap, **kwargs), preset.n_envs, seed=seed)
    return make_env(env_id, preset.n_envs, preset.env_wrapper, seed)


def _measure(case: Case, env_wrapper: Any, seed: int) -> Any:
    """The function model -> the figure the promise is about."""
    from qgym import training
    from qgym.scoring import percent_of_optimum

    if case.percent is not None and case.env_id not in MAXIMUM:
        optimum = training.exact_optimum(case.env_id)

        def exact(model: Any) -> float:
            value = training.exact_return(model, case.env_id, env_wrapper)
            return float(percent_of_optimum(value, optimum))

        return exact

    def sampled(model: Any) -> float:
        mean = _greedy_mean_return(model, case.env_id, 100, 10_000 + 1_000 * seed)
        return 100.0 * mean / MAXIMUM[case.env_id] if case.env_id in MAXIMUM else mean

    return sampled


def _greedy_mean_return(model: Any, env_id: str, episodes: int, seed: int) -> float:
    """Mean return of the greedy policy over ``episodes`` episodes (episode ``i`` reset with
    ``seed + i``), all stepped together in a vector env, one ``predict`` per step."""
    import gymnasium as gym
    import numpy as np

    envs = gym.make_vec(env_id, num_envs=episodes, vectorization_mode="sync")
    observations, _ = envs.reset(seed=[seed + i for i in range(episodes)])
    returns = np.zeros(episodes)
    running = np.ones(episodes, dtype=bool)
    while running.any():
        actions = model.predict(observations, deterministic=True)[0]
        observations, rewards, terminated, truncated, _ = envs.step(actions)
        returns += np.where(running, rewards, 0.0)
        running &= ~(terminated | truncated)
    envs.close()
    return float(returns.mean())


def _baseline(case: Case) -> dict[str, Any]:
    """The 0.2.0 preset of ``case`` (RL Zoo's for the envs qgym 0.2.0 had no preset for)."""
    from qgym.training.presets import normalize_preset

    document = yaml.safe_load(BASELINES.read_text(encoding="utf-8"))
    if case.env_id in document.get(case.algo, {}):
        return normalize_preset(document[case.algo][case.env_id])
    import rl_zoo3

    zoo = yaml.safe_load((Path(rl_zoo3.__file__).parent / "hyperparams" / f"{case.algo}.yml").read_text())
    return normalize_preset(zoo[case.env_id])


def _sb3_class(algo: str) -> Any:
    if algo == "qrdqn":
        from sb3_contrib import QRDQN

        return QRDQN
    from stable_baselines3 import DQN

    return DQN


def _qgym_class(algo: str) -> Any:
    from qgym.deep import DQN, QRDQN

    return QRDQN if algo == "qrdqn" else DQN


def _context() -> str:
    import platform

    import stable_baselines3
    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"stable-baselines3 {stable_baselines3.__version__}, torch {torch.__version__} (1 thread), "
        f"Python {platform.python_version()}, {os.cpu_count()} cores; load average at the end {load:.1f}."
    )


def _write_section(path: Path, text: str) -> None:
    """Replace this benchmark's section of ``path`` (or append it)."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if SECTION in old:
        before, _, rest = old.partition(SECTION)
        after = rest[rest.find("\n## ") :] if "\n## " in rest else ""
        new = before + text.rstrip("\n") + ("\n" + after.lstrip("\n") if after else "\n")
    else:
        new = old.rstrip("\n") + "\n\n" + text
    path.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
