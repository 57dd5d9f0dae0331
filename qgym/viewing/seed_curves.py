"""The learning curves of a multi-seed run: every seed faint, the IQM over seeds with its 95% bootstrap
interval, and the exact optimum at 100%; the figures behind them in a CSV beside the PNG."""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from qgym.files import write_atomically
from qgym.training.seed_results import CurvePoint, SeedRun
from qgym.training.stats import summarize
from qgym.viewing.curves import save_figure

__all__ = ["plot_seed_curves"]

_SEED_COLOUR, _IQM_COLOUR, _ONLINE_COLOUR = "#4c72b0", "#c44e52", "#55a868"


def plot_seed_curves(run: SeedRun, out_dir: str | Path) -> list[Path]:
    """``seed_curves.png`` (greedy policy and online return over training) and ``seed_curves.csv``."""
    if not run.curves:
        raise ValueError(f"{run.folder} has no curves.csv rows to draw")
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    exact = all(point.exact and point.percent is not None for point in run.curves)
    greedy = _table(run.curves, (lambda p: p.percent) if exact else (lambda p: p.greedy_return))
    online = _table(run.curves, lambda p: p.online_return)
    figure = Figure(figsize=(11.0, 4.4), layout="constrained")
    left, right = figure.subplots(1, 2)
    name, seeds = run.env_id.removeprefix("qgym/"), len(run.results)
    rows = [
        *_panel(left, greedy, _IQM_COLOUR, "greedy policy"),
        *_panel(right, online, _ONLINE_COLOUR, "online return"),
    ]
    if exact:
        left.axhline(100.0, color="black", linestyle="--", linewidth=1.2)
        left.set_ylabel("greedy policy, % of the exact optimum (valued exactly)")
    else:
        left.set_ylabel("greedy policy, sampled mean return")
    left.set_title("greedy policy (what it would earn if it stopped exploring)", fontsize=10)
    right.set_ylabel("mean return of the last training episodes")
    right.set_title("online return (while exploring)", fontsize=10)
    for axes in (left, right):
        axes.set_xlabel("environment steps per seed")
        axes.grid(alpha=0.3)
    handles = [
        Line2D([], [], color=_SEED_COLOUR, alpha=0.35, linewidth=0.8, label="one seed"),
        Line2D([], [], color=_IQM_COLOUR, linewidth=2.0, label="IQM over seeds (greedy)"),
        Line2D([], [], color=_ONLINE_COLOUR, linewidth=2.0, label="IQM over seeds (online)"),
        Line2D([], [], color="0.6", linewidth=8, alpha=0.35, label="95% bootstrap interval of the IQM"),
    ]
    if exact:
        handles.append(Line2D([], [], color="black", linestyle="--", label="exact optimum (100%)"))
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8)
    figure.suptitle(f"{name}: {run.algo} over {seeds} seeds")
    out = Path(out_dir)
    save_figure(figure, out / "seed_curves.png")
    write_atomically(out / "seed_curves.csv", _csv(rows))
    return [out / "seed_curves.png", out / "seed_curves.csv"]


def _table(points: list[CurvePoint], value: Any) -> dict[int, dict[int, float]]:
    """``{step: {seed: value}}`` without the missing values."""
    table: dict[int, dict[int, float]] = defaultdict(dict)
    for point in points:
        number = value(point)
        if number is not None and not math.isnan(number):
            table[point.step][point.seed] = float(number)
    return dict(sorted(table.items()))


def _panel(axes: Any, table: dict[int, dict[int, float]], colour: str, figure: str) -> list[list[Any]]:
    """Draw each seed and the IQM with its interval; return the CSV rows of the IQM line."""
    steps = list(table)
    seeds = sorted({seed for values in table.values() for seed in values})
    for seed in seeds:
        xs = [step for step in steps if seed in table[step]]
        axes.plot(xs, [table[step][seed] for step in xs], color=_SEED_COLOUR, alpha=0.18, linewidth=0.8)
    rows, centre, low, high = [], [], [], []
    for step in steps:
        stats = summarize(list(table[step].values()))
        interval = stats.iqm_interval
        lo = stats.iqm if interval.low is None else interval.low
        hi = stats.iqm if interval.high is None else interval.high
        centre.append(stats.iqm)
        low.append(lo)
        high.append(hi)
        rows.append([figure, step, stats.n, stats.iqm, lo, hi, stats.median, stats.worst])
    axes.fill_between(steps, low, high, color=colour, alpha=0.25, linewidth=0)
    axes.plot(
        steps, centre, color=colour, linewidth=2.0, marker="o" if len(steps) <= 30 else None, markersize=3
    )
    return rows


def _csv(rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["figure", "step", "seeds", "iqm", "iqm_low_95", "iqm_high_95", "median", "worst"])
    writer.writerows([[cell if not isinstance(cell, float) else repr(cell) for cell in row] for row in rows])
    return buffer.getvalue().encode("utf-8")
