"""What a run over many seeds keeps and says: per-seed figures, learning curves, and their statistics.

A multi-seed run folder holds ``config.yml`` (with ``seeds``), ``seeds.csv`` (a row per seed),
``curves.csv`` (a row per seed and evaluation step), ``summary.yml`` (the statistics) and a
``seed_<N>/`` run folder per seed (``model.zip`` and ``config.yml``, so ``qgym eval`` takes it).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from qgym.files import FileFormatError, write_atomically
from qgym.training.runs import read_run_config, write_yaml
from qgym.training.stats import SeedStatistics, describe, summarize

__all__ = [
    "EVAL_EPISODES",
    "SAMPLED_EPISODES",
    "TARGET_PERCENT",
    "CurvePoint",
    "SeedResult",
    "SeedRun",
    "SeedStatistics",
    "read_seed_run",
    "statistics_of",
    "steps_to_target",
    "summary_lines",
    "write_seed_files",
]

TARGET_PERCENT = 95.0
"""The share of the optimum whose first crossing a seed's curve is timed at."""
SAMPLED_EPISODES = 10
"""Episodes that value a seed's greedy policy during training where no exact model does."""
EVAL_EPISODES = 100
"""Episodes of a seed's final evaluation where no exact model values it."""
MAX_CSV_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class SeedResult:
    """One seed's figures at the end of training (None where the env gives no such figure)."""

    seed: int
    online_return: float
    """Mean return of its last training episodes (exploring), NaN before any ended."""
    exact_return: float | None = None
    """The greedy policy's exact expected return (envs with an exact model)."""
    percent: float | None = None
    """``exact_return`` as % of the exact optimum."""
    steps_to_target: float | None = None
    """Steps until the greedy policy first reached :data:`TARGET_PERCENT`; inf if it never did."""
    sampled_return: float | None = None
    """The greedy policy's sampled mean return (envs without an exact model)."""
    heuristic_difference: float | None = None
    """Sampled mean minus the family heuristic's on the same episodes (envs without an exact model)."""


@dataclass(frozen=True)
class CurvePoint:
    """One seed's greedy policy and online return at one step of training."""

    seed: int
    step: int
    greedy_return: float
    """Exact (``exact`` True) or sampled expected return of the greedy policy."""
    percent: float | None
    online_return: float
    exact: bool


@dataclass(frozen=True)
class SeedRun:
    """A multi-seed run as read back: its configuration, per-seed results and curves."""

    folder: Path
    config: dict[str, Any]
    results: list[SeedResult]
    curves: list[CurvePoint]

    @property
    def env_id(self) -> str:
        return str(self.config["env_id"])

    @property
    def algo(self) -> str:
        return str(self.config["algo"])

    def column(self, name: str) -> np.ndarray:
        """One figure of every seed, as floats (NaN where a seed has none)."""
        return np.array([_float(getattr(result, name)) for result in self.results])


def steps_to_target(points: Sequence[CurvePoint]) -> float | None:
    """The first step a seed's curve reached :data:`TARGET_PERCENT`, inf if never, None without shares."""
    shares = [point for point in points if point.percent is not None]
    if not shares:
        return None
    for point in sorted(shares, key=lambda p: p.step):
        if point.percent is not None and point.percent >= TARGET_PERCENT:
            return float(point.step)
    return math.inf


def write_seed_files(
    folder: Path,
    results: Sequence[SeedResult],
    curves: Sequence[CurvePoint],
    figures: dict[str, SeedStatistics] | None = None,
) -> dict[str, Any]:
    """``seeds.csv``, ``curves.csv`` and ``summary.yml`` (atomically); returns the summary. ``figures``:
    the statistics of the results when already computed (:func:`statistics_of`)."""
    write_atomically(folder / "seeds.csv", _csv(SeedResult, results))
    write_atomically(folder / "curves.csv", _csv(CurvePoint, curves))
    figures = statistics_of(results) if figures is None else figures
    summary = {name: asdict(stats) for name, stats in figures.items()}
    write_yaml(folder / "summary.yml", summary)
    return summary


def statistics_of(results: Sequence[SeedResult]) -> dict[str, SeedStatistics]:
    """The statistics over seeds of each figure the seeds have."""
    figures: dict[str, SeedStatistics] = {}
    for name, lower_is_better in (
        ("percent", False),
        ("exact_return", False),
        ("steps_to_target", True),
        ("online_return", False),
        ("sampled_return", False),
        ("heuristic_difference", False),
    ):
        values = [getattr(result, name) for result in results]
        present = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
        if present:
            figures[name] = summarize(present, lower_is_better=lower_is_better)
    return figures


def summary_lines(
    results: Sequence[SeedResult],
    optimum: float | None,
    eval_freq: int | None,
    n_timesteps: int,
    figures: dict[str, SeedStatistics] | None = None,
) -> list[str]:
    """What a person reads at the end of a multi-seed run: each figure says what it is. ``figures``:
    the statistics of the results when already computed (:func:`statistics_of`)."""
    figures = statistics_of(results) if figures is None else figures
    lines = []
    if "percent" in figures and optimum is not None:
        lines.append(
            describe(f"greedy policy, % of the exact optimum {optimum:.2f}", figures["percent"], ".1f", "%")
        )
    if "steps_to_target" in figures:
        steps = figures["steps_to_target"]
        never = sum(1 for r in results if r.steps_to_target is not None and math.isinf(r.steps_to_target))
        every = f" (greedy policy valued every {eval_freq:,} steps)" if eval_freq else ""
        lines.append(
            f"steps until the greedy policy first reached {TARGET_PERCENT:.0f}% of the optimum{every}: "
            f"median {_steps(steps.median)} {_interval_steps(steps)}, "
            f"never within {n_timesteps:,} steps: {never} of {steps.n} seeds"
        )
    if "sampled_return" in figures:
        lines.append(describe("greedy policy, sampled mean return", figures["sampled_return"]))
    if "heuristic_difference" in figures:
        lines.append(
            describe(
                "greedy policy minus the heuristic on the same episodes", figures["heuristic_difference"]
            )
        )
    if "online_return" in figures:
        lines.append(describe("online return (last training episodes, exploring)", figures["online_return"]))
    return lines


def read_seed_run(folder: str | Path) -> SeedRun:
    """A multi-seed run folder; a ValueError names what is missing or malformed."""
    path = Path(folder)
    seeds_csv = path / "seeds.csv"
    if not seeds_csv.is_file():
        raise ValueError(
            f"{path} is not a multi-seed run folder (no seeds.csv): train one with qgym train ... --seeds N"
        )
    config = read_run_config(seeds_csv)
    if config is None or "env_id" not in config or "algo" not in config:
        raise ValueError(f"{path} has no config.yml naming its algo and env_id")
    results = [_result(row, seeds_csv) for row in _rows(seeds_csv)]
    curves_csv = path / "curves.csv"
    curves = [_point(row, curves_csv) for row in _rows(curves_csv)] if curves_csv.is_file() else []
    if not results:
        raise ValueError(f"{seeds_csv} holds no seed")
    return SeedRun(path, config, results, curves)


def _csv(kind: type, rows: Sequence[Any]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    names = [f.name for f in fields(kind)]
    writer.writerow(names)
    for row in rows:
        writer.writerow(["" if getattr(row, n) is None else repr(_cell(getattr(row, n))) for n in names])
    return buffer.getvalue().encode("utf-8")


def _cell(value: Any) -> Any:
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _rows(path: Path) -> list[dict[str, str]]:
    if path.stat().st_size > MAX_CSV_BYTES:
        raise FileFormatError(f"{path} is larger than {MAX_CSV_BYTES // 2**20} MiB: not a qgym seeds file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise FileFormatError(f"{path} is not UTF-8 text: not a qgym seeds file") from None
    return list(csv.DictReader(io.StringIO(text)))


def _number(row: dict[str, str], name: str, path: Path, optional: bool = True) -> float | None:
    text = (row.get(name) or "").strip()
    if not text:
        if optional:
            return None
        raise FileFormatError(f"{path}: column {name!r} is empty in a row")
    try:
        return float(text)  # float() reads numbers, 'inf' and 'nan', nothing else
    except ValueError:
        raise FileFormatError(f"{path}: column {name!r} holds {text[:40]!r}, not a number") from None


def _result(row: dict[str, str], path: Path) -> SeedResult:
    seed = _number(row, "seed", path, optional=False)
    online = _number(row, "online_return", path)
    values = {n: _number(row, n, path) for n in ("exact_return", "percent", "steps_to_target")}
    extra = {n: _number(row, n, path) for n in ("sampled_return", "heuristic_difference")}
    return SeedResult(int(seed or 0), math.nan if online is None else online, **values, **extra)


def _point(row: dict[str, str], path: Path) -> CurvePoint:
    seed, step = _number(row, "seed", path, False), _number(row, "step", path, False)
    greedy, online = _number(row, "greedy_return", path, False), _number(row, "online_return", path)
    return CurvePoint(
        int(seed or 0),
        int(step or 0),
        float(greedy or 0.0),
        _number(row, "percent", path),
        math.nan if online is None else online,
        bool(_number(row, "exact", path, False)),
    )


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _steps(value: float) -> str:
    return "never" if math.isinf(value) else f"{value:,.0f}"


def _interval_steps(statistics: SeedStatistics) -> str:
    interval = statistics.median_interval
    if interval.low is None or interval.high is None:
        return "(one seed: no interval)"
    return f"[{_steps(interval.low)}, {_steps(interval.high)}] (95% bootstrap interval of the median)"
