"""Steps per second of the model-driven vector env against Gymnasium's ``SyncVectorEnv`` and EnvPool.

All step N copies of ``FrozenLake8x8-v1`` (slippery, 200-step limit) with the same random actions:
``qgym.envs.model_vector.make_model_vec`` (numpy, sampling the exact model), the same env behind
``qgym.vec_adapter.SB3VecEnv`` (what the agents step: same-step autoreset, terminal observations),
``gym.make_vec(..., vectorization_mode="sync")`` (the baseline) and, when it is installed, EnvPool
with one thread (``envpool.make(..., num_threads=1)``, C++). The runs are interleaved and repeated;
the table reports medians and ratios to ``SyncVectorEnv`` measured in this run (shared machine:
trust ratios). The batched envs step at least one whole episode length, so their resets are paid for.

    python benchmarks/bench_model_vector.py [--num-envs 1024] [--seconds 1.0] [--repeats 3] [--quick]

``run_all.py`` includes this table through :func:`section`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from timing import vector_rate

ENV_ID = "FrozenLake8x8-v1"
EPISODE = 200  # the registered limit: a batched env steps at least this many times


def section(seconds: float, repeats: int, sizes: tuple[int, ...] = (1024,)) -> str:
    """The markdown section: one row per contender and N, ratio to SyncVectorEnv of the same N.

    Measured in a fresh process: 1024 Gymnasium envs (~100 MB) and EnvPool's import (~110 MB) stay
    out of the caller's peak memory (``run_all.py`` reports its own).
    """
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return str(pool.apply(_section, (seconds, repeats, sizes)))


def _section(seconds: float, repeats: int, sizes: tuple[int, ...]) -> str:
    contenders = _contenders()
    rows = [
        f"## Model-driven vector env on {ENV_ID} (steps/s summed over envs, random actions)",
        "",
        "`benchmarks/bench_model_vector.py`. "
        f"{_envpool_note()} Medians of {repeats}; ratios against `SyncVectorEnv` of the same N in this run.",
        "",
        "| vector env | N | steps/s | × SyncVectorEnv |",
        "|---|---:|---:|---:|",
    ]
    notes: list[str] = []
    for n in sizes:
        speeds: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(repeats):
            for name, make in contenders.items():
                # SyncVectorEnv resets each sub-env inside its step; the batched envs must show theirs.
                speeds[name].append(_rate(make, n, seconds, at_least=1 if name == BASELINE else EPISODE))
        medians = {name: statistics.median(values) for name, values in speeds.items()}
        for name, median in medians.items():
            rows.append(f"| {name} | {n} | {median:,.0f} | {median / medians[BASELINE]:.1f} |")
        if ENVPOOL in medians:
            ratio = medians[MODEL] / medians[ENVPOOL]
            notes.append(f"N = {n}: `make_model_vec` runs {ratio:.1f}x EnvPool's steps/s.")
    if notes:
        rows += ["", " ".join(notes)]
    return "\n".join(rows) + "\n"


BASELINE = "gymnasium `SyncVectorEnv` (baseline)"
MODEL = "qgym `make_model_vec`"
ENVPOOL = "EnvPool, 1 thread"


def _contenders() -> dict[str, Callable[[int], Any]]:
    from qgym.envs.model_vector import make_model_vec
    from qgym.vec_adapter import SB3VecEnv  # imports torch: only in the measuring process

    contenders: dict[str, Callable[[int], Any]] = {
        BASELINE: lambda n: _Gymnasium(gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="sync")),
        MODEL: lambda n: _Gymnasium(make_model_vec(ENV_ID, num_envs=n)),
        "qgym `make_model_vec` in `SB3VecEnv`": lambda n: _SB3(SB3VecEnv(make_model_vec(ENV_ID, num_envs=n))),
    }
    if _envpool_version() is not None:
        contenders[ENVPOOL] = _envpool
    return contenders


def _rate(make: Callable[[int], Any], num_envs: int, seconds: float, at_least: int) -> float:
    venv = make(num_envs)
    venv.reset(0)
    actions = np.random.default_rng(0).integers(4, size=(64, num_envs))
    venv.step(actions[0])  # warm-up
    rate = vector_rate(venv.step, actions, seconds, at_least)
    venv.close()
    return rate


class _Gymnasium:
    """A Gymnasium vector env behind the two calls the timing loop makes."""

    def __init__(self, venv: Any) -> None:
        self.venv = venv

    def reset(self, seed: int) -> None:
        self.venv.reset(seed=seed)

    def step(self, actions: np.ndarray) -> None:
        self.venv.step(actions)

    def close(self) -> None:
        self.venv.close()


class _SB3(_Gymnasium):
    def reset(self, seed: int) -> None:
        self.venv.seed(seed)
        self.venv.reset()


def _envpool(num_envs: int) -> _Gymnasium:
    import envpool

    venv = envpool.make(ENV_ID, env_type="gymnasium", num_envs=num_envs, num_threads=1, seed=0)

    class _EnvPool(_Gymnasium):
        def reset(self, seed: int) -> None:
            self.venv.reset()

    return _EnvPool(venv)


def _envpool_version() -> str | None:
    try:
        import envpool
    except ImportError:
        return None
    return str(envpool.__version__)


def _envpool_note() -> str:
    version = _envpool_version()
    if version is None:
        return "EnvPool is not installed here (`pip install envpool`), so it has no row."
    return f"EnvPool {version} (C++, one thread, slippery like Gymnasium's)."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1024])
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="0.3 s per measurement, 1 repeat")
    args = parser.parse_args()
    seconds, repeats = (0.3, 1) if args.quick else (args.seconds, args.repeats)
    print(section(seconds, repeats, tuple(args.num_envs)))


if __name__ == "__main__":
    main()
