"""Pictures of the field figures: an episode as its field reads it, and the agent's figures beside the
optimal policy's.

The families say what to draw (:class:`qgym.envs.interface.EpisodeChart`: a trader's equity and
drawdown beside buy and hold, a farm's season day by day; :class:`~qgym.envs.interface.FieldReport`:
the figures with their intervals); this module draws any of them, never importing a family.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from qgym.envs.interface import EpisodeChart, FieldReport
from qgym.viewing.curves import save_figure

__all__ = ["plot_episode_chart", "plot_field_report", "write_evaluation_plots"]

_AGENT, _OPTIMAL, _OTHER = "tab:blue", "tab:green", "tab:gray"


def plot_episode_chart(chart: EpisodeChart, out: str | Path | None = None) -> Any:
    """The episode's panels stacked on one step axis, each with its title, unit and legend."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9.0, 2.4 * len(chart.panels) + 0.6), layout="constrained")
    axes = figure.subplots(len(chart.panels), 1, sharex=True, squeeze=False)[:, 0]
    colours = [_AGENT, _OTHER, _OPTIMAL, "tab:orange", "tab:red"]
    for ax, panel in zip(axes, chart.panels, strict=True):
        count = len(panel.lines)
        for index, ((label, values), colour) in enumerate(zip(panel.lines, colours, strict=False)):
            steps = np.arange(len(values))
            on_top = count - index  # the first line (the agent) drawn over the others
            if panel.fill:
                ax.fill_between(
                    steps, values, 0.0, step="post", alpha=0.3, color=colour, label=label, zorder=on_top
                )
                ax.step(steps, values, where="post", color=colour, linewidth=1.0, zorder=on_top)
            else:
                ax.step(steps, values, where="post", color=colour, label=label, linewidth=1.4, zorder=on_top)
        ax.set_title(panel.title, fontsize=10, loc="left")
        ax.set_ylabel(panel.ylabel)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    axes[-1].set_xlabel(chart.xlabel)
    figure.suptitle(chart.title)
    return save_figure(figure, out)


def plot_field_report(agent: FieldReport, optimal: FieldReport | None, out: str | Path | None = None) -> Any:
    """One small panel per figure: the agent's value with its 95% interval, and the optimal policy's
    (exact, or sampled with its interval) beside it; undefined figures say so."""
    from matplotlib.figure import Figure

    count = len(agent.figures)
    columns = 4
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(11.0, 1.9 * rows + 1.0), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).reshape(-1)
    for ax in axes[count:]:
        ax.set_axis_off()
    for ax, mine in zip(axes, agent.figures, strict=False):
        theirs = optimal.get(mine.spec.key) if optimal is not None else None
        points = [
            (
                "same episodes" if mine.spec.baseline else "agent",
                mine,
                _OTHER if mine.spec.baseline else _AGENT,
            )
        ]
        if theirs is not None:
            points.append(("optimal", theirs, _OPTIMAL))
        scale = 100.0 if mine.spec.unit == "%" else 1.0
        for y, (label, shown, colour) in enumerate(points):
            if shown.value is None:
                ax.text(0.5, 1 - y, "n/a", ha="center", va="center", transform=ax.get_yaxis_transform())
                continue
            if shown.interval is not None:
                low, high = (scale * bound for bound in shown.interval)
                ax.plot([low, high], [1 - y, 1 - y], color=colour, linewidth=2.5, alpha=0.6)
            ax.plot(scale * shown.value, 1 - y, "o", color=colour, label=label)
        ax.set_yticks([1, 0][: len(points)], labels=[label for label, _, _ in points][: len(points)])
        ax.set_ylim(-0.7, 1.7)
        ax.set_title(mine.spec.label, fontsize=9)
        ax.set_xlabel(mine.spec.quantity or "value", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.margins(x=0.25)
        ax.grid(axis="x", alpha=0.3)
    from matplotlib.lines import Line2D

    handles = [
        Line2D(
            [], [], color=_AGENT, marker="o", linewidth=2.5, label="agent: value, 95% interval over episodes"
        )
    ]
    if optimal is not None:
        handles.append(
            Line2D(
                [],
                [],
                color=_OPTIMAL,
                marker="o",
                linewidth=2.5,
                label="optimal policy: exact, or sampled with its interval",
            )
        )
    if any(figure.spec.baseline for figure in agent.figures):
        handles.append(
            Line2D(
                [], [], color=_OTHER, marker="o", linewidth=2.5, label="a baseline on the agent's episodes"
            )
        )
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8, frameon=False)
    figure.suptitle(
        f"{agent.title} over {agent.source}" + (", beside the optimal policy's" if optimal else "")
    )
    return save_figure(figure, out)


def write_evaluation_plots(
    chart: EpisodeChart | None, agent: FieldReport | None, optimal: FieldReport | None, folder: str | Path
) -> list[Path]:
    """``episode.png`` (the first evaluation episode) and ``figures.png`` (the figures beside the optimal
    policy's) in ``folder``; the paths written (none for an env without field figures)."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    if chart is not None:
        plot_episode_chart(chart, target / "episode.png")
        written.append(target / "episode.png")
    if agent is not None:
        plot_field_report(agent, optimal, target / "figures.png")
        written.append(target / "figures.png")
    return written
