"""Pictures of what was learned: learning curve against the exact optimum, Q-table heat map, greedy
policy and state values drawn on the field. PNG files via matplotlib's Agg canvas.

Every function returns the matplotlib ``Figure`` (built without pyplot, so no global state and no
window) and saves it when given ``out``. matplotlib is imported inside the functions.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from qgym.files import write_atomically
from qgym.training.evaluation import exact_optimum
from qgym.training.models import guess_env_id
from qgym.viewing.agent import load_agent
from qgym.viewing.views import grid_view, state_names, view_of

__all__ = [
    "Curve",
    "grid_values",
    "plot_grid_policy",
    "plot_learning_curve",
    "plot_q_table",
    "read_run",
]

FloatArray = NDArray[np.float64]
QFunction = Callable[[Any], "FloatArray | None"]
OPTIMUM_GID = "optimum"
_TRAIN_COLUMNS = ("rollout/ep_rew_mean", "eval/mean_reward")
_STEP_COLUMN = "time/total_timesteps"
_UP, _DOWN, _LEFT, _RIGHT = (0.0, -0.35), (0.0, 0.35), (-0.35, 0.0), (0.35, 0.0)
_MOVE_ARROWS = {"north": _UP, "south": _DOWN, "west": _LEFT, "east": _RIGHT}
_MOVE_ARROWS |= {"up": _UP, "down": _DOWN, "left": _LEFT, "right": _RIGHT}


@dataclass(frozen=True)
class Curve:
    """One learning curve: mean return against environment steps, with an optional spread band."""

    label: str
    steps: FloatArray
    values: FloatArray
    spread: FloatArray | None = None


def read_run(run: str | Path) -> list[Curve]:
    """The learning curves of a run folder: SB3's ``progress.csv`` (training episodes, and the
    ``eval/`` columns when present) and ``evaluations.npz`` (EvalCallback), searched recursively."""
    run = Path(run)
    if not run.exists():
        raise ValueError(f"no run folder at {run}")
    files = (
        [run]
        if run.is_file()
        else [*sorted(run.rglob("progress.csv")), *sorted(run.rglob("evaluations.npz"))]
    )
    curves: list[Curve] = []
    for path in files:
        if path.name.endswith(".csv"):
            curves += _read_progress(path)
        elif path.suffix == ".npz":
            curves.append(_read_evaluations(path))
    if not curves:
        raise ValueError(
            f"{run} holds no learning curve: expected a progress.csv with {_STEP_COLUMN} and "
            f"{' or '.join(_TRAIN_COLUMNS)}, or an evaluations.npz (EvalCallback)"
        )
    return curves


def plot_learning_curve(
    curves: Sequence[Curve], optimum: float | None, title: str = "", out: str | Path | None = None
) -> Any:
    """Mean return against steps, with the exact optimum as a dashed line (its ``gid`` is 'optimum')."""
    figure, axes = _figure(7.0, 4.2)
    for curve in curves:
        (line,) = axes.plot(curve.steps, curve.values, label=curve.label, linewidth=1.6)
        if curve.spread is not None:
            axes.fill_between(
                curve.steps,
                curve.values - curve.spread,
                curve.values + curve.spread,
                color=line.get_color(),
                alpha=0.2,
                linewidth=0,
            )
    if optimum is not None:
        axes.axhline(
            optimum, color="black", linestyle="--", linewidth=1.2, label=f"exact optimum {optimum:.2f}"
        ).set_gid(OPTIMUM_GID)
    axes.set_xlabel("environment steps")
    axes.set_ylabel("mean episode return")
    axes.set_title(title or "learning curve")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    return _finish(figure, out)


def plot_q_table(
    q_table: FloatArray,
    action_names: Sequence[str],
    states: Sequence[int] | None = None,
    state_labels: Sequence[str] | None = None,
    title: str = "",
    out: str | Path | None = None,
) -> Any:
    """The Q-table as a heat map, one row per state and one column per action (the slides' table).

    ``states`` picks the rows to show (all by default); values are written in the cells when the
    table is small enough to read, and each row's best action is outlined.
    """
    rows = np.arange(q_table.shape[0]) if states is None else np.asarray(states, dtype=np.int64)
    shown = np.asarray(q_table, dtype=np.float64)[rows]
    labels = list(state_labels) if state_labels is not None else [f"s{row}" for row in rows]
    height = min(2.0 + 0.28 * len(rows), 40.0)
    figure, axes = _figure(1.6 + 0.9 * len(action_names), height)
    image = axes.imshow(shown, aspect="auto", cmap="viridis", interpolation="nearest")
    figure.colorbar(image, ax=axes, label="Q(s, a)")
    axes.set_xticks(range(len(action_names)), labels=list(action_names), rotation=30)
    if len(rows) <= 80:
        axes.set_yticks(range(len(rows)), labels=labels, fontsize=7)
    axes.set_xlabel("action")
    axes.set_ylabel("state")
    best = np.argmax(shown, axis=1)
    from matplotlib.patches import Rectangle

    for i, action in enumerate(best):
        if np.ptp(shown[i]) == 0:  # an unvisited state has no best action
            continue
        axes.add_patch(Rectangle((action - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="white", linewidth=1.5))
    if shown.size <= 400:
        middle = (shown.max() + shown.min()) / 2
        for (i, j), value in np.ndenumerate(shown):
            colour = "black" if value > middle else "white"
            axes.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=7, color=colour)
    axes.set_title(title or f"Q-table ({len(rows)} of {q_table.shape[0]} states)")
    return _finish(figure, out)


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
) -> Any:
    """State values as colours on the field, the greedy action as an arrow (moves) or a word."""
    rows, cols = values.shape
    figure, axes = _figure(max(4.5, 1.2 + 1.3 * cols), 0.9 + 1.3 * rows)
    image = axes.imshow(values, cmap="RdYlGn", interpolation="nearest")
    figure.colorbar(image, ax=axes, label="V(s) = max Q(s, a)", shrink=0.8)
    for (row, col), action in np.ndenumerate(policy):
        name = action_names[int(action)] if action < len(action_names) else str(action)
        if name in _MOVE_ARROWS:
            dx, dy = _MOVE_ARROWS[name]
            axes.annotate(
                "",
                xy=(col + dx, row + dy),
                xytext=(col - dx * 0.4, row - dy * 0.4),
                arrowprops={"arrowstyle": "-|>", "color": "black", "linewidth": 2},
            )
        else:
            axes.text(col, row - 0.1, name, ha="center", va="center", fontsize=9, weight="bold")
        axes.text(col, row + 0.32, f"{values[row, col]:.1f}", ha="center", va="center", fontsize=7)
    axes.set_xticks(range(cols))
    axes.set_yticks(range(rows))
    axes.set_title(title or "greedy policy and state values")
    return _finish(figure, out)


def _read_progress(path: Path) -> list[Curve]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    curves = []
    for column in _TRAIN_COLUMNS:
        points = [
            (float(row[_STEP_COLUMN]), float(row[column]))
            for row in rows
            if _number(row.get(_STEP_COLUMN)) and _number(row.get(column))
        ]
        if points:
            steps, values = np.asarray(points, dtype=np.float64).T
            label = "training episodes (mean)" if column.startswith("rollout") else "evaluation (mean)"
            curves.append(Curve(label, steps, values))
    return curves


def _read_evaluations(path: Path) -> Curve:
    with np.load(path) as data:
        if "timesteps" not in data or "results" not in data:
            raise ValueError(f"{path} is not an EvalCallback file (needs 'timesteps' and 'results')")
        steps = np.asarray(data["timesteps"], dtype=np.float64)
        results = np.asarray(data["results"], dtype=np.float64).reshape(len(steps), -1)
    return Curve(
        f"evaluation (mean of {results.shape[1]} episodes, ± std)",
        steps,
        results.mean(axis=1),
        results.std(axis=1),
    )


def _number(text: str | None) -> bool:
    if text is None or text == "":
        return False
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _figure(width: float, height: float) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.add_subplot()


def _finish(figure: Any, out: str | Path | None) -> Any:
    if out is not None:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110)
        write_atomically(Path(out), buffer.getvalue())  # a full disk leaves no half picture
    return figure


def make_plots(
    out_dir: str | Path,
    run: str | Path | None = None,
    model: str | Path | None = None,
    env_id: str | None = None,
    crops: Sequence[int] | None = None,
    max_states: int = 60,
    trust_pickle: bool = False,
) -> list[Path]:
    """What ``qgym plot`` draws: the run's learning curve, the model's Q-table and, on grid envs, its
    greedy policy; returns the PNG files written in ``out_dir``."""
    if run is None and model is None:
        raise ValueError("give a run folder (--run) and/or a model (--model) to plot")
    out_dir = Path(out_dir)
    written: list[Path] = []
    if model is not None and env_id is None:
        env_id = guess_env_id(model)
    optimum = exact_optimum(env_id) if env_id is not None else None
    if run is not None:
        name = env_id.removeprefix("qgym/") if env_id else Path(run).name
        plot_learning_curve(read_run(run), optimum, f"{name}: learning curve", out_dir / "learning_curve.png")
        written.append(out_dir / "learning_curve.png")
    if model is not None and env_id is not None:
        written += _plot_model(model, env_id, out_dir, crops, max_states, trust_pickle)
    return written


def _plot_model(
    model: str | Path, env_id: str, out_dir: Path, crops: Sequence[int] | None, max_states: int, trust: bool
) -> list[Path]:
    env = gym.make(env_id)
    written = []
    try:
        agent = load_agent(model, env, env_id, trust)
        names = list(view_of(env).action_names)
        table = agent.q_table
        short = env_id.removeprefix("qgym/")
        if table is not None:
            visits = getattr(agent.model, "visit_counts", None)
            states = _busiest_states(table, visits, max_states)
            labels = [_state_label(env, s) for s in states]
            title = f"{short}: Q-table, {len(states)} of {table.shape[0]:,} states"
            plot_q_table(table, names, states, labels, title, out_dir / "q_table.png")
            written.append(out_dir / "q_table.png")
        if grid_view(env) is not None:
            values, policy, grid_names = grid_values(env, agent.q_values, crops)
            field = "" if crops is None else f", crops {''.join(str(c) for c in crops)}"
            title = f"{short}: greedy policy{field}"
            plot_grid_policy(values, policy, grid_names, title, out_dir / "policy.png")
            written.append(out_dir / "policy.png")
    finally:
        env.close()
    return written


def _busiest_states(table: FloatArray, visits: Any, limit: int) -> list[int]:
    """Up to ``limit`` rows: the most visited states (all when the table is small), in index order."""
    n_states = table.shape[0]
    if n_states <= limit:
        return list(range(n_states))
    source = np.abs(table) if visits is None else np.asarray(visits, dtype=np.float64)
    score = source.sum(axis=1)
    return sorted(int(s) for s in np.argsort(-score, kind="stable")[:limit])


def _state_label(env: gym.Env[Any, Any], state: int) -> str:
    """A readable name of a Q-table row: the env's own label of that state, else its number."""
    names = state_names(env)
    return f"s{state}" if names is None else names.state_label(state)
