"""The greedy policy in every state of a small env, one card a state: what the slides' Q-table says to do
in each row, with the state's value, and the actions that change nothing there (the env's action mask).

Drawn for envs whose states a grid picture cannot show all at once: the trading chains (no grid) and
the small farms (one field picture shows one arrangement of crops; the 1x1 farm has seven states).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from qgym.viewing.curves import figure_and_axes, save_figure

__all__ = ["ALL_STATES", "plot_state_policy", "state_masks"]

ALL_STATES = 128
"""Envs with at most this many states get every state drawn (the Q-table, the policy cards)."""


def state_masks(env: gym.Env[Any, Any], states: Sequence[int]) -> NDArray[np.bool_] | None:
    """The env's action mask in each of ``states`` (rows: states, columns: actions), read by placing
    the env in each state (its public ``state_index``) and asking ``action_masks()``; None for an env
    that offers neither. The env is left in another state: give a copy made for the picture."""
    base = env.unwrapped
    setter = getattr(type(base), "state_index", None)
    masks = getattr(base, "action_masks", None)
    if not (isinstance(setter, property) and setter.fset is not None and callable(masks)):
        return None
    rows = []
    for state in states:
        setter.fset(base, int(state))
        rows.append(np.asarray(masks(), dtype=np.bool_).reshape(-1))
    return np.stack(rows) if rows else None


def plot_state_policy(
    values: NDArray[np.float64],
    policy: NDArray[np.int64],
    labels: Sequence[str],
    action_names: Sequence[str],
    idle: NDArray[np.bool_] | None = None,
    title: str = "",
    out: str | Path | None = None,
    legend: str = "",
) -> Any:
    """One card per state, coloured by its value ``V(s) = max_a Q(s, a)``: the state's label at the top,
    the greedy action in the middle, the value at the bottom. A greedy action that changes nothing in
    its state (``idle[s, a]``) is written in brackets and grey. ``legend`` says how to read the labels."""
    from matplotlib import colormaps
    from matplotlib.lines import Line2D

    n = len(labels)
    columns = n if n <= 10 else math.ceil(math.sqrt(n * 2.2))
    rows = math.ceil(n / columns)
    grid = np.full(rows * columns, np.nan)
    grid[:n] = values
    figure, axes = figure_and_axes(max(6.0, 1.15 * columns + 1.6), 1.9 + 0.8 * rows)
    colours = colormaps["RdYlGn"].with_extremes(bad="1.0")
    image = axes.imshow(np.ma.masked_invalid(grid.reshape(rows, columns)), cmap=colours, aspect="auto")
    figure.colorbar(image, ax=axes, label="V(s) = max_a Q(s, a)", shrink=0.9)
    kinds = set()
    for index in range(n):
        row, col = divmod(index, columns)
        action = int(policy[index])
        name = action_names[action] if 0 <= action < len(action_names) else str(action)
        does_nothing = action >= 0 and idle is not None and bool(idle[index, action])
        kind = "none" if action < 0 else "idle" if does_nothing else "act"
        kinds.add(kind)
        text = {"none": "-", "idle": f"({name})", "act": name}[kind]
        axes.text(col, row - 0.3, labels[index], ha="center", va="center", fontsize=7)
        axes.text(
            col,
            row,
            text,
            ha="center",
            va="center",
            fontsize=9,
            weight="bold" if kind == "act" else "normal",
            style="italic" if kind == "idle" else "normal",
        )
        axes.text(col, row + 0.3, f"{values[index]:.2f}", ha="center", va="center", fontsize=7)
    axes.set_xticks(np.arange(columns + 1) - 0.5, labels=[])
    axes.set_yticks(np.arange(rows + 1) - 0.5, labels=[])
    axes.tick_params(length=0)
    axes.grid(color="white", linewidth=2)
    axes.set_title(title or f"greedy policy in all {n} states")
    entries = {
        "act": Line2D([], [], linestyle="", marker="$a$", color="black", label="greedy action (bold)"),
        "idle": Line2D(
            [], [], linestyle="", marker="$()$", color="black", label="greedy, but it changes nothing there"
        ),
        "none": Line2D(
            [], [], linestyle="", marker="$-$", color="black", label="no greedy action: never visited"
        ),
    }
    handles: list[Any] = [entries[kind] for kind in ("act", "idle", "none") if kind in kinds]
    handles.append(Line2D([], [], linestyle="", marker="$1.0$", color="black", label="V(s), at the bottom"))
    caption = "\n".join(textwrap.wrap(f"states: {legend}", 120)) if legend else None
    figure.legend(
        handles=handles, loc="outside lower center", ncol=3, fontsize=7, title=caption, title_fontsize=7
    )
    return save_figure(figure, out)
