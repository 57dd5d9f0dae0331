"""``qgym compare RUN_A RUN_B``: two multi-seed runs on one env, figure by figure, with intervals.

Each figure both runs have gets the probability of improvement ``P(A > B)`` (a seed of A against a
seed of B, ties half) and the IQM difference, each with a 95% bootstrap interval over seeds
(:mod:`qgym.training.stats`). An interval that excludes 0.5 (or 0) is a difference the seeds support.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from qgym.training.seed_results import SeedRun, read_seed_run
from qgym.training.stats import Comparison, compare, iqm
from qgym.validation import brief

__all__ = ["FIGURES", "compare_runs"]

FIGURES = (
    ("exact_return", "greedy policy's exact expected return"),
    ("sampled_return", "greedy policy's sampled mean return"),
    ("heuristic_difference", "greedy policy minus the heuristic on the same episodes"),
    ("online_return", "online return (last training episodes, exploring)"),
)
"""The figures compared, in order, when both runs have them (higher is better for each)."""


def compare_runs(first: str | Path, second: str | Path) -> list[str]:
    """The lines ``qgym compare`` prints; a ValueError says why two runs cannot be compared."""
    a, b = read_seed_run(first), read_seed_run(second)
    if a.env_id != b.env_id:
        raise ValueError(
            f"{a.folder} is on {a.env_id} and {b.folder} on {b.env_id}: returns of two envs do not compare"
        )
    kwargs_a, kwargs_b = a.config.get("env_kwargs") or {}, b.config.get("env_kwargs") or {}
    if kwargs_a != kwargs_b:
        raise ValueError(
            f"{a.folder} and {b.folder} are on {a.env_id} made with other arguments ({brief(kwargs_a)} "
            f"against {brief(kwargs_b)}, their config.yml's env_kwargs): returns of two envs do not compare"
        )
    lines = [
        f"A = {a.folder} ({_who(a)}), B = {b.folder} ({_who(b)}), on {a.env_id}",
        "P(A > B): the chance a seed of A beats a seed of B (ties count half); intervals are 95% "
        "bootstrap intervals over seeds",
    ]
    wrappers = [_env_wrapper(run) for run in (a, b)]
    if wrappers[0] != wrappers[1]:
        lines.append(
            f"(A trains behind env_wrapper {brief(wrappers[0])}, B behind {brief(wrappers[1])}: every figure "
            "is in the env's own rewards, so they compare)"
        )
    compared = 0
    for name, label in FIGURES:
        values_a, values_b = _present(a, name), _present(b, name)
        if values_a.size == 0 or values_b.size == 0:
            continue
        compared += 1
        result = compare(values_a, values_b)
        lines.append(
            f"{label}: IQM A {float(iqm(values_a)):.2f}, B {float(iqm(values_b)):.2f}; "
            f"P(A > B) = {result.probability:.2f} {result.probability_interval.text()}; "
            f"IQM A - B {result.iqm_difference:+.2f} {result.iqm_difference_interval.text('+.2f')}"
            f" -> {_verdict(result)}"
        )
    if compared == 0:
        raise ValueError(f"{a.folder} and {b.folder} share no figure to compare")
    return lines


def _env_wrapper(run: SeedRun) -> object:
    block = run.config.get("hyperparameters")
    return block.get("env_wrapper") if isinstance(block, dict) else None


def _who(run: SeedRun) -> str:
    return f"{run.algo}, {len(run.results)} seed{'s' if len(run.results) != 1 else ''}"


def _present(run: SeedRun, name: str) -> np.ndarray:
    values = run.column(name)
    present: np.ndarray = values[~np.isnan(values)]
    return present


def _verdict(result: Comparison) -> str:
    interval = result.probability_interval
    if interval.low is None or interval.high is None:
        return "one seed on a side: no interval, no verdict"
    if interval.low > 0.5:
        return "A better"
    if interval.high < 0.5:
        return "B better"
    if math.isclose(result.probability, 0.5) and interval.low == interval.high:
        return "the same on every seed"
    return "no difference the seeds support"
