"""Price series for the trading envs: a seeded synthetic process and validated user data.

>>> from qgym.envs.trading.prices import generate_prices
>>> prices = generate_prices(250, seed=0, jump_rate=0.01)
>>> prices.shape, bool(prices.min() > 0)
((250,), True)

The synthetic process is a log price with three Markov regimes: *ranging* (the log price is pulled
back towards the log of the start price), *rally* and *slump* (a steady drift up or down with more
noise), plus optional jumps. ``regimes[t]`` is the regime that moves the price from ``t`` to ``t + 1``.
Nothing here downloads anything: user data comes in as an array or a local CSV file.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qgym.validation import is_finite_number, is_number

__all__ = [
    "REGIME_NAMES",
    "PriceProcess",
    "generate_prices",
    "load_csv_prices",
    "split_segment",
    "validate_prices",
]

FloatArray = NDArray[np.float64]
REGIME_NAMES = ("ranging", "rally", "slump")
SPLITS = ("train", "test", "all")
MIN_PRICE, MAX_PRICE = 1e-6, 1e9
"""Prices outside this range lose the precision a step's reward needs (or overflow an equity)."""


@dataclass(frozen=True)
class PriceProcess:
    """Parameters of the synthetic price process (all per step, in log-price units)."""

    start: float = 100.0
    """First price, and the level the ranging regime reverts to."""
    reversion: float = 0.05
    """Fraction of the gap to the anchor closed each step in the ranging regime, in [0, 1]."""
    volatility: float = 0.01
    """Standard deviation of log returns in the ranging regime."""
    trend: float = 0.003
    """Drift of the log price in the rally regime (and minus it in the slump regime)."""
    trend_volatility: float = 0.015
    """Standard deviation of log returns in the rally and slump regimes."""
    regime_switch: float = 0.02
    """Probability of leaving the current regime each step (ranging -> rally/slump -> ranging);
    0 keeps the process in the ranging regime throughout."""
    jump_rate: float = 0.0
    """Probability of a jump each step."""
    jump_size: float = 0.05
    """Standard deviation of a jump in the log price."""

    def __post_init__(self) -> None:
        _require(
            is_finite_number(self.start) and self.start > 0,
            f"start must be a positive price, got {self.start}",
        )
        for name in ("reversion", "regime_switch", "jump_rate"):
            value = getattr(self, name)
            _require(
                is_number(value) and 0.0 <= value <= 1.0,
                f"{name} must be a probability in [0, 1], got {value}",
            )
        for name in ("volatility", "trend_volatility", "jump_size"):
            value = getattr(self, name)
            _require(is_finite_number(value) and value >= 0, f"{name} must be finite and >= 0, got {value}")
        _require(is_finite_number(self.trend), f"trend must be finite, got {self.trend}")
        # Per-step log-price moves beyond these send prices out of range within one episode.
        _require(
            MIN_PRICE <= self.start <= MAX_PRICE,
            f"start must lie in [{MIN_PRICE:g}, {MAX_PRICE:g}], got {self.start}",
        )
        for name, limit in (
            ("volatility", 0.5),
            ("trend_volatility", 0.5),
            ("jump_size", 1.0),
            ("trend", 0.1),
        ):
            value = abs(getattr(self, name))
            _require(
                value <= limit, f"{name} must be at most {limit} (a per-step log-price move), got {value}"
            )

    @classmethod
    def from_params(cls, **params: Any) -> PriceProcess:
        """Build from keyword parameters, naming the allowed ones when a name is unknown."""
        allowed = [field.name for field in fields(cls)]
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise TypeError(f"unknown price process parameter(s) {unknown}; allowed: {allowed}")
        return cls(**params)

    def stationary_regimes(self) -> FloatArray:
        """Long-run share of time in each regime (ranging, rally, slump): where a path starts."""
        if self.regime_switch == 0:
            return np.array([1.0, 0.0, 0.0])
        return np.array([0.5, 0.25, 0.25])

    def simulate_batch(
        self, n: int, rngs: Sequence[np.random.Generator]
    ) -> tuple[FloatArray, NDArray[np.int8]]:
        """One path of ``n`` prices per generator, shape ``(len(rngs), n)``, and the regime in force at
        each price.

        Row ``i`` depends on ``rngs[i]`` alone, whatever the batch: the draws from each generator come
        in the same order (start regime, switches, directions, noise, jumps) and every float operation
        is elementwise, so a batch of one is :meth:`simulate`.
        """
        if n < 1:
            raise ValueError(f"n must be a positive number of prices, got {n}")
        count = len(rngs)
        start = np.empty(count, dtype=np.int8)
        leave = np.empty((count, n), dtype=bool)
        up = np.empty((count, n), dtype=bool)
        noise = np.empty((count, n))
        jumps = np.empty((count, n))
        stationary = self.stationary_regimes()
        for i, rng in enumerate(rngs):
            start[i] = rng.choice(3, p=stationary)
            leave[i] = rng.random(n) < self.regime_switch
            up[i] = rng.random(n) < 0.5
            noise[i] = rng.standard_normal(n)
            jumps[i] = np.where(rng.random(n) < self.jump_rate, rng.standard_normal(n) * self.jump_size, 0.0)
        regimes = _regime_paths(start, leave, up)
        anchor = math.log(self.start)
        # Time-major, so that each step of the loop below takes one row: every path at that time.
        trending = (np.where(regimes == 1, self.trend, -self.trend) + self.trend_volatility * noise).T
        ranging_noise = (self.volatility * noise).T
        log_prices = np.empty((n, count))
        # Rows, not Python floats, as operands: numpy's scalar conversions would cost more than the sums.
        anchors, reversion = np.full(count, anchor), np.full(count, self.reversion)
        log_prices[0] = current = anchors
        # The ranging regime pulls the log price back towards the anchor, so each step needs the last.
        steps = zip((regimes == 0).T[:-1], ranging_noise[:-1], trending[:-1], jumps.T[:-1], strict=True)
        for t, (ranging, ranging_noise_t, trending_t, jump_t) in enumerate(steps, start=1):
            move = np.where(ranging, reversion * (anchors - current) + ranging_noise_t, trending_t)
            log_prices[t] = current = current + move + jump_t
        # exp over a C-ordered (paths, n) array, the layout paths have always been exponentiated in.
        prices = np.exp(np.ascontiguousarray(log_prices.T))
        if not np.all((prices >= MIN_PRICE) & (prices <= MAX_PRICE)):  # NaN fails too
            raise ValueError(
                f"a simulated path left the price range [{MIN_PRICE:g}, {MAX_PRICE:g}] within {n} steps; "
                "choose a smaller trend, volatility or jump_size, or a shorter episode_length"
            )
        return prices, regimes

    def simulate(self, n: int, rng: np.random.Generator) -> tuple[FloatArray, NDArray[np.int8]]:
        """``n`` prices and the regime in force at each of them, drawn with ``rng`` (a batch of one)."""
        prices, regimes = self.simulate_batch(n, [rng])
        return prices[0], regimes[0]


def generate_prices(n: int, seed: int | None = None, **params: Any) -> FloatArray:
    """``n`` prices of the synthetic process (see :class:`PriceProcess` for ``params``)."""
    process = PriceProcess.from_params(**params)
    prices, _ = process.simulate(n, np.random.default_rng(seed))
    return prices


def validate_prices(
    values: ArrayLike | Iterable[Any], source: str = "prices", first_line: int | None = None
) -> FloatArray:
    """A 1-D float copy of ``values``, or a ``ValueError`` naming the first bad entry.

    Entries are named ``source[i]``, or ``line n`` of a file when ``first_line`` numbers the first one.
    Numbers and strings that read as numbers are accepted.
    """

    def where(i: int) -> str:
        return f"{source}[{i}]" if first_line is None else f"line {first_line + i}"

    try:
        raw = np.asarray(values)
    except ValueError as error:
        raise ValueError(f"{source} must be a 1-D series of prices: {error}") from None
    if raw.ndim != 1:
        raise ValueError(f"{source} must be a 1-D series of prices, got an array of shape {raw.shape}")
    if raw.dtype.kind == "b":
        raise ValueError(f"{source} must be numeric, got booleans")
    if raw.dtype.kind in "iuf":
        prices = np.array(raw, dtype=np.float64)
    else:
        parsed = [_as_float(value) for value in raw.tolist()]
        for i, (value, number) in enumerate(zip(raw.tolist(), parsed, strict=True)):
            if number is None:
                raise ValueError(f"{source} must be numeric: {where(i)} holds {value!r}")
        prices = np.array(parsed, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(prices))
    if bad.size:
        raise ValueError(f"{source} must be finite: {where(int(bad[0]))} holds {prices[bad[0]]}")
    bad = np.flatnonzero(prices <= 0)
    if bad.size:
        raise ValueError(f"{source} must be positive: {where(int(bad[0]))} holds {prices[bad[0]]}")
    bad = np.flatnonzero((prices < MIN_PRICE) | (prices > MAX_PRICE))
    if bad.size:
        raise ValueError(
            f"{source} must lie in [{MIN_PRICE:g}, {MAX_PRICE:g}] (rescale the series; its returns stay "
            f"the same): {where(int(bad[0]))} holds {prices[bad[0]]}"
        )
    return prices


def load_csv_prices(csv_path: str | Path, column: str = "close") -> FloatArray:
    """The validated prices in ``column`` of a local CSV file (UTF-8, a byte-order mark allowed) with a
    header row."""
    path = Path(csv_path)
    if not path.is_file():
        raise FileNotFoundError(f"csv_path {str(path)!r} does not exist or is not a file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            if column not in header:
                raise ValueError(
                    f"column {column!r} is not in {path.name}; its columns are {list(header)[:20]}"
                )
            cells = [row[column] for row in reader]
    except UnicodeDecodeError as error:
        raise ValueError(f"csv_path {path.name} is not UTF-8 text (byte {error.start})") from None
    except csv.Error as error:
        raise ValueError(f"csv_path {path.name} is not a readable CSV file: {error}") from None
    return validate_prices(cells, source=f"column {column!r} of {path.name}", first_line=2)


def split_segment(n: int, split: str, train_fraction: float) -> tuple[int, int]:
    """The ``[start, stop)`` slice of a series of length ``n`` that ``split`` may draw windows from.

    ``train`` is the first ``train_fraction`` of the series and ``test`` the rest: they never overlap.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    cut = round(n * train_fraction)
    if split == "train":
        return 0, cut
    if split == "test":
        return cut, n
    return 0, n


def _regime_paths(
    start: NDArray[np.int8], leave: NDArray[np.bool_], up: NDArray[np.bool_]
) -> NDArray[np.int8]:
    """Regimes (N, n) from the start regimes (N,), the switch flags and the directions (N, n).

    At a switch (``leave[:, t]``, t >= 1) the ranging regime 0 becomes a rally (1, ``up[:, t]``) or a
    slump (2), and a rally or a slump becomes ranging. So the regime alternates between ranging and
    a trend at every switch: after an even number of switches it is ranging exactly when it started
    ranging, and a trend takes its direction from the switch that started it.
    """
    count, n = leave.shape
    regimes = np.empty((count, n), dtype=np.int8)
    regimes[:, 0] = start
    switches = np.cumsum(leave[:, 1:], axis=1)
    last_switch = np.maximum.accumulate(np.where(leave[:, 1:], np.arange(1, n), 0), axis=1)
    trend = np.where(up[np.arange(count)[:, None], last_switch], 1, 2)
    ranging = (switches % 2 == 0) == (start == 0)[:, None]
    regimes[:, 1:] = np.where(switches == 0, start[:, None], np.where(ranging, 0, trend))
    return regimes


def _as_float(value: Any) -> float | None:
    """``value`` as a float when it is a number or a string that reads as one, else ``None``."""
    if isinstance(value, bool | np.bool_) or value is None:
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
