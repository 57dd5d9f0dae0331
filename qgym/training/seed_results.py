"""What a run over many seeds keeps and says: per-seed figures, learning curves, and their statistics.

A multi-seed run folder holds ``config.yml`` (with ``seeds``), ``seeds.csv`` (a row per seed),
``curves.csv`` (a row per seed and evaluation step), ``summary.yml`` (the statistics) and a
``seed_<N>/`` run folder per seed (``model.zip`` and ``config.yml``, so ``qgym eval`` takes it).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from qgym.files import FileFormatError, write_atomically
from qgym.training.runs import read_run_config, write_yaml
from qgym.training.stats import SeedStatistics, describe, summarize
from qgym.validation import brief

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
MAX_SEEDS_CSV_BYTES = 16 * 2**20
"""seeds.csv: a row of about 150 bytes for each of at most 10,000 seeds."""
MAX_CURVES_CSV_BYTES = 128 * 2**20
"""curves.csv: a row per seed and evaluation (about 100 bytes); read as it streams."""
_FIGURES = ("exact_return", "percent", "steps_to_target", "sampled_return", "heuristic_difference")


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
    """A multi-seed run folder, checked as it is read (:func:`_read_results`); a ValueError names the
    file, the line and the column of what is missing, malformed or inconsistent."""
    path = Path(folder)
    seeds_csv = path / "seeds.csv"
    if not seeds_csv.is_file():
        raise ValueError(
            f"{path} is not a multi-seed run folder (no seeds.csv): train one with qgym train ... --seeds N"
        )
    config = read_run_config(seeds_csv)
    if config is None or not isinstance(config.get("env_id"), str) or not isinstance(config.get("algo"), str):
        raise ValueError(f"{path} has no config.yml naming its algo and env_id")
    results = _read_results(seeds_csv)
    _check_against_config(results, config, path / "config.yml")
    curves_csv = path / "curves.csv"
    curves = _read_curves(curves_csv, {result.seed for result in results}) if curves_csv.is_file() else []
    _check_against_summary(results, path / "summary.yml", seeds_csv)
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


def _read_results(path: Path) -> list[SeedResult]:
    results: list[SeedResult] = []
    seen: dict[int, int] = {}
    for line, row in _rows(path, ("seed", "online_return"), _FIGURES, MAX_SEEDS_CSV_BYTES):
        seed = _seed(row["seed"], path, line)
        if seed in seen:
            raise FileFormatError(f"{path}, line {line}: seed {seed} again (first on line {seen[seed]})")
        seen[seed] = line
        online = _cell_number(row, "online_return", path, line, allow_nan=True)
        figures = {
            name: _cell_number(row, name, path, line, allow_inf=name == "steps_to_target")
            for name in _FIGURES
        }
        results.append(SeedResult(seed, math.nan if online is None else online, **figures))
    if not results:
        raise FileFormatError(f"{path} holds no seed")
    return results


def _read_curves(path: Path, seeds: set[int]) -> list[CurvePoint]:
    points: list[CurvePoint] = []
    for line, row in _rows(
        path, ("seed", "step", "greedy_return", "exact"), ("percent", "online_return"), MAX_CURVES_CSV_BYTES
    ):
        seed, step = _seed(row["seed"], path, line), _seed(row["step"], path, line, "step")
        if seed not in seeds:
            raise FileFormatError(f"{path}, line {line}: seed {seed} is not in seeds.csv")
        greedy = _cell_number(row, "greedy_return", path, line, optional=False)
        exact = _cell_number(row, "exact", path, line, optional=False)
        if exact not in (0.0, 1.0):
            raise FileFormatError(f"{path}, line {line}: column 'exact' must be 0 or 1, got {row['exact']!r}")
        online = _cell_number(row, "online_return", path, line, allow_nan=True)
        points.append(
            CurvePoint(seed, step, float(greedy or 0.0), _cell_number(row, "percent", path, line),
                       math.nan if online is None else online, bool(exact))
        )  # fmt: skip
    return points


def _rows(
    path: Path, required: Sequence[str], optional: Sequence[str], max_bytes: int
) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line number, {column: cell})`` of each row, streamed: the file is bounded in size and every
    cell in length, the required columns must be in its header, every row as long as the header."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise FileFormatError(
                f"{path} has {size:,} bytes; a {path.name} qgym writes holds at most {max_bytes:,}"
            )
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            missing = [name for name in required if name not in header]
            if missing:
                raise FileFormatError(
                    f"{path} has no column {missing[0]!r} (its header: {brief(header)}): not qgym's"
                )
            columns = {name: header.index(name) for name in [*required, *optional] if name in header}
            for row in reader:
                if len(row) != len(header):
                    raise FileFormatError(
                        f"{path}, line {reader.line_num}: {len(row)} cells, its header has {len(header)}"
                    )
                yield reader.line_num, {name: row[index] for name, index in columns.items()}
    except UnicodeDecodeError:
        raise FileFormatError(f"{path} is not UTF-8 text: not a file qgym wrote") from None
    except csv.Error as error:
        raise FileFormatError(f"{path} is not a csv file qgym wrote: {error}") from None
    except OSError as error:
        raise FileFormatError(f"cannot read {path}: {error.strerror or error}") from None


def _seed(text: str, path: Path, line: int, column: str = "seed") -> int:
    value = _cell_number({column: text}, column, path, line, optional=False)
    if value is None or not value.is_integer() or not 0 <= value < 2**63:
        raise FileFormatError(
            f"{path}, line {line}: column {column!r} holds {text[:40]!r}, not a whole number >= 0"
        )
    return int(value)


def _cell_number(
    row: dict[str, str], name: str, path: Path, line: int, optional: bool = True,
    allow_nan: bool = False, allow_inf: bool = False,
) -> float | None:  # fmt: skip
    """The number in ``row[name]`` (None for an empty cell when ``optional``); NaN and infinities only
    where they mean something (a seed with no finished episode yet; a target never reached)."""
    text = (row.get(name) or "").strip()
    if not text:
        if optional:
            return None
        raise FileFormatError(f"{path}, line {line}: column {name!r} is empty")
    try:
        value = float(text)
    except ValueError:
        raise FileFormatError(
            f"{path}, line {line}: column {name!r} holds {text[:40]!r}, not a number"
        ) from None
    if (math.isnan(value) and not allow_nan) or (math.isinf(value) and not (allow_inf and value > 0)):
        raise FileFormatError(
            f"{path}, line {line}: column {name!r} holds {text[:40]!r}, not a finite number"
        )
    return value


def _check_against_config(results: Sequence[SeedResult], config: dict[str, Any], path: Path) -> None:
    """Every seed of seeds.csv is one config.yml says was trained (an interrupted run keeps fewer)."""
    listed = config.get("seeds")
    if listed is None:
        return
    if not isinstance(listed, list) or not all(isinstance(seed, int) for seed in listed):
        raise FileFormatError(f"{path}: 'seeds' must be a list of whole numbers, got {brief(listed)}")
    extra = sorted({result.seed for result in results} - set(listed))
    if extra:
        raise FileFormatError(f"seeds.csv beside {path} has seed {extra[0]}, which {path} does not list")


def _check_against_summary(results: Sequence[SeedResult], path: Path, seeds_csv: Path) -> None:
    """summary.yml's counts and IQMs are those of seeds.csv: a folder edited by hand says so."""
    from qgym.files import read_yaml
    from qgym.training.stats import iqm

    if not path.is_file():
        return
    summary = read_yaml(path, "run summary")
    if not isinstance(summary, dict):
        raise FileFormatError(f"the run summary {path} must be a mapping, got {type(summary).__name__}")
    for name, figure in summary.items():
        if name not in _FIGURES and name != "online_return":
            continue
        values = [float(getattr(r, name)) for r in results if getattr(r, name) is not None]
        values = [v for v in values if not math.isnan(v)]
        written = figure if isinstance(figure, dict) else {}
        if (
            not values
            or written.get("n") != len(values)
            or not _close(written.get("iqm"), float(iqm(values)))
        ):
            raise FileFormatError(
                f"{path} disagrees with {seeds_csv} on {name} (it says n={brief(written.get('n'))}, "
                f"IQM {brief(written.get('iqm'))}; seeds.csv gives n={len(values)}"
                + (f", IQM {float(iqm(values)):.6g})" if values else ")")
                + ": the run folder was edited; compare and plot read seeds.csv"
            )


def _close(written: Any, computed: float) -> bool:
    if not isinstance(written, int | float) or isinstance(written, bool):
        return False
    if math.isnan(computed) or math.isnan(written):
        return math.isnan(computed) and math.isnan(written)
    if math.isinf(computed) or math.isinf(written):
        return written == computed
    return math.isclose(written, computed, rel_tol=1e-9, abs_tol=1e-9)


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _steps(value: float) -> str:
    return "never" if math.isinf(value) else f"{value:,.0f}"


def _interval_steps(statistics: SeedStatistics) -> str:
    interval = statistics.median_interval
    if interval.low is None or interval.high is None:
        return "(one seed: no interval)"
    return f"[{_steps(interval.low)}, {_steps(interval.high)}] (95% bootstrap interval of the median)"
