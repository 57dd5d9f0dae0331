"""One trial of ``qgym tune``: train from a trial's hyperparameters, report how it learns, score it.

A trial's score is :func:`qgym.training.evaluate`'s judgement of the trained model: the greedy policy's
exact share of the optimum where the env has an exact model, else its mean return's edge over the
env family's heuristic on the same seeded episodes, else its mean return. The same figure, measured on
fewer episodes where it is sampled, is reported :data:`REPORTS` times during training (Optuna's
intermediate values: the dashboard's curves, and what ``--pruner median`` prunes on). A trial is plain
data and a function, so it runs in this process or as a Ray task elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback

from qgym.training.evaluation import evaluate, exact_optimum, exact_return
from qgym.version import __version__

__all__ = [
    "REPORTS",
    "TrialScore",
    "TrialSettings",
    "TrialStoppedError",
    "metric_name",
    "run_trial",
    "score_meaning",
]

REPORTS = 10
"""Intermediate values a trial reports over its training."""
REPORT_EPISODES = 10
"""Episodes of an intermediate value where it is sampled (the final score takes ``eval_episodes``)."""


class TrialStoppedError(Exception):
    """Raised out of training when the reports' listener says stop (a pruned trial)."""

    def __init__(self, step: int) -> None:
        super().__init__(f"stopped at step {step:,}")
        self.step = step


@dataclass(frozen=True)
class TrialSettings:
    """What every trial of a study shares: the algorithm, the env, the base preset, the budget."""

    algo: str
    env_id: str
    base: dict[str, Any]
    steps: int
    seed: int
    eval_episodes: int


@dataclass(frozen=True)
class TrialScore:
    """A finished trial: its score and what the dashboard shows beside it (Optuna's user attributes)."""

    value: float
    attributes: dict[str, Any] = field(default_factory=dict)


def metric_name(env_id: str) -> str:
    """The score's name on ``env_id`` (Optuna's metric name, on the dashboard's axes)."""
    if exact_optimum(env_id) is not None:
        return "greedy policy, % of the exact optimum"
    return "mean return minus the heuristic's (same episodes)"


def score_meaning(env_id: str) -> str:
    """What a trial's score is on ``env_id``, in words."""
    if exact_optimum(env_id) is not None:
        return "the greedy policy's exact return as % of the exact optimum"
    return (
        "the mean return's edge over the env family's heuristic on the same episodes (else the mean return)"
    )


def run_trial(
    settings: TrialSettings,
    hyperparameters: dict[str, Any],
    number: int,
    report: Callable[[int, float], bool] | None = None,
) -> TrialScore:
    """Train trial ``number`` (seed ``settings.seed + number``) and score it. ``report(step, value)`` gets
    each intermediate value; when it returns True the trial stops (:class:`TrialStoppedError`)."""
    from stable_baselines3.common.logger import Logger

    from qgym.training.train import make_model

    seed = settings.seed + number
    block = {**settings.base, **hyperparameters, "n_timesteps": settings.steps}
    model = make_model(settings.algo, settings.env_id, block, seed)
    model.set_logger(Logger(folder=None, output_formats=[]))
    wrapper = block.get("env_wrapper")
    callback = None
    if report is not None:
        every = max(1, settings.steps // REPORTS)
        measure = _measure(settings, wrapper, seed)
        callback = _Reports(every, measure, report)
    model.learn(settings.steps, callback=callback)
    if callback is not None and callback.stopped_at is not None:
        raise TrialStoppedError(callback.stopped_at)
    evaluation = evaluate(
        model, settings.env_id, settings.eval_episodes, seed=seed + 10_000, env_wrapper=wrapper
    )
    attributes: dict[str, Any] = {
        "env_id": settings.env_id,
        "algo": settings.algo,
        "seed": seed,
        "n_timesteps": settings.steps,
        "mean_return": evaluation.mean_return,
        "qgym": __version__,
    }
    if evaluation.percent_of_optimum is not None:
        attributes["share_of_optimum_percent"] = evaluation.percent_of_optimum
        attributes["exact_return"] = evaluation.exact_return
        return TrialScore(float(evaluation.percent_of_optimum), attributes)
    if evaluation.heuristic_return is not None:
        attributes["heuristic_return"] = evaluation.heuristic_return
        return TrialScore(evaluation.mean_return - evaluation.heuristic_return, attributes)
    return TrialScore(evaluation.mean_return, attributes)


def _measure(settings: TrialSettings, wrapper: Any, seed: int) -> Callable[[Any], float | None]:
    """The score's figure on a model in training: exact where it can be, else sampled on fewer episodes."""
    optimum = exact_optimum(settings.env_id)

    def measure(model: Any) -> float | None:
        if optimum is not None:
            value = exact_return(model, settings.env_id, wrapper)
            if value is not None:
                from qgym.scoring import percent_of_optimum

                return percent_of_optimum(value, optimum)
        episodes = min(REPORT_EPISODES, settings.eval_episodes)
        evaluation = evaluate(
            model, settings.env_id, episodes, seed=seed + 10_000, env_wrapper=wrapper, field_metrics=False
        )
        if evaluation.heuristic_return is not None:
            return evaluation.mean_return - evaluation.heuristic_return
        return evaluation.mean_return

    return measure


class _Reports(BaseCallback):
    """Every ``every`` steps, the score's figure reported as the intermediate value of that step."""

    def __init__(
        self, every: int, measure: Callable[[Any], float | None], report: Callable[[int, float], bool]
    ) -> None:
        super().__init__()
        self.every, self.measure, self.report = every, measure, report
        self.next_step = every
        self.stopped_at: int | None = None

    def _on_step(self) -> bool:
        if self.num_timesteps < self.next_step:
            return True
        step = self.next_step  # a multiple of every: the same steps in every trial
        while self.next_step <= self.num_timesteps:
            self.next_step += self.every
        value = self.measure(self.model)
        if value is not None and self.report(step, float(value)):
            self.stopped_at = step
            return False
        return True
