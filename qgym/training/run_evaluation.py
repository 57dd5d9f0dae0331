"""``qgym eval``: a run folder or a model file judged on its env, and every seed of a multi-seed run.

A run folder names its env, the env's arguments (``env_kwargs``) and wrappers in ``config.yml``
(:func:`qgym.training.models.env_for_model`); a multi-seed run folder (``qgym train --seeds N``) holds
one ordinary run folder per seed, ``seed_N/``, and is judged as a distribution over them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym

from qgym.scoring import share_of_optimum
from qgym.training.evaluation import Evaluation, evaluate
from qgym.training.field_metrics import RunContext, run_context
from qgym.training.models import LoadedModel, RunEnv, env_for_model, load_model, locate_model

__all__ = ["LoadedRun", "evaluate_run", "evaluate_seeds", "load_run", "seed_folders"]


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


@dataclass(frozen=True)
class LoadedRun:
    """A model loaded for the env it plays (its run's, or the one named), with its run's seeds."""

    path: Path
    env: RunEnv
    loaded: LoadedModel
    context: RunContext

    @property
    def where(self) -> str:
        """The model and the env, in a line."""
        kwargs = f" with env_kwargs {self.env.env_kwargs}" if self.env.env_kwargs else ""
        return f"{self.path} on {self.env.env_id}{kwargs}"

    def seed(self, given: int | None) -> int:
        """The first evaluation episode's seed: ``given``, else the run's own final evaluation's."""
        return self.context.evaluation_seed if given is None else given


def load_run(
    model_path: str | Path, env_id: str | None, env_kwargs: dict[str, Any] | None, trust: bool = False
) -> LoadedRun:
    """The model at ``model_path`` loaded on its env: ``env_id`` and ``env_kwargs`` when given, else its
    run's (:func:`qgym.training.models.env_for_model`: the modules a run names are never imported)."""
    path = locate_model(model_path)
    env = env_for_model(path, env_id, env_kwargs, trust)
    made = gym.make(env.env_id, **env.env_kwargs)
    try:
        loaded = load_model(path, made, env.env_id, trust)
    finally:
        made.close()
    return LoadedRun(path, env, loaded, run_context(path))


def evaluate_run(
    model_path: str | Path,
    env_id: str | None,
    env_kwargs: dict[str, Any] | None,
    episodes: int,
    seed: int | None,
    trust: bool = False,
    split: str | None = None,
) -> tuple[Evaluation, str]:
    """The model's evaluation on its env (:func:`load_run`), from ``seed`` (default: the episodes of its
    run's own final evaluation), and a line naming the model and the env."""
    run = load_run(model_path, env_id, env_kwargs, trust)
    evaluation = evaluate(
        run.loaded.model,
        run.env.env_id,
        episodes,
        seed=run.seed(seed),
        env_wrapper=run.loaded.env_wrapper,
        env_kwargs=run.env.env_kwargs,
        split=split,
        training_seeds=run.context.training_seeds,
    )
    return evaluation, run.where


def evaluate_seeds(
    folders: Sequence[Path],
    env_id: str | None,
    env_kwargs: dict[str, Any] | None,
    episodes: int,
    seed: int | None,
    trust: bool = False,
    report: Callable[[str], None] | None = None,
    split: str | None = None,
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
        evaluation, _ = evaluate_run(folder, env_id, env_kwargs, episodes, seed, trust, split)
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
