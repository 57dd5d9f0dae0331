"""Pictures of what was learned: the Q-table as the slides draw it, and the greedy policy with the state
values drawn on the field; ``qgym plot`` draws them with the run's learning curve (:mod:`.curves`).

Every picture says what it shows: a title, labelled axes with units, and a legend or caption for every
symbol; action names and state labels come from the env (:mod:`qgym.viewing.views`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from qgym.envs.interface import CellMark
from qgym.training.evaluation import exact_optimum
from qgym.training.models import env_for_model
from qgym.viewing.curves import figure_and_axes, plot_learning_curve, read_run, save_figure
from qgym.viewing.state_policy import ALL_STATES, plot_state_policy, state_masks
from qgym.viewing.trained_model import load_agent
from qgym.viewing.views import cell_marks, grid_view, state_names, view_of

__all__ = ["grid_values", "make_plots", "plot_grid_policy", "plot_q_table"]

FloatArray = NDArray[np.float64]
QFunction = Callable[[Any], "FloatArray | None"]
_UP, _DOWN, _LEFT, _RIGHT = (0.0, -0.35), (0.0, 0.35), (-0.35, 0.0), (0.35, 0.0)
_MOVE_ARROWS = {"north": _UP, "south": _DOWN, "west": _LEFT, "east": _RIGHT}
_MOVE_ARROWS |= {"up": _UP, "down": _DOWN, "left": _LEFT, "right": _RIGHT}


def plot_q_table(
    q_table: FloatArray,
    action_names: Sequence[str],
    states: Sequence[int] | None = None,
    state_labels: Sequence[str] | None = None,
    title: str = "",
    out: str | Path | None = None,
    legend: str = "",
    idle: NDArray[np.bool_] | None = None,
) -> Any:
    """The Q-table as a heat map, one row per state and one column per action (the slides' table).

    ``states`` picks the rows to show (all by default); values are written in the cells when the
    table is small enough to read, each row's greedy action is outlined, ``idle`` (one row per state
    shown) hatches the actions that change nothing in their state (the env's action mask), and
    ``legend`` (how to read the state labels) is the caption.
    """
    rows = np.arange(q_table.shape[0]) if states is None else np.asarray(states, dtype=np.int64)
    shown = np.asarray(q_table, dtype=np.float64)[rows]
    labels = list(state_labels) if state_labels is not None else [f"s{row}" for row in rows]
    height = min(2.4 + 0.28 * len(rows), 40.0)
    figure, axes = figure_and_axes(max(7.0, 2.2 + 0.9 * len(action_names)), height)
    image = axes.imshow(shown, aspect="auto", cmap="viridis", interpolation="nearest")
    figure.colorbar(image, ax=axes, label="Q(s, a)")
    axes.set_xticks(range(len(action_names)), labels=list(action_names), rotation=30)
    if len(rows) <= 80:
        axes.set_yticks(range(len(rows)), labels=labels, fontsize=7)
    axes.set_xlabel("action a")
    axes.set_ylabel("state s")
    from matplotlib.patches import Rectangle

    for i, action in enumerate(np.argmax(shown, axis=1)):
        if np.ptp(shown[i]) == 0:  # an unvisited state has no best action
            continue
        axes.add_patch(Rectangle((action - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="white", linewidth=1.5))
    if idle is not None:
        for i, j in zip(*np.nonzero(idle), strict=True):
            axes.add_patch(
                Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//", edgecolor="0.7", linewidth=0)
            )
    if shown.size <= 400:
        middle = (shown.max() + shown.min()) / 2
        for (i, j), value in np.ndenumerate(shown):
            colour = "black" if value > middle else "white"
            axes.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=7, color=colour)
    axes.set_title(
        f"{title or f'Q-table, {len(rows)} of {q_table.shape[0]} states'}\n(white box: the greedy action)"
    )
    notes = [f"states: {legend}"] if legend else []
    if idle is not None and idle.any():
        notes.append("hatched: the action changes nothing in that state (the env's action mask)")
    if notes:
        figure.supxlabel("\n".join(notes), fontsize=7, color="0.25")
    return save_figure(figure, out)


def grid_values(
    env: gym.Env[Any, Any], q_of: QFunction, crops: Sequence[int] | None = None
) -> tuple[FloatArray, NDArray[np.int64], list[str]]:
    """State values ``max_a Q`` and greedy actions on every cell of a grid env, and the action names.

    Grid envs (:class:`qgym.envs.interface.GridView`): the grid farm (each cell with the farmer on it
    and the field's crops fixed to ``crops``, empty by default), FrozenLake and CliffWalking.
    """
    grid = grid_view(env)
    if grid is None:
        raise ValueError(
            f"{type(env.unwrapped).__name__} is not a grid env: policies are drawn for the grid farm, "
            "FrozenLake and CliffWalking"
        )
    shape = grid.grid_size
    values = np.zeros(shape)
    policy = np.zeros(shape, dtype=np.int64)
    for cell, observation in enumerate(grid.grid_observations(crops)):
        q = q_of(observation)
        if q is None:
            raise ValueError("the agent has no Q-values to draw (a tabular agent or DQN has)")
        values.flat[cell] = float(np.max(q))
        policy.flat[cell] = int(np.argmax(q))
    return values, policy, list(view_of(env).action_names)


def plot_grid_policy(
    values: FloatArray,
    policy: NDArray[np.int64],
    action_names: Sequence[str],
    title: str = "",
    out: str | Path | None = None,
    marks: Sequence[CellMark] | None = None,
) -> Any:
    """State values as colours on the field, the greedy action as an arrow (moves) or a word (work).

    ``marks`` (one per cell) name the cells (a hole, the goal, a crop stage), grey out the cells
    where an episode ends, and flag a greedy action that changes nothing there (a move into the edge).
    """
    from matplotlib import colormaps
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    rows, cols = values.shape
    marks = list(marks) if marks is not None else [CellMark()] * (rows * cols)
    terminal = np.array([mark.terminal for mark in marks]).reshape(rows, cols)
    shown = np.ma.masked_array(values, mask=terminal)
    figure, axes = figure_and_axes(max(5.5, 2.2 + 1.3 * cols), 1.6 + 1.3 * rows)
    colours = colormaps["RdYlGn"].with_extremes(bad="0.8")
    image = axes.imshow(shown, cmap=colours, interpolation="nearest")
    figure.colorbar(image, ax=axes, label="V(s) = max_a Q(s, a)", shrink=0.8)
    shown_kinds: set[str] = set()
    for (row, col), action in np.ndenumerate(policy):
        mark = marks[row * cols + col]
        if mark.label:
            axes.text(col, row - 0.36, mark.label, ha="center", va="center", fontsize=7, style="italic")
        if mark.terminal:
            continue
        name = action_names[int(action)] if action < len(action_names) else str(action)
        if int(action) in mark.idle_actions:
            shown_kinds.add("idle")
            axes.text(col, row - 0.05, f"({name})", ha="center", va="center", fontsize=8, color="0.3")
        elif name in _MOVE_ARROWS:
            shown_kinds.add("move")
            dx, dy = _MOVE_ARROWS[name]
            axes.annotate(
                "",
                xy=(col + dx, row + dy),
                xytext=(col - dx * 0.4, row - dy * 0.4),
                arrowprops={"arrowstyle": "-|>", "color": "black", "linewidth": 2},
            )
        else:
            shown_kinds.add("work")
            axes.text(col, row - 0.05, name, ha="center", va="center", fontsize=9, weight="bold")
        axes.text(col + 0.45, row + 0.42, f"{values[row, col]:.1f}", ha="right", va="bottom", fontsize=7)
    entries = {
        "move": Line2D([], [], color="black", marker=">", linewidth=2, label="greedy move"),
        "work": Line2D([], [], linestyle="", marker="$w$", color="black", label="greedy work (its name)"),
        "idle": Line2D(
            [], [], linestyle="", marker="$()$", color="0.3", label="greedy, but it changes nothing here"
        ),
    }
    handles: list[Any] = [entries[kind] for kind in ("move", "work", "idle") if kind in shown_kinds]
    handles.append(Line2D([], [], linestyle="", marker="$1.0$", color="black", label="V(s), bottom right"))
    if terminal.any():
        handles.append(Patch(color="0.8", label="episode ends here"))
    figure.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=7)
    axes.set_xticks(range(cols))
    axes.set_yticks(range(rows))
    axes.set_xlabel("column")
    axes.set_ylabel("row")
    axes.set_title(title or "greedy policy and state values")
    return save_figure(figure, out)


def make_plots(
    out_dir: str | Path,
    run: str | Path | Sequence[str | Path] | None = None,
    model: str | Path | None = None,
    env_id: str | None = None,
    crops: Sequence[int] | None = None,
    max_states: int | None = None,
    trust_pickle: bool = False,
    report: Callable[[str], None] | None = None,
    env_kwargs: dict[str, Any] | None = None,
) -> list[Path]:
    """What ``qgym plot`` draws: the run's learning curve, the model's Q-table and its greedy policy
    (every state of an env with at most :data:`ALL_STATES`, and the field of a grid env); returns the
    PNG files written in ``out_dir``. ``max_states`` caps the Q-table's rows (default: every state up to
    :data:`ALL_STATES`, else the 60 most visited). ``report`` hears why a picture is not drawn. A run
    folder given as ``model`` is plotted whole (its curve and its model)."""
    say = report or (lambda line: None)
    if run is None and model is None:
        raise ValueError("give a run folder (--run) and/or a model (--model) to plot")
    runs = [] if run is None else [run] if isinstance(run, str | Path) else list(run)
    if len(runs) > 1 or any((Path(p) / "seeds.csv").is_file() for p in [*runs, *([model] if model else [])]):
        return _plot_seed_runs(runs or [model], out_dir, say)  # type: ignore[list-item]
    run = runs[0] if runs else None
    implicit_run = run is None and model is not None and Path(model).is_dir()
    if implicit_run:
        run = model
    out_dir = Path(out_dir)
    written: list[Path] = []
    kwargs = dict(env_kwargs or {})
    if model is not None:
        chosen = env_for_model(model, env_id, env_kwargs, trust_pickle)
        env_id, kwargs = chosen.env_id, chosen.env_kwargs
    optimum = exact_optimum(env_id, kwargs) if env_id is not None else None
    if run is not None:
        name = env_id.removeprefix("qgym/") if env_id else Path(run).name
        try:
            curves = read_run(run)
        except ValueError as error:
            if not implicit_run:
                raise
            say(f"no learning curve: {error}")
        else:
            plot_learning_curve(curves, optimum, f"{name}: learning curve", out_dir / "learning_curve.png")
            written.append(out_dir / "learning_curve.png")
    if model is not None and env_id is not None:
        written += _plot_model(model, env_id, kwargs, out_dir, crops, max_states, trust_pickle, say)
    return written


def _plot_seed_runs(
    folders: Sequence[str | Path], out_dir: str | Path, say: Callable[[str], None]
) -> list[Path]:
    """Multi-seed runs: their curves, together (``qgym plot --run A --run B``)."""
    from qgym.training.seed_results import read_seed_run
    from qgym.viewing.seed_curves import plot_seed_curves

    for folder in folders:
        if not (Path(folder) / "seeds.csv").is_file():
            raise ValueError(
                f"{folder} is not a multi-seed run folder: --run takes one run, or several written by "
                "qgym train --seeds N"
            )
    runs = [read_seed_run(folder) for folder in folders]
    example = Path(folders[0]) / f"seed_{runs[0].results[0].seed}"
    say(f"a multi-seed run has a model per seed: plot one with --model {example}")
    return plot_seed_curves(runs, out_dir)


def _plot_model(
    model: str | Path,
    env_id: str,
    env_kwargs: dict[str, Any],
    out_dir: Path,
    crops: Sequence[int] | None,
    max_states: int | None,
    trust: bool,
    say: Callable[[str], None],
) -> list[Path]:
    env = gym.make(env_id, **env_kwargs)
    probe = gym.make(env_id, **env_kwargs)  # placed in one state after another to read its masks
    written = []
    try:
        agent = load_agent(model, env, env_id, trust)
        names = list(view_of(env).action_names)
        table = agent.q_table
        short = env_id.removeprefix("qgym/")
        naming = state_names(env)
        legend = "" if naming is None else naming.state_legend()
        n_states = table.shape[0] if table is not None else _discrete_size(env)

        def label(state: int) -> str:
            return f"s{state}" if naming is None else naming.state_label(state)

        if table is not None:
            limit = max_states if max_states is not None else (n_states if n_states <= ALL_STATES else 60)
            states = _busiest_states(table, getattr(agent.model, "visit_counts", None), limit)
            masks = state_masks(probe, states)
            shown = "" if len(states) == n_states else " (the most visited)"
            title = f"{short}: Q-table, {len(states)} of {n_states:,} states{shown}"
            idle = None if masks is None else ~masks
            out = out_dir / "q_table.png"
            plot_q_table(table, names, states, [label(s) for s in states], title, out, legend, idle)
            written.append(out)
        else:
            say(f"no Q-table picture: a {type(agent.model).__name__} keeps its Q-values in a network")
        grid = grid_view(env)
        every_state = grid is None or int(np.prod(grid.grid_size)) != n_states
        if every_state and naming is not None and 0 < n_states <= ALL_STATES:
            cards = _state_policy(agent, table, n_states, probe)
            if cards is not None:
                values, policy, idle_cards = cards
                title = f"{short}: greedy policy in all {n_states} states"
                out = out_dir / "policy.png"
                labels = [label(s) for s in range(n_states)]
                plot_state_policy(values, policy, labels, names, idle_cards, title, out, legend)
                written.append(out)
        if grid is not None:
            values, policy, grid_names = grid_values(env, agent.q_values, crops)
            field = "" if crops is None else f", crops {''.join(str(c) for c in crops)}"
            title = f"{short}: greedy policy{field}"
            out = out_dir / ("policy.png" if out_dir / "policy.png" not in written else "policy_field.png")
            plot_grid_policy(values, policy, grid_names, title, out, cell_marks(env, crops))
            written.append(out)
            if every_state and out.name == "policy.png":
                arrangement = "".join(str(c) for c in crops) if crops is not None else "all empty"
                cells = int(np.prod(grid.grid_size))
                say(f"{out} shows {cells} of {n_states:,} states (crops {arrangement}); --crops picks others")
        elif out_dir / "policy.png" not in written:
            say(f"no policy picture: {short} has more than {ALL_STATES} states and no grid")
    finally:
        env.close()
        probe.close()
    return written


def _discrete_size(env: gym.Env[Any, Any]) -> int:
    space = env.observation_space
    return int(space.n) if isinstance(space, gym.spaces.Discrete) else 0


def _state_policy(
    agent: Any, table: FloatArray | None, n_states: int, probe: gym.Env[Any, Any]
) -> tuple[FloatArray, NDArray[np.int64], NDArray[np.bool_] | None] | None:
    """V, the greedy action and the idle actions in every state, from the table's rows or (a network on a
    Discrete observation) the agent's Q-values of each state's observation; None when neither fits."""
    if table is not None and agent.env_wrapper is None:
        q = np.asarray(table, dtype=np.float64)
    elif (
        isinstance(probe.observation_space, gym.spaces.Discrete)
        and int(probe.observation_space.n) == n_states
    ):
        rows = [agent.q_values(state + int(probe.observation_space.start)) for state in range(n_states)]
        if any(row is None for row in rows):
            return None
        q = np.stack(rows)
    else:
        return None
    masks = state_masks(probe, range(n_states))
    policy = np.where(np.ptp(q, axis=1) > 0, np.argmax(q, axis=1), -1).astype(np.int64)
    return q.max(axis=1), policy, None if masks is None else ~masks


def _busiest_states(table: FloatArray, visits: Any, limit: int) -> list[int]:
    """Up to ``limit`` rows: the most visited states (all when the table is small), in index order."""
    n_states = table.shape[0]
    if n_states <= limit:
        return list(range(n_states))
    source = np.abs(table) if visits is None else np.asarray(visits, dtype=np.float64)
    score = source.sum(axis=1)
    return sorted(int(s) for s in np.argsort(-score, kind="stable")[:limit])
