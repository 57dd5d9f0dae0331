"""``qgym eval``: a run folder or a model file judged on its env, and every seed of a multi-seed run.

A run folder names its env, the env's arguments (``env_kwargs``) and wrappers in ``config.yml``
(:func:`qgym.training.models.env_for_model`); a multi-seed run folder (``qgym train --seeds N``) holds
one ordinary run folder per seed, ``seed_N/``, and is judged as a distribution over them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym

from qgym.scoring import share_of_optimum
from qgym.training.evaluation import Evaluation, evaluate
from qgym.training.models import env_for_model, load_model, locate_model

__all__ = ["evaluate_run", "evaluate_seeds", "seed_folders"]


def seed_folders(path: str | Path) -> list[Path] | None:
    """The ``seed_N`` folders of a multi-seed run folder, by N; None for a model file or a one-seed run."""
    folder = Path(path)
    if not folder.is_dir() or (folder / "model.zip").is_file():
        return None
    seeds = [child for child in folder.glob("seed_*") if child.is_dir() and child.name[5:].isdigit()]
    if not seeds:
        if (folder / "seeds.csv").is_file():
            raise ValueError(f"{folder} is a multi-seed run without its seed_N folders: nothing to evaluate")
        return None
    return sorted(seeds, key=lambda child: int(child.name[5:]))


def evaluate_run(
    model_path: str | Path,
    env_id: str | None,
    env_kwargs: dict[str, Any] | None,
    episodes: int,
    seed: int,
    trust: bool = False,
) -> tuple[Evaluation, str]:
    """The model's evaluation on its env (``env_id`` and ``env_kwargs`` when given, else its run's), and
    a line naming the model and the env."""
    path = locate_model(model_path)
    env = env_for_model(path, env_id, env_kwargs, trust)
    made = gym.make(env.env_id, **env.env_kwargs)
    try:
        loaded = load_model(path, made, env.env_id, trust)
    finally:
        made.close()
    evaluation = evaluate(
        loaded.model,
        env.env_id,
        episodes,
        seed=seed,
        env_wrapper=loaded.env_wrapper,
        env_kwargs=env.env_kwargs,
    )
    where = f"{path} on {env.env_id}" + (f" with env_kwargs {env.env_kwargs}" if env.env_kwargs else "")
    return evaluation, where


def evaluate_seeds(
    folders: Sequence[Path],
    env_id: str | None,
    env_kwargs: dict[str, Any] | None,
    episodes: int,
    seed: int,
    trust: bool = False,
    report: Callable[[str], None] | None = None,
) -> list[str]:
    """Evaluate every seed's model (``report`` hears a line each) and return the lines of their
    distribution: the greedy policy's exact share of the optimum (or its sampled mean), IQM with its
    95% bootstrap interval over seeds, median and worst seed."""
    from qgym.training.stats import describe, summarize

    say = report or (lambda line: None)
    run = folders[0].parent
    say(
        f"{run}: {len(folders)} seeds, each judged on {episodes} episodes (one alone: qgym eval {folders[0]})"
    )
    evaluations = []
    for folder in folders:
        evaluation, _ = evaluate_run(folder, env_id, env_kwargs, episodes, seed, trust)
        evaluations.append(evaluation)
        say(f"{folder.name}: {_one_line(evaluation)}")
    first = evaluations[0]
    lines = [f"{len(evaluations)} seeds of {run} on {first.env_id}:"]
    percents = [e.percent_of_optimum for e in evaluations if e.exact_return is not None]
    if first.optimum is not None and len(percents) == len(evaluations):
        lines.append(
            describe(
                f"greedy policy valued exactly, % of the exact optimum {first.optimum:.2f}",
                summarize([p for p in percents if p is not None]),
                ".1f",
                "%",
            )
        )
    lines.append(
        describe(
            f"sampled mean return of the greedy policy ({episodes} episodes)",
            summarize([e.mean_return for e in evaluations]),
        )
    )
    return lines


def _one_line(evaluation: Evaluation) -> str:
    sampled = f"sampled mean {evaluation.mean_return:.2f} (standard error {evaluation.standard_error:.2f})"
    if evaluation.exact_return is not None and evaluation.optimum is not None:
        share = share_of_optimum(evaluation.exact_return, evaluation.optimum)
        return f"greedy policy, valued exactly: {share}; {sampled}"
    return sampled
