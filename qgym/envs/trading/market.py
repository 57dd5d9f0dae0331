"""The market rungs: trade a synthetic path (a fresh one each reset) or a window of the user's prices."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces
from numpy.typing import ArrayLike, NDArray

from qgym.envs.native_vector import ALL, FloatArray
from qgym.envs.trading.desk import ONE, Desk, Traders
from qgym.envs.trading.env import TradingEnvBase
from qgym.envs.trading.heuristic import TrendFollower
from qgym.envs.trading.prices import (
    REGIME_NAMES,
    PriceProcess,
    load_csv_prices,
    split_segment,
    validate_prices,
)
from qgym.envs.trading.rules import (
    Floats,
    Ints,
    TradingConfig,
    encode_index,
    feature_space,
    market_features,
    z_bins,
)
from qgym.validation import is_number

__all__ = ["STREAMS", "MarketPaths", "PathSource", "TradingEnv"]

STREAMS = {"train": 0, "test": 1, "all": 2}
"""The spawn key of each split's seed stream: synthetic train and test paths never share a seed."""


class PathSource:
    """Where episode paths of ``length`` prices come from: the synthetic ``process`` (one seed stream
    per split) when ``data`` is None, else random windows of ``data[segment[0]:segment[1]]``."""

    def __init__(
        self,
        length: int,
        process: PriceProcess,
        split: str,
        data: FloatArray | None = None,
        segment: tuple[int, int] = (0, 0),
    ) -> None:
        self.length = length
        self.process = process
        self.stream = STREAMS[split]
        self.data = data
        self.segment = segment

    def draw(self, count: int, rng: np.random.Generator) -> tuple[FloatArray, NDArray[np.int8]]:
        """``count`` paths (count, length) and their regimes (0 throughout for user data)."""
        if self.data is None:
            # One generator per path, seeded from rng, so a path does not depend on the batch size.
            generators = [
                np.random.default_rng(
                    np.random.SeedSequence(int(rng.integers(2**63)), spawn_key=(self.stream,))
                )
                for _ in range(count)
            ]
            return self.process.simulate_batch(self.length, generators)
        low, high = self.segment
        firsts = [int(rng.integers(low, high - self.length + 1)) for _ in range(count)]
        paths = np.stack([self.data[first : first + self.length] for first in firsts])
        return paths, np.zeros((count, self.length), dtype=np.int8)


class MarketPaths:
    """N episode paths (a :class:`~qgym.envs.trading.desk.PriceStream`): the whole path is drawn at reset
    and a step moves each stream's clock along it."""

    def __init__(self, size: int, source: PathSource, config: TradingConfig, observe_regime: bool) -> None:
        self.size = size
        self.source = source
        self.config = config
        self.regime_names: tuple[str, ...] | None = REGIME_NAMES if observe_regime else None
        self.n_regimes = len(REGIME_NAMES) if observe_regime else 1
        self.paths = np.ones((size, source.length))
        self.path_regimes = np.zeros((size, source.length), dtype=np.int8)
        self.now = np.full(size, config.window, dtype=np.int64)
        """Every stream's position on its path."""
        self._rows = np.arange(size)
        self._offsets = np.arange(-config.window, 1)
        self._path_observations: dict[int, tuple[Any, list[int]]] = {}
        """Per trader stepped by observation_one: what it will observe at each step of its path."""

    def reset(self, traders: Traders, size: int | None, rng: np.random.Generator) -> Floats:
        self.paths[traders], self.path_regimes[traders] = self.source.draw(1 if size is None else size, rng)
        self.now[traders] = self.config.window
        if isinstance(traders, int):
            self._path_observations.pop(traders, None)
        else:
            self._path_observations.clear()
        return self.config.initial_equity / self.paths[traders, self.config.window]

    def prices(self, traders: Traders = ALL) -> Floats:
        return self.paths[self._rows[traders], self.now[traders]]

    def advance(self, traders: Traders, size: int | None, rng: np.random.Generator) -> tuple[Floats, Floats]:
        rows, now = self._rows[traders], self.now[traders]
        before = self.paths[rows, now]
        try:
            after = self.paths[rows, now + 1]
        except IndexError:
            raise RuntimeError(
                "the episode is over (truncated after episode_length steps): call reset()"
            ) from None
        self.now[traders] = now + 1
        return before, after

    def advance_one(self, trader: int, rng: np.random.Generator) -> tuple[float, float]:
        now = self.now.item(trader)
        if now + 1 >= self.paths.shape[1]:
            raise RuntimeError("the episode is over (truncated after episode_length steps): call reset()")
        self.now[trader] = now + 1
        return self.paths.item(trader, now), self.paths.item(trader, now + 1)

    def observation_one(self, trader: int, position: int, steps_left: int) -> Any:
        if trader not in self._path_observations:
            self._path_observations[trader] = self._observe_path(trader)
        table, regimes = self._path_observations[trader]
        step = self.now.item(trader) - self.config.window
        if self.config.observation == "index":
            index: int = encode_index(table[step], position, regimes[step], self.config, self.n_regimes)
            return index
        # market_features' own columns, filled as it fills them (a float64 quotient cast to float32).
        features = table[step].copy()
        k = self.config.n_returns
        features[k + 1] = position / self.config.max_position
        features[k + 2] = steps_left / self.config.episode_length
        return features

    def _observe_path(self, trader: int) -> tuple[Any, list[int]]:
        """What the trader observes at every step of its path, but for its position and steps left: the
        z-score bins (a list), or the features with those two columns 0 (T, F); and the regime codes.

        The very functions :meth:`observations` calls, on the path's T windows at once instead of one
        window a step: every feature is computed window by window, whatever the batch (tests check it).
        """
        window = self.config.window
        windows = np.lib.stride_tricks.sliding_window_view(self.paths[trader], window + 1).copy()
        codes = self.path_regimes[trader, window:].astype(np.int64)
        regimes = codes if self.regime_names is not None else np.zeros_like(codes)
        if self.config.observation == "index":
            return z_bins(windows, self.config).tolist(), regimes.tolist()
        observed = regimes if self.regime_names is not None else None
        return market_features(windows, 0, 0, self.config, observed), regimes.tolist()

    def windows(self, traders: Traders = ALL) -> FloatArray:
        rows, now = np.asarray(self._rows[traders]), np.asarray(self.now[traders])
        windows: FloatArray = self.paths[rows[..., None], now[..., None] + self._offsets]
        return windows

    def regimes(self, traders: Traders = ALL) -> Ints:
        return self.path_regimes[self._rows[traders], self.now[traders]].astype(np.int64)

    def observations(self, traders: Traders, positions: Ints, steps_left: Ints) -> NDArray[Any] | Ints:
        windows = self.windows(traders)
        regimes = self.regimes(traders) if self.regime_names is not None else None
        if self.config.observation == "features":
            return market_features(windows, positions, steps_left, self.config, regimes)
        bins = z_bins(windows, self.config)
        return encode_index(bins, positions, 0 if regimes is None else regimes, self.config, self.n_regimes)


class TradingEnv(TradingEnvBase[MarketPaths]):
    """
    ## Description
    Trade one asset on a price path: by default a seeded synthetic process (mean reversion, Markov
    regimes *ranging* / *rally* / *slump*, optional jumps; see :func:`generate_prices`) with a fresh
    path each reset, or the user's own prices given at ``make`` time (``prices=`` or ``csv_path=``)
    with a random episode window each reset. ``split`` keeps training and testing apart: disjoint
    segments of user data (the first ``train_fraction`` vs the rest), disjoint seed streams for the
    synthetic process.

    ## Action Space
    ``Discrete(3)``: 0 hold, 1 buy one unit, 2 sell one unit. A buy at ``max_position`` or a sell at
    the lowest position (``-max_position``, or 0 without shorting) is masked and acts as a hold.

    ## Observation Space
    ``observation="features"`` (default): a 1-D float32 Box, all bounded: the ``n_returns`` latest log
    returns divided by their volatility over ``window`` (in [-4, 4]), the z-score of the log price over
    ``window`` (in [-4, 4]), ``position / max_position``, the fraction of the episode left, and with
    ``observe_regime`` a one-hot regime. ``observation="index"``: ``Discrete(z_bins * n_positions *
    n_regimes)``, the z-score binned over [-2, 2] x position (x regime). Both use prices up to ``t`` only.

    ## Starting State
    Flat, equity ``initial_equity``, at the start of a new path (synthetic) or of a random window of
    the chosen data segment (user data); ``window`` earlier prices warm the features up.

    ## Rewards
    Change in equity: ``new_position * shares * (price[t + 1] - price[t]) - cost``. One unit is
    ``initial_equity / first price`` shares (position 1 = fully invested at the start); cost is
    ``|change| * (fixed_cost + proportional_cost * shares * price[t])``.

    ## Episode End
    Never terminates; truncated after ``episode_length`` steps.

    ## Arguments
    ``prices`` (array-like) or ``csv_path`` and ``column`` (default "close"): user data; ``split``
    ("train", "test", "all"), ``train_fraction``; ``observe_regime``; the
    :class:`qgym.envs.trading.prices.PriceProcess` parameters (``reversion``, ``volatility``, ``trend``,
    ``trend_volatility``, ``regime_switch``, ``jump_rate``, ``jump_size``, ``start``); the trading
    arguments of :class:`TradingConfig`.
    ``info`` holds ``equity``, ``position``, ``price``, ``trade_cost``, ``total_cost``,
    ``buy_and_hold_equity``, ``action_mask`` (and ``regime`` when observed).

    ## Version History
    * v0: initial version.
    """

    def __init__(
        self,
        prices: ArrayLike | None = None,
        csv_path: str | Path | None = None,
        column: str | None = None,
        split: str = "train",
        train_fraction: float = 0.8,
        observe_regime: bool = False,
        render_mode: str | None = None,
        *,
        episode_length: int = 250,
        max_position: int = 1,
        allow_short: bool = True,
        fixed_cost: float = 0.0,
        proportional_cost: float = 0.001,
        initial_equity: float = 100.0,
        observation: str = "features",
        window: int = 20,
        n_returns: int = 5,
        z_bins: int = 9,
        **process: Any,
    ) -> None:
        config = TradingConfig(
            episode_length=episode_length,
            max_position=max_position,
            allow_short=allow_short,
            fixed_cost=fixed_cost,
            proportional_cost=proportional_cost,
            initial_equity=initial_equity,
            observation=observation,
            window=window,
            n_returns=n_returns,
            z_bins=z_bins,
        )
        if not (is_number(train_fraction) and 0.0 < train_fraction < 1.0):
            raise ValueError(f"train_fraction must be strictly between 0 and 1, got {train_fraction}")
        if not isinstance(observe_regime, bool):
            raise ValueError(f"observe_regime must be True or False, got {observe_regime!r}")
        self.process = PriceProcess.from_params(**process)
        self.split = split
        self.observe_regime = observe_regime
        self.n_regimes = len(REGIME_NAMES) if observe_regime else 1
        needed = config.window + config.episode_length + 1
        if prices is not None and csv_path is not None:
            raise ValueError("pass either prices= or csv_path=, not both")
        if column is not None and csv_path is None:
            raise ValueError("column= names a column of csv_path=, and no csv_path was given")
        data: FloatArray | None = None
        if csv_path is not None:
            data = load_csv_prices(csv_path, "close" if column is None else column)
        elif prices is not None:
            data = validate_prices(prices)
        segment = split_segment(needed if data is None else data.size, split, train_fraction)
        if data is not None:
            if observe_regime:
                raise ValueError(
                    "observe_regime=True needs the synthetic process: user prices carry no regime; "
                    "pass observe_regime=False"
                )
            length = segment[1] - segment[0]
            if length < needed:
                raise ValueError(
                    f"the {split!r} segment holds {length} prices, shorter than one episode: it needs "
                    f"window + episode_length + 1 = {needed}; pass more prices, a shorter episode_length "
                    "or window, or another split/train_fraction"
                )
        self.source = PathSource(needed, self.process, split, data, segment)
        self.config = config
        super().__init__(config, render_mode)
        if config.observation == "index":
            self.observation_space: spaces.Space[Any] = spaces.Discrete(
                config.z_bins * config.n_positions * self.n_regimes
            )
        else:
            self.observation_space = feature_space(config, regimes=observe_regime)

    def make_desk(self, size: int) -> Desk[MarketPaths]:
        return Desk(MarketPaths(size, self.source, self.config, self.observe_regime), self.config)

    @property
    def price_path(self) -> list[float]:
        """The whole price path of this episode: the warm-up window, then every price it will reach."""
        return [float(price) for price in self.desk.stream.paths[ONE]]

    def walk_forward_folds(self, folds: int) -> list[tuple[str, dict[str, Any]]]:
        """``folds`` consecutive slices of this env's segment of the user's prices (the test split for an
        evaluation), oldest first: a label and the ``gym.make`` arguments of an env trading only that
        slice (its ``window`` earlier prices before it, the past, warm its features up)."""
        data = self.source.data
        if data is None:
            raise ValueError(
                "walk-forward folds cut your own prices, and this env trades the synthetic process: "
                "train and evaluate with prices= or csv_path="
            )
        if not (isinstance(folds, int) and folds >= 1):
            raise ValueError(f"folds must be a whole number of at least 1, got {folds!r}")
        config = self.config
        low, high = self.source.segment
        size = (high - low) // folds
        if size < config.episode_length + 1:
            raise ValueError(
                f"the {self.split!r} segment holds {high - low} prices: {folds} folds of {size} are shorter "
                f"than an episode of episode_length + 1 = {config.episode_length + 1}; use fewer folds or "
                "a shorter episode_length"
            )
        settings = {field.name: getattr(config, field.name) for field in fields(config)}
        out = []
        for fold in range(folds):
            start, stop = low + fold * size, low + (fold + 1) * size if fold < folds - 1 else high
            first = max(0, start - config.window)
            if start - first < config.window and stop - first < config.window + config.episode_length + 1:
                raise ValueError(
                    f"fold {fold + 1} (prices {start}-{stop - 1}) has too few prices before it and in it "
                    f"for the features' window of {config.window}; use fewer folds"
                )
            kwargs = {"prices": data[first:stop].copy(), "split": "all", "observe_regime": False, **settings}
            out.append((f"prices {start}-{stop - 1}", kwargs))
        return out

    def heuristic(self) -> TrendFollower:
        """The trend follower for this env's features (a ValueError says why for ``index`` observations)."""
        return TrendFollower(self.config, regime_observed=self.observe_regime)
