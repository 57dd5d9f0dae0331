"""Learning curves: what a run folder logged (SB3's ``progress.csv``, EvalCallback's
``evaluations.npz``) drawn against the exact optimum.

Every function returns a matplotlib ``Figure`` built without pyplot (no global state, no window) and
writes it as a PNG when given ``out``; matplotlib is imported where a figure is made.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qgym.files import write_atomically

__all__ = [
    "EXACT_LABEL",
    "OPTIMUM_GID",
    "Curve",
    "figure_and_axes",
    "plot_learning_curve",
    "read_run",
    "save_figure",
]

FloatArray = NDArray[np.float64]
OPTIMUM_GID = "optimum"
_TRAIN_COLUMNS = ("rollout/ep_rew_mean", "eval/mean_reward")
_STEP_COLUMN = "time/total_timesteps"
MAX_PROGRESS_BYTES = 64 * 2**20
MAX_EVALUATIONS_BYTES = 64 * 2**20
_MAX_CURVE_FILES = 64
_EXACT_FILE = "exact_returns.csv"  # qgym.training.callbacks.EXACT_CURVE (viewing reads the file only)
EXACT_LABEL = "greedy policy, valued exactly (qgym.planning)"


@dataclass(frozen=True)
class Curve:
    """One learning curve: mean return against environment steps."""

    label: str
    steps: FloatArray
    values: FloatArray
    spread: FloatArray | None = None
    """The standard deviation of the episodes behind each point (evaluations), or None."""
    count: int = 1
    """Episodes behind each point: the band drawn is the 95% interval of their mean."""
    bounds: tuple[FloatArray, FloatArray] | None = None
    """The lowest and highest episode behind each point: the band never leaves them."""


def read_run(run: str | Path) -> list[Curve]:
    """The learning curves of a run folder: SB3's ``progress.csv`` (training episodes, and the
    ``eval/`` column when no ``evaluations.npz`` holds the episodes themselves),
    ``evaluations.npz`` (EvalCallback) and ``exact_returns.csv`` (the greedy policy valued exactly over
    training, :class:`qgym.training.callbacks.ExactCurve`), in the folder or its subfolders two levels
    down."""
    run = Path(run)
    if not run.exists():
        raise ValueError(f"no run folder at {run}")
    files = [run] if run.is_file() else _curve_files(run)
    evaluated = any(path.suffix == ".npz" for path in files)
    curves: list[Curve] = []
    for path in files:
        if path.name == _EXACT_FILE:
            curves += _read_exact(path)
        elif path.name.endswith(".csv"):
            read = _read_progress(path)
            curves += [curve for curve in read if not (evaluated and curve.label.startswith("evaluation"))]
        elif path.suffix == ".npz":
            curves.append(_read_evaluations(path))
    if not curves:
        raise ValueError(
            f"{run} holds no learning curve: expected a progress.csv with {_STEP_COLUMN} and "
            f"{' or '.join(_TRAIN_COLUMNS)}, or an evaluations.npz (EvalCallback), in it or two levels down"
        )
    return curves


def plot_learning_curve(
    curves: Sequence[Curve], optimum: float | None, title: str = "", out: str | Path | None = None
) -> Any:
    """Mean return against steps, with the exact optimum as a dashed line (its ``gid`` is 'optimum').

    Sparse curves (evaluations) get markers; a curve with a spread gets the 95% interval of its mean,
    never beyond the lowest and highest episode behind it (a success rate stays in [0, 1]).
    """
    figure, axes = figure_and_axes(7.0, 5.0)
    for curve in curves:
        marker = "o" if len(curve.steps) <= 30 else None
        (line,) = axes.plot(
            curve.steps, curve.values, label=curve.label, linewidth=1.6, marker=marker, markersize=4
        )
        if curve.spread is not None:
            half = 1.96 * curve.spread / np.sqrt(max(curve.count, 1))
            low, high = curve.values - half, curve.values + half
            if curve.bounds is not None:
                low, high = np.maximum(low, curve.bounds[0]), np.minimum(high, curve.bounds[1])
            band = f"95% interval of the {curve.count}-episode mean"
            axes.fill_between(
                curve.steps, low, high, color=line.get_color(), alpha=0.2, linewidth=0, label=band
            )
    if optimum is not None:
        label = f"exact optimum {optimum:.2f} (an expectation: a mean of a few episodes scatters around it)"
        axes.axhline(optimum, color="black", linestyle="--", linewidth=1.2, label=label).set_gid(OPTIMUM_GID)
    axes.set_xlabel("environment steps")
    axes.set_ylabel("episode return (undiscounted)")
    axes.set_title(title or "learning curve")
    axes.grid(alpha=0.3)
    # Below the axes, never over the curves or a note: the layout makes room for it.
    figure.legend(*axes.get_legend_handles_labels(), loc="outside lower center", fontsize=8, ncol=1)
    return save_figure(figure, out)


def figure_and_axes(width: float, height: float) -> tuple[Any, Any]:
    """A figure of one axes (inches), laid out to fit its labels."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.add_subplot()


def save_figure(figure: Any, out: str | Path | None) -> Any:
    """Write ``figure`` as a PNG at ``out`` when given (atomically: a full disk leaves no half picture)."""
    if out is not None:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110)
        write_atomically(Path(out), buffer.getvalue())
    return figure


def _curve_files(run: Path) -> list[Path]:
    """The curve files of a run folder, at most two levels down (``plot --run /`` walks no disk)."""
    found: list[Path] = []
    names = ("progress.csv", "evaluations.npz", _EXACT_FILE)
    for pattern in ("", "*/", "*/*/"):
        for name in names:
            found += sorted(path for path in run.glob(pattern + name) if path.is_file())
        if len(found) > _MAX_CURVE_FILES:
            raise ValueError(
                f"{run} holds more than {_MAX_CURVE_FILES} curve files two levels down: give one run's folder"
            )
    return sorted(found, key=lambda path: (names.index(path.name), str(path)))


def _read_progress(path: Path) -> list[Curve]:
    """The curves in SB3's ``progress.csv``, streamed (only two columns kept) from a bounded file."""
    size = path.stat().st_size
    if size > MAX_PROGRESS_BYTES:
        raise ValueError(
            f"{path} has {size:,} bytes; a progress.csv SB3 writes holds a few MB for 10^7 steps, so at "
            f"most {MAX_PROGRESS_BYTES:,} are read"
        )
    points: dict[str, list[tuple[float, float]]] = {column: [] for column in _TRAIN_COLUMNS}
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                for column in _TRAIN_COLUMNS:
                    if _is_number(row.get(_STEP_COLUMN)) and _is_number(row.get(column)):
                        points[column].append((float(row[_STEP_COLUMN]), float(row[column])))
    except (UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"{path} is not a progress.csv SB3 wrote: {error}") from None
    curves = []
    for column in _TRAIN_COLUMNS:
        if points[column]:
            steps, values = np.asarray(points[column], dtype=np.float64).T
            label = (
                "training episodes (mean of the last 100, while exploring)"
                if column.startswith("rollout")
                else "evaluation, greedy (mean)"
            )
            curves.append(Curve(label, steps, values))
    return curves


def _read_exact(path: Path) -> list[Curve]:
    """``exact_returns.csv``: the greedy policy's exact value over training, from a bounded file."""
    size = path.stat().st_size
    if size > MAX_PROGRESS_BYTES:
        raise ValueError(
            f"{path} has {size:,} bytes; qgym writes 20 rows there: at most {MAX_PROGRESS_BYTES:,} are read"
        )
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"{path} is not the CSV of exact returns qgym writes ({error})") from None
    points = [
        (float(row["step"]), float(row["greedy_exact_return"]))
        for row in rows
        if _is_number(row.get("step")) and _is_number(row.get("greedy_exact_return"))
    ]
    if not points:
        return []
    steps, values = np.asarray(points, dtype=np.float64).T
    return [Curve(EXACT_LABEL, steps, values)]


def _read_evaluations(path: Path) -> Curve:
    """EvalCallback's ``evaluations.npz``: numeric arrays only (no pickles), bounded once expanded."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            expanded = sum(entry.file_size for entry in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        raise ValueError(f"{path} is not an EvalCallback file (not a numpy .npz archive)") from None
    if expanded > MAX_EVALUATIONS_BYTES:
        raise ValueError(
            f"{path} expands to {expanded:,} bytes; an EvalCallback file holds a few kB, so at most "
            f"{MAX_EVALUATIONS_BYTES:,} are read"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            if "timesteps" not in data or "results" not in data:
                raise ValueError("needs the arrays 'timesteps' and 'results'")
            steps = np.asarray(data["timesteps"], dtype=np.float64).reshape(-1)
            results = np.asarray(data["results"], dtype=np.float64).reshape(len(steps), -1)
    except (ValueError, TypeError, OSError, EOFError) as error:
        reason = "it holds objects (pickled data), not numbers" if "pickle" in str(error) else str(error)
        raise ValueError(f"{path} is not an EvalCallback file qgym reads: {reason}") from None
    if results.shape[1] == 0 or not (np.isfinite(steps).all() and np.isfinite(results).all()):
        raise ValueError(
            f"{path} is not an EvalCallback file qgym reads: its returns are empty or not finite"
        )
    return Curve(
        f"evaluation, greedy (mean of {results.shape[1]} episodes)",
        steps,
        results.mean(axis=1),
        results.std(axis=1),
        results.shape[1],
        (results.min(axis=1), results.max(axis=1)),
    )


def _is_number(text: str | None) -> bool:
    if text is None or text == "":
        return False
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False
