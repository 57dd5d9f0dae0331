"""Walk-forward evaluation on the user's own prices: the out-of-sample prices cut into consecutive folds,
the model evaluated on each, the figures fold by fold (``qgym eval RUN --folds K``).

A model that only worked in one stretch of history shows it here: its Sharpe ratio and drawdowns move
from fold to fold. The model is not retrained between folds; to retrain on each stretch before testing
on the next, train with ``train_fraction`` moved forward, one run per fold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from qgym.envs.interface import HasWalkForward
from qgym.training.evaluation import Evaluation, evaluate
from qgym.training.field_metrics import unseen_prices

__all__ = ["FOLD_COLUMNS", "Fold", "evaluate_folds", "fold_lines"]

FOLD_COLUMNS = (
    "return",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "turnover",
    "costs",
    "hit_rate",
    "time_in_market",
    "buy_and_hold_return",
)
"""The figures a fold's row shows (definitions: the trading figures of :mod:`qgym.envs.trading.metrics`)."""


@dataclass(frozen=True)
class Fold:
    """One fold: which prices, and the evaluation on them."""

    label: str
    evaluation: Evaluation


def evaluate_folds(
    model: Any,
    env_id: str,
    folds: int,
    n_episodes: int = 100,
    seed: int = 0,
    env_wrapper: Any = None,
    env_kwargs: Mapping[str, Any] | None = None,
    split: str | None = None,
) -> tuple[list[Fold], str | None]:
    """The model evaluated on ``folds`` consecutive folds of the out-of-sample part of the user's prices
    (the ``split`` :func:`~qgym.training.field_metrics.unseen_prices` picks), ``n_episodes`` each
    (episode ``i`` of every fold seeded ``seed + i``), and the line saying which prices those are."""
    kwargs, note = unseen_prices(env_kwargs, split)
    env = gym.make(env_id, **kwargs)
    try:
        base = env.unwrapped
        if not isinstance(base, HasWalkForward):
            raise ValueError(f"--folds cuts a market env's own prices; {env_id} has none to cut")
        cuts = base.walk_forward_folds(folds)
    finally:
        env.close()
    return [
        Fold(label, evaluate(model, env_id, n_episodes, seed, env_wrapper, env_kwargs=fold_kwargs))
        for label, fold_kwargs in cuts
    ], note


def fold_lines(folds: list[Fold]) -> list[str]:
    """A row per fold of its figures (over its episodes, no intervals: the spread is across the rows)."""
    first = folds[0].evaluation.metrics
    if first is None:
        return [
            f"fold {i + 1} ({fold.label}): mean return {fold.evaluation.mean_return:.2f}"
            for i, fold in enumerate(folds)
        ]
    specs = [figure.spec for figure in first.figures if figure.spec.key in FOLD_COLUMNS]
    rows = []
    for i, fold in enumerate(folds):
        report = fold.evaluation.metrics
        assert report is not None
        figures = [report.get(spec.key) for spec in specs]
        rows.append(
            [f"{i + 1} {fold.label}", *("n/a" if f is None else f.text(interval=False) for f in figures)]
        )
    header = ["fold", *(spec.label for spec in specs)]
    widths = [max(len(row[column]) for row in [header, *rows]) + 2 for column in range(len(header))]
    lines = [
        f"walk-forward: {len(folds)} consecutive folds of your out-of-sample prices, "
        f"{folds[0].evaluation.n_episodes} episodes each (indices into the series; {first.note}):"
    ]
    for row in [header, *rows]:
        lines.append(
            ("  " + "".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))).rstrip()
        )
    return lines
