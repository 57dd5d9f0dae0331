"""The learning curves of a multi-seed run: every seed faint, the IQM over seeds with its 95% bootstrap
interval, and the exact optimum at 100%; the figures behind them in a CSV beside the PNG."""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qgym.files import write_atomically
from qgym.training.seed_results import CurvePoint, SeedRun
from qgym.training.stats import summarize
from qgym.viewing.curves import save_figure

__all__ = ["plot_seed_curves"]

_SEED_COLOUR = "#4c72b0"
_RUN_COLOURS = ("#c44e52", "#55a868", "#8172b2", "#dd8452", "#64b5cd", "#937860")


def plot_seed_curves(runs: SeedRun | Sequence[SeedRun], out_dir: str | Path) -> list[Path]:
    """``seed_curves.png`` (the greedy policy and the online return over training, the IQM over seeds
    with its 95% interval; every seed faint when there is one run) and ``seed_curves.csv``.

    Several runs on one env (e.g. Q-learning and SARSA) are drawn together, a colour each."""
    runs = [runs] if isinstance(runs, SeedRun) else list(runs)
    for run in runs:
        if not run.curves:
            raise ValueError(f"{run.folder} has no curves.csv rows to draw")
        if run.env_id != runs[0].env_id:
            raise ValueError(
                f"{run.folder} is on {run.env_id}, {runs[0].folder} on {runs[0].env_id}: one env a plot"
            )
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    exact = all(point.exact and point.percent is not None for run in runs for point in run.curves)
    figure = Figure(figsize=(11.0, 4.6), layout="constrained")
    left, right = figure.subplots(1, 2)
    rows, handles = [], []
    for run, colour in zip(runs, _RUN_COLOURS * len(runs), strict=False):
        label = f"{run.algo} ({len(run.results)} seeds)" if len(runs) > 1 else run.algo
        greedy = _table(run.curves, (lambda p: p.percent) if exact else (lambda p: p.greedy_return))
        online = _table(run.curves, lambda p: p.online_return)
        faint = len(runs) == 1
        rows += _panel(left, greedy, colour, faint, [label, "greedy policy"])
        rows += _panel(right, online, colour, faint, [label, "online return"])
        handles.append(Line2D([], [], color=colour, linewidth=2.0, label=f"{label}: IQM over seeds"))
    if len(runs) == 1:
        handles.insert(0, Line2D([], [], color=_SEED_COLOUR, alpha=0.35, linewidth=0.8, label="one seed"))
    handles.append(
        Line2D([], [], color="0.6", linewidth=8, alpha=0.35, label="95% bootstrap interval of the IQM")
    )
    if exact:
        left.axhline(100.0, color="black", linestyle="--", linewidth=1.2)
        left.set_ylabel("greedy policy, % of the exact optimum (valued exactly)")
        handles.append(Line2D([], [], color="black", linestyle="--", label="exact optimum (100%)"))
    else:
        left.set_ylabel("greedy policy, sampled mean return")
    left.set_title("greedy policy (what it would earn if it stopped exploring)", fontsize=10)
    _focus_on_the_end(right, [point for run in runs for point in run.curves])
    right.set_ylabel("mean return of the last training episodes")
    right.set_title("online return (while exploring)", fontsize=10)
    for axes in (left, right):
        axes.set_xlabel("environment steps per seed")
        axes.grid(alpha=0.3)
    figure.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4), fontsize=8)
    name = runs[0].env_id.removeprefix("qgym/")
    who = runs[0].algo if len(runs) == 1 else " vs ".join(run.algo for run in runs)
    figure.suptitle(f"{name}: {who} over {' / '.join(str(len(run.results)) for run in runs)} seeds")
    out = Path(out_dir)
    save_figure(figure, out / "seed_curves.png")
    write_atomically(out / "seed_curves.csv", _csv(rows))
    return [out / "seed_curves.png", out / "seed_curves.csv"]


def _focus_on_the_end(axes: Any, points: list[CurvePoint]) -> None:
    """Keep the online panel on the last three quarters of training when the first episodes (all
    exploration) would squash the differences between the runs; say so on the axes."""
    last = max(point.step for point in points)
    values = [p.online_return for p in points if not math.isnan(p.online_return)]
    later = [p.online_return for p in points if p.step >= last / 4 and not math.isnan(p.online_return)]
    if not later or not values:
        return
    low, high = min(later), max(later)
    margin = 0.1 * (high - low) or 1.0
    if min(values) < low - 5 * margin:
        axes.set_ylim(low - margin, high + margin)
        axes.text(0.99, 0.01, "the first episodes are below the axis", transform=axes.transAxes,
                  ha="right", va="bottom", fontsize=7, color="0.35")  # fmt: skip


def _table(points: list[CurvePoint], value: Any) -> dict[int, dict[int, float]]:
    """``{step: {seed: value}}`` without the missing values."""
    table: dict[int, dict[int, float]] = defaultdict(dict)
    for point in points:
        number = value(point)
        if number is not None and not math.isnan(number):
            table[point.step][point.seed] = float(number)
    return dict(sorted(table.items()))


def _panel(
    axes: Any, table: dict[int, dict[int, float]], colour: str, faint: bool, names: list[str]
) -> list[list[Any]]:
    """Draw the IQM with its interval (and each seed, faint); return the CSV rows of the IQM line."""
    steps = list(table)
    if faint:
        for seed in sorted({seed for values in table.values() for seed in values}):
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
        rows.append([*names, step, stats.n, stats.iqm, lo, hi, stats.median, stats.worst])
    axes.fill_between(steps, low, high, color=colour, alpha=0.25, linewidth=0)
    marker = "o" if len(steps) <= 30 else None
    axes.plot(steps, centre, color=colour, linewidth=2.0, marker=marker, markersize=3)
    return rows


def _csv(rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["run", "figure", "step", "seeds", "iqm", "iqm_low_95", "iqm_high_95", "median", "worst"])
    writer.writerows([[cell if not isinstance(cell, float) else repr(cell) for cell in row] for row in rows])
    return buffer.getvalue().encode("utf-8")
