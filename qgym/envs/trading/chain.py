"""The exact rung: the Ehrenfest price chain of :mod:`~qgym.envs.trading.chain_rules` as N price streams
(:class:`ChainPrices`) and as a Gymnasium env with its exact model (:class:`ChainTradingEnv`).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import fields
from typing import Any

import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from qgym.envs.interface import FieldReport
from qgym.envs.native_vector import ALL, FloatArray
from qgym.envs.trading.chain_rules import REGIMES, Chain, chain_model, chain_price, chain_tables
from qgym.envs.trading.desk import ONE, Desk, Traders
from qgym.envs.trading.env import TradingEnvBase
from qgym.envs.trading.reference import optimal_trading_report
from qgym.envs.trading.rules import (
    N_ACTIONS,
    Floats,
    Ints,
    TradingConfig,
    decode_index,
    encode_index,
    feature_space,
    market_features,
)
from qgym.planning import TabularModel

__all__ = ["ChainPrices", "ChainTradingEnv"]


class ChainPrices:
    """N independent chains (a :class:`~qgym.envs.trading.desk.PriceStream`), with the last
    ``window + 1`` prices of each when the observation is ``features``."""

    def __init__(self, size: int, chain: Chain, config: TradingConfig) -> None:
        self.size = size
        self.chain = chain
        self.config = config
        self.tables = chain_tables(chain)
        self.regime_names: tuple[str, ...] | None = REGIMES if chain.n_regimes > 1 else None
        self.state = np.zeros(size, dtype=np.int64)
        """Every stream's chain state ``level * n_regimes + regime``."""
        self._features = config.observation == "features"
        self._window = np.zeros((size, config.window + 1 if self._features else 0))
        # The tables as Python tuples, for one stream on Python numbers (advance_one, observation_one).
        tables = self.tables
        self._prices: tuple[float, ...] = tuple(tables.price.tolist())
        self._outcomes = tuple(tuple(row) for row in tables.outcome.tolist())
        # Sorted: a count of the cumulative probabilities <= u does not depend on their order.
        self._cumulative = tuple(tuple(sorted(row)) for row in tables.cumulative.tolist())
        self._levels: tuple[int, ...] = tuple(tables.level.tolist())
        self._regimes: tuple[int, ...] = tuple(tables.regime.tolist())

    def reset(self, traders: Traders, size: int | None, rng: np.random.Generator) -> Floats:
        # One uniform per start, as Generator.choice(p=stationary) draws it.
        start = np.searchsorted(self.tables.start_cdf, rng.random(size), side="right")
        self.state[traders] = start
        if self._features:
            self._window[traders] = np.asarray(self.tables.price[start])[..., None]
            for _ in range(self.config.window):
                self.advance(traders, size, rng)
        return np.ones_like(self.tables.price[start])

    def prices(self, traders: Traders = ALL) -> Floats:
        return self.tables.price[self.state[traders]]

    def advance(self, traders: Traders, size: int | None, rng: np.random.Generator) -> tuple[Floats, Floats]:
        tables = self.tables
        state = self.state[traders]
        before = tables.price[state]
        # Counting the cumulative probabilities <= u is searchsorted(cumulative, u, side="right").
        passed = tables.cumulative[state] <= np.asarray(rng.random(size))[..., None]
        return before, self.place(traders, tables.outcome[state, np.add.reduce(passed, axis=-1)])

    def advance_one(self, trader: int, rng: np.random.Generator) -> tuple[float, float]:
        state = self.state.item(trader)
        after = self._outcomes[state][bisect_right(self._cumulative[state], rng.random())]
        self.state[trader] = after
        if self._features:
            self._push(trader, self._prices[after])
        return self._prices[state], self._prices[after]

    def observation_one(self, trader: int, position: int, steps_left: int) -> Any:
        if self._features:
            return market_features(self._window[trader], position, steps_left, self.config)
        state = self.state.item(trader)
        index: int = encode_index(
            self._levels[state], position, self._regimes[state], self.config, self.chain.n_regimes
        )
        return index

    def place(self, traders: Traders, states: Ints) -> Floats:
        """Put the selected streams in chain ``states`` (their prices move there); the new prices."""
        self.state[traders] = states
        prices = self.tables.price[states]
        if self._features:
            self._push(traders, prices)
        return prices

    def windows(self, traders: Traders = ALL) -> FloatArray:
        if self._features:
            return self._window[traders]
        return np.asarray(self.prices(traders))[..., None]

    def regimes(self, traders: Traders = ALL) -> Ints:
        return self.tables.regime[self.state[traders]]

    def observations(self, traders: Traders, positions: Ints, steps_left: Ints) -> NDArray[Any] | Ints:
        if self._features:
            return market_features(self._window[traders], positions, steps_left, self.config)
        tables = self.tables
        state = self.state[traders]
        return encode_index(
            tables.level[state], positions, tables.regime[state], self.config, self.chain.n_regimes
        )

    def _push(self, traders: Traders, prices: Floats) -> None:
        """Append ``prices`` to the selected windows, dropping their oldest price."""
        window = self._window[traders]
        self._window[traders] = np.concatenate([window[..., 1:], np.asarray(prices)[..., None]], axis=-1)


class ChainTradingEnv(TradingEnvBase[ChainPrices]):
    """
    ## Description
    Trade one asset whose price follows a finite mean-reverting chain (an Ehrenfest urn): the price
    sits on one of ``levels`` ticks around 100 and drifts back towards the middle. With
    ``regime_switch > 0`` an observed regime flips between *bull* (the chain reverts to a level above
    the middle) and *bear* (below it), ``tilt`` apart. The state is small (21 levels x 3 positions =
    63 states, 126 with the regime), the model is exact (:meth:`transition_model`, ``P``) and
    :func:`qgym.planning.backward_induction` solves it. The lesson: as costs rise, the optimal
    policy's no-trade band widens (cost 0: buy at level <= 9 and sell at >= 11 of 21; cost 2: buy at
    <= 6 and sell at >= 14).

    ## Action Space
    ``Discrete(3)``: 0 hold, 1 buy one unit, 2 sell one unit. A buy at ``max_position`` or a sell at
    the lowest position (``-max_position``, or 0 without shorting) is masked and acts as a hold.

    ## Observation Space
    ``observation="index"`` (default): ``Discrete(levels * n_positions * n_regimes)``, the state
    number ``(level * n_positions + position - min_position) * n_regimes + regime``.
    ``observation="features"``: the market rungs' bounded Box of features (see :class:`TradingEnv`).

    ## Starting State
    Level and regime drawn from the chain's stationary distribution; flat position; equity
    ``initial_equity``.

    ## Rewards
    Change in equity: ``new_position * (price[t + 1] - price[t]) - cost``, with cost
    ``|change| * (fixed_cost + proportional_cost * price[t])``. One unit is one share here.

    ## Episode End
    Never terminates; truncated after ``episode_length`` steps (the registered horizon).

    ## Arguments
    ``levels`` (>= 3), ``regime_switch`` ([0, 1)), ``tilt`` ([0, 0.5)), plus the
    trading arguments of :class:`TradingConfig`. ``info`` holds ``equity``, ``position``, ``price``,
    ``trade_cost``, ``total_cost``, ``buy_and_hold_equity``, ``action_mask`` (and ``regime``).

    ## Version History
    * v0: initial version.
    """

    def __init__(
        self,
        levels: int = 21,
        regime_switch: float = 0.0,
        tilt: float = 0.0,
        render_mode: str | None = None,
        **trading: Any,
    ) -> None:
        allowed = [field.name for field in fields(TradingConfig)]
        unknown = sorted(set(trading) - set(allowed))
        if unknown:
            raise TypeError(f"unknown argument(s) {unknown}; allowed: levels, regime_switch, tilt, {allowed}")
        config = TradingConfig(**{"observation": "index", **trading})
        self.chain = Chain(levels, regime_switch, tilt)
        self.levels = levels
        self.regime_switch = float(regime_switch)
        self.tilt = float(tilt)
        self.n_regimes = self.chain.n_regimes
        self.n_states = levels * config.n_positions * self.n_regimes
        self.config = config
        super().__init__(config, render_mode)
        self._model: TabularModel | None = None
        if config.observation == "index":
            self.observation_space: spaces.Space[Any] = spaces.Discrete(self.n_states)
        else:
            self.observation_space = feature_space(config)

    def make_desk(self, size: int) -> Desk[ChainPrices]:
        return Desk(ChainPrices(size, self.chain, self.config), self.config)

    # --- the exact model --------------------------------------------------------------------------

    @property
    def state_index(self) -> int:
        """The current state's number in :meth:`transition_model`."""
        tables, state = self.desk.stream.tables, self.desk.stream.state[ONE]
        position = self.desk.book.position[ONE]
        return int(
            encode_index(tables.level[state], position, tables.regime[state], self.config, self.n_regimes)
        )

    @state_index.setter
    def state_index(self, index: int) -> None:
        if not 0 <= int(index) < self.n_states:
            raise ValueError(f"state_index must be in [0, {self.n_states - 1}], got {index}")
        level, position, regime = self.decode_state(int(index))
        price = self.desk.stream.place(ONE, level * self.n_regimes + regime)
        self.desk.book.place(ONE, position, price)
        self.chart.move(float(price))

    def transition_model(self) -> TabularModel:
        """The exact model, built from the same tables and rules as :meth:`step`."""
        if self._model is None:
            self._model = chain_model(self.chain, self.config)
        return self._model

    @property
    def P(self) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:  # noqa: N802 - toy-text name
        """Toy-text ``P[s][a] = [(prob, next_state, reward, terminated), ...]``."""
        model = self.transition_model()
        return {s: {a: model.outcomes(s, a) for a in range(N_ACTIONS)} for s in range(self.n_states)}

    @property
    def initial_state_distrib(self) -> FloatArray:
        """Start distribution over states (stationary level and regime, flat position)."""
        return self.transition_model().initial_distribution.copy()

    def encode_state(self, level: int, position: int, regime: int = 0) -> int:
        """The number of the state with the price at ``level``, ``position`` held, in ``regime``."""
        return int(encode_index(level, position, regime, self.config, self.n_regimes))

    def decode_state(self, index: int) -> tuple[int, int, int]:
        """``(level, position, regime)`` of state number ``index``."""
        level, position, regime = decode_index(index, self.config, self.n_regimes)
        return int(level), int(position), int(regime)

    def describe_state(self, index: int) -> dict[str, Any]:
        """``level``, ``price``, ``position`` and ``regime`` of state number ``index``."""
        level, position, regime = self.decode_state(index)
        return {
            "level": level,
            "price": chain_price(level, self.levels),
            "position": position,
            "regime": REGIMES[regime],
        }

    def optimal_report(self, horizon: int) -> FieldReport | None:
        """The exact optimal policy's trading figures over ``horizon`` steps (:mod:`.reference`)."""
        return optimal_trading_report(self.chain, self.config, horizon)

    # --- what viewers ask (qgym.envs.interface) ---------------------------------------------------

    def state_label(self, state: int) -> str:
        level, position, regime = self.decode_state(state)
        return f"lvl {level} pos {position:+d}" + (f" {REGIMES[regime]}" if self.n_regimes > 1 else "")

    def state_legend(self) -> str:
        regimes = f", then the regime ({' or '.join(REGIMES)})" if self.n_regimes > 1 else ""
        return (
            f"lvl: the price level, 0 to {self.levels - 1} (price 100 at the middle level); "
            f"pos: the position held{regimes}"
        )
