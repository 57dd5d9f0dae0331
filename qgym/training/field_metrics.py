"""What evaluation adds to a return: the env family's field figures, the optimal policy's beside them,
the look-ahead alarm, and which seeds and prices the evaluation episodes came from.

The figures are the family's (a trader's Sharpe ratio and drawdowns, a farm's accounts), asked through
:class:`qgym.envs.interface.HasFieldMetrics`; this module collects an episode's record when it ends,
lays the agent's block beside the optimal policy's, and formats it. It never imports a family.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from qgym.envs.interface import FieldReport, Figure, HasFieldMetrics
from qgym.training.runs import read_run_config

__all__ = [
    "ALARM_Z",
    "EVALUATION_SEED_OFFSET",
    "LookAheadCheck",
    "RecordCollector",
    "RunContext",
    "episode_lines",
    "field_lines",
    "look_ahead_check",
    "run_context",
    "seed_line",
    "unseen_prices",
]

EVALUATION_SEED_OFFSET = 20_000
"""A run's final evaluation (``qgym train``, and ``qgym eval`` of its folder) resets its episodes with
seeds from the run's seed plus this on: far from the seeds its training envs were started from."""
ALARM_Z = 5.0
"""The look-ahead alarm fires when the sampled mean return exceeds the exact optimum by more than this
many standard errors. No policy that sees only the past can expect more than the optimum, so for an
honest one the excess is the luck of the draw. The standard error is the sample's (standard deviation,
ddof 1, over the square root of the episodes) or, where the exact model gives it, the optimal policy's
own return deviation over that root if it is larger: a sample that happens to spread little then
cannot inflate the score. With that floor an honest policy passes 5 standard errors at most as often
as the optimal policy's own mean passes 5 of its exact standard errors: 2.9e-7 by the normal tail
(1.2e-6 by Student's t over 100 episodes without the floor), so 10 seeds stay silent but for a few
times in a million. Measured (``benchmarks/bench_field_metrics.py``, 20,000 evaluations of 100
episodes of the exact optimal policy): none passed 5 on Trading-Chain, GridFarm-1x1 and 1x2 (largest
3.8 to 4.1); on Trading-ChainCostly one evaluation in 20,000 scored 5.6, and three more runs of 20,000
topped out at 4.2 to 4.6, so the rate there is near 1 in 80,000 (10 seeds: about 1 in 8,000).
A leak of the next price scores 30 to 40."""
USER_DATA = ("prices", "csv_path")
"""The ``gym.make`` arguments that give a market env the user's own prices."""


@dataclass(frozen=True)
class LookAheadCheck:
    """The sampled mean against the exact optimum: how many standard errors above it, and the verdict."""

    mean: float
    optimum: float
    standard_error: float
    """Of the sampled mean (see :data:`ALARM_Z`)."""
    n_episodes: int
    exact_floor: bool = False
    """The standard error is at least the optimal policy's exact one (else the sample's alone)."""
    threshold: float = ALARM_Z

    @property
    def z(self) -> float:
        """(mean - optimum) / standard error: above 0 when the mean beats the optimum."""
        return (self.mean - self.optimum) / self.standard_error

    @property
    def fires(self) -> bool:
        return self.z > self.threshold

    @property
    def false_alarm_rate(self) -> float:
        """The chance an honest policy's mean passes the threshold (the optimal policy's own mean passes
        it this often; a worse policy's less): the normal tail with the exact floor, else Student's t
        with n - 1 degrees of freedom."""
        if self.exact_floor:
            return 0.5 * math.erfc(self.threshold / math.sqrt(2))
        from scipy import stats

        return float(stats.t.sf(self.threshold, self.n_episodes - 1))

    def lines(self) -> list[str]:
        """The alarm in plain words when it fires; the luck-of-the-draw note when the mean beats the
        optimum by less; nothing otherwise."""
        if self.fires:
            return [
                f"LOOK-AHEAD ALARM: the sampled mean return {self.mean:.2f} exceeds the exact optimum "
                f"{self.optimum:.2f} by {self.z:.1f} standard errors (an honest policy's mean passes "
                f"{self.threshold:g} with probability {self.false_alarm_rate:.0e} over {self.n_episodes} "
                "episodes). No policy that sees only the past can do this: look for future information in "
                "the observation (a feature computed with later prices or weather, a label shifted the wrong "
                "way, a wrapper that peeks)."
            ]
        if self.z > 0:
            return [
                f"(the sampled mean beats the optimum by luck of the draw, {self.z:.1f} standard errors: "
                f"the optimum is an expectation, a mean of {self.n_episodes} episodes scatters around it)"
            ]
        return []


def look_ahead_check(
    mean: float, std: float, n_episodes: int, optimum: float | None, optimal_std: float | None = None
) -> LookAheadCheck | None:
    """The check of a sampled mean (of returns with population standard deviation ``std``) against the
    exact optimum, its standard error floored by the optimal policy's return deviation ``optimal_std``
    when given; None without an optimum, a second episode or a spread."""
    if optimum is None or n_episodes < 2:
        return None
    error = std / math.sqrt(n_episodes - 1)
    if optimal_std is not None:
        error = max(error, optimal_std / math.sqrt(n_episodes))
    if not error > 0:
        return None
    return LookAheadCheck(mean, optimum, error, n_episodes, exact_floor=optimal_std is not None)


class RecordCollector:
    """Called at the end of each evaluation episode: keeps the env's record (its field figures) and
    the first episode's chart (for a picture)."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        base = env.unwrapped
        self.source: HasFieldMetrics | None = base if isinstance(base, HasFieldMetrics) else None
        self.records: list[dict[str, float | None]] = []
        self.first_chart: Any = None

    def __call__(self, episode: int) -> None:
        if self.source is None:
            return
        self.records.append(dict(self.source.episode_metrics()))
        if episode == 0:
            self.first_chart = self.source.episode_chart()

    def report(self) -> FieldReport | None:
        """The agent's figures over the episodes collected, or None for an env without field figures."""
        if self.source is None or not self.records:
            return None
        return self.source.field_report(self.records)

    def optimal(self, horizon: int) -> FieldReport | None:
        """The optimal policy's figures, or None where the env has none."""
        return None if self.source is None else self.source.optimal_report(horizon)


@dataclass(frozen=True)
class RunContext:
    """What a model's run folder says about evaluating it: where its evaluation seeds start, the seeds
    its training envs started from, and the env arguments it trained with."""

    evaluation_seed: int = EVALUATION_SEED_OFFSET
    training_seeds: tuple[int, ...] | None = None
    env_kwargs: dict[str, Any] | None = None


def run_context(model_path: Any) -> RunContext:
    """The :class:`RunContext` of the model at ``model_path`` from its ``config.yml`` (defaults without one).

    A run trained with seed ``s`` on ``n_envs`` envs started them from seeds ``s .. s + n_envs - 1``
    (qgym's native vector env draws all of them from seed ``s``); its final evaluation used seeds from
    ``s + EVALUATION_SEED_OFFSET`` on, and so does ``qgym eval`` by default: the same episodes.
    """
    config = read_run_config(model_path)
    if config is None:
        return RunContext()
    seed = config.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool):
        return RunContext()
    hyperparameters = config.get("hyperparameters")
    n_envs = hyperparameters.get("n_envs", 1) if isinstance(hyperparameters, dict) else 1
    n_envs = n_envs if isinstance(n_envs, int) and not isinstance(n_envs, bool) and n_envs > 0 else 1
    kwargs = config.get("env_kwargs")
    if kwargs is not None and not (isinstance(kwargs, dict) and all(isinstance(k, str) for k in kwargs)):
        raise ValueError(f"env_kwargs in the run configuration beside {model_path} must be a mapping")
    return RunContext(seed + EVALUATION_SEED_OFFSET, tuple(range(seed, seed + n_envs)), kwargs)


def field_lines(
    agent: FieldReport, optimal: FieldReport | None, who: str = "agent", other: str = "optimal policy"
) -> list[str]:
    """The block of a family's figures: one row per figure, the agent's (``who``) with its 95% interval
    and the optimal policy's beside it (column ``other``; exact or sampled, as marked)."""
    head = f"{agent.title} over {agent.source}"
    head += ", beside the optimal policy's" if optimal is not None and other == "optimal policy" else ""
    lines = [head + (f" ({agent.note})" if agent.note else "") + ":"]
    width = max(len(figure.spec.label) for figure in agent.figures) + 2
    column = max(len(f"{who} [95% interval]"), *(len(figure.text()) for figure in agent.figures)) + 2
    lines.append(f"  {'figure':<{width}}{who + ' [95% interval]':<{column}}" + (other if optimal else ""))
    for figure in agent.figures:
        row = f"  {figure.spec.label:<{width}}{figure.text():<{column}}"
        if optimal is not None:
            theirs = optimal.get(figure.spec.key)
            row += "-" if theirs is None else theirs.text() + (f" ({theirs.how})" if theirs.how else "")
        lines.append(row.rstrip())
    if optimal is not None:
        lines.append(f"  the optimal policy: {optimal.source}")
    return lines


def episode_lines(report: FieldReport, optimal: FieldReport | None = None, width: int = 110) -> list[str]:
    """An episode's figures in a few wrapped lines (``trading metrics: return 11.5, Sharpe ratio 0.123,
    ...``), then the optimal policy's averages (exact; ``*`` marks a sampled one) when given."""
    lines = _wrapped(f"{report.title}: ", [f"{f.spec.label} {_compact(f)}" for f in report.figures], width)
    if optimal is not None:
        items = [
            f"{f.spec.label} {_compact(f)}{'*' if f.how == 'sampled' else ''}"
            for f in optimal.figures
            if not f.spec.baseline
        ]
        sampled = any(f.how == "sampled" for f in optimal.figures)
        lead = "the optimal policy's average (exact" + ("; * sampled): " if sampled else "): ")
        lines += _wrapped(lead, items, width)
    return lines


def seed_line(first_seed: int, n_episodes: int, training_seeds: Sequence[int] | None) -> str:
    """Which seeds reset the evaluation episodes, and whether training started from any of them."""
    last = first_seed + n_episodes - 1
    line = (
        f"evaluation episodes reset with seeds {first_seed:,}-{last:,}"
        if n_episodes > 1
        else f"the evaluation episode reset with seed {first_seed:,}"
    )
    if training_seeds is None:
        return line + " (training's seeds unknown: no run config beside the model)"
    seeds = sorted(set(training_seeds))
    shown = f"{seeds[0]:,}" if len(seeds) == 1 else f"{seeds[0]:,}-{seeds[-1]:,}"
    shared = [seed for seed in seeds if first_seed <= seed <= last]
    if shared:
        return (
            line + f"; WARNING: training's envs started from seeds {shown}, and {len(shared)} of them are "
            "among these: those episodes may be ones it trained on (pass another --seed)"
        )
    return line + f": draws training never saw (training's envs started from seeds {shown}, none of these)"


def unseen_prices(
    env_kwargs: Mapping[str, Any] | None, split: str | None = None
) -> tuple[dict[str, Any], str | None]:
    """The ``gym.make`` arguments to evaluate with, given those the run trained with, and a line saying
    which prices that is. For the user's own prices (``prices=`` or ``csv_path=``) a run trained on
    ``split="train"`` (the default) is evaluated on ``split="test"``, the prices it never saw, unless
    ``split`` says otherwise; other arguments pass unchanged."""
    kwargs = dict(env_kwargs or {})
    if not any(key in kwargs for key in USER_DATA):
        if split is not None:
            raise ValueError(
                "--split chooses a part of your own prices; this run trained on no prices of yours"
            )
        return kwargs, None
    trained = kwargs.get("split", "train")
    fraction = kwargs.get("train_fraction", 0.8)
    if split is not None:
        kwargs["split"] = split
        return kwargs, f"your prices: trained on split={trained!r}, evaluated on split={split!r} as asked"
    if trained == "train":
        kwargs["split"] = "test"
        return kwargs, (
            f"your prices: trained on split='train' (the first {fraction:.0%}), evaluated on split='test' "
            "(the rest, never seen in training)"
        )
    if trained == "all":
        return (
            kwargs,
            "your prices: trained on all of them (split='all'), so none are unseen; evaluated on all",
        )
    return kwargs, f"your prices: trained and evaluated on split={trained!r}"


def _compact(figure: Figure) -> str:
    """A figure's value without its interval, whole counts without decimals."""
    value = figure.value
    if (
        value is not None
        and figure.spec.unit != "%"
        and float(value).is_integer()
        and figure.interval is None
    ):
        return f"{int(value)}{figure.spec.unit}"
    return figure.text(interval=False)


def _wrapped(lead: str, items: Sequence[str], width: int) -> list[str]:
    """``lead`` then the items joined by commas, wrapped at ``width`` with an indented continuation."""
    lines, line = [], lead
    for index, item in enumerate(items):
        piece = item + ("," if index < len(items) - 1 else "")
        if len(line) + len(piece) + 1 > width and line.strip() != lead.strip():
            lines.append(line.rstrip())
            line = "    "
        line += piece + " "
    lines.append(line.rstrip())
    return lines
