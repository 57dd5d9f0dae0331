"""N traders, each on its own price stream: the state that the single envs (one trader) and the vector
envs (N) step with the same code.

A :class:`Book` keeps the traders' accounts (positions, shares per unit, equity marked to the latest
price, costs, steps taken) and applies the trading rules of :mod:`qgym.envs.trading.rules` to them. A
:class:`PriceStream` moves N prices (the chains of :mod:`~qgym.envs.trading.chain`, the paths of
:mod:`~qgym.envs.trading.market`) and turns them, with the positions, into observations. A
:class:`Desk` joins the two.

``traders`` says which traders a call concerns: a slice or an index array (values in and out are arrays,
``size`` is their number), or one trader's number (values are numpy scalars, ``size`` is None, the way
``Generator.random(None)`` draws one number). Both run the same lines; one trader's scalars only skip
the per-call cost of tiny arrays.

The ``*_one`` methods step and observe one trader on Python numbers, what a single env runs: the same
rule functions of :mod:`~qgym.envs.trading.rules` and the same tables (read as tuples), the same
draws, the results written to the same arrays. ``tests/envs/trading/test_rules.py`` checks them against
a batch.
"""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from qgym.envs.native_vector import ALL, Selection
from qgym.envs.trading.rules import Floats, Ints, TradingConfig, position_tables, step_rewards, trade_costs

__all__ = ["ONE", "Book", "Desk", "PriceStream", "StreamT", "Traders"]

Traders = Selection | int
"""A slice or index array of traders, or one trader's number."""
ONE = 0
"""The trader of a single env (a desk of one)."""


class PriceStream(Protocol):
    """N price streams, each with the history its observation needs."""

    size: int
    """N, the number of streams."""
    regime_names: tuple[str, ...] | None
    """The names of the regimes an env shows (in ``info`` and its HUD), or None when it shows none."""

    def reset(self, traders: Traders, size: int | None, rng: np.random.Generator) -> Floats:
        """Start fresh streams for the selected traders, drawn with ``rng``; return their shares per unit."""
        ...

    def prices(self, traders: Traders = ALL) -> Floats:
        """The selected streams' latest prices."""
        ...

    def advance(self, traders: Traders, size: int | None, rng: np.random.Generator) -> tuple[Floats, Floats]:
        """Move the selected streams one step: their prices before and after the move."""
        ...

    def windows(self, traders: Traders = ALL) -> NDArray[np.float64]:
        """The selected streams' latest prices, oldest first: (..., window + 1), or (..., 1) where the
        observation needs no history."""
        ...

    def regimes(self, traders: Traders = ALL) -> Ints:
        """The selected streams' current regime codes."""
        ...

    def observations(self, traders: Traders, positions: Ints, steps_left: Ints) -> NDArray[Any] | Ints:
        """What the selected traders, holding ``positions`` with ``steps_left``, observe: indices, or
        features (..., F)."""
        ...

    def advance_one(self, trader: int, rng: np.random.Generator) -> tuple[float, float]:
        """:meth:`advance` of one stream, on Python numbers."""
        ...

    def observation_one(self, trader: int, position: int, steps_left: int) -> Any:
        """:meth:`observations` of one trader: an int, or a fresh float32 array (F,)."""
        ...


class Book:
    """The accounts of N traders, marked to their latest prices."""

    def __init__(self, size: int, config: TradingConfig) -> None:
        self.config = config
        self.tables = position_tables(config)
        self.position = np.zeros(size, dtype=np.int64)
        self.shares = np.ones(size)
        """Shares in one unit of position (the chain: 1; a market: initial equity / first price)."""
        self.equity = np.full(size, config.initial_equity)
        self.price = np.ones(size)
        """The latest price, where equity is marked."""
        self.start_price = np.ones(size)
        self.entry_cost = np.zeros(size)
        """What buying one unit at the start price cost (for :meth:`buy_and_hold`)."""
        self.last_cost = np.zeros(size)
        self.total_cost = np.zeros(size)
        self.elapsed = np.zeros(size, dtype=np.int64)
        """Steps taken in the episode."""

    def open(self, traders: Traders, shares: Floats, prices: Floats) -> None:
        """Start the selected traders' episodes: flat, with the initial equity, at ``prices``."""
        self.position[traders] = 0
        self.shares[traders] = shares
        self.equity[traders] = self.config.initial_equity
        self.price[traders] = prices
        self.start_price[traders] = prices
        self.entry_cost[traders] = trade_costs(0, 1, prices, shares, self.config)
        self.last_cost[traders] = 0.0
        self.total_cost[traders] = 0.0
        self.elapsed[traders] = 0

    def trade(self, actions: Ints, traders: Traders, price: Floats, next_price: Floats) -> Floats:
        """Trade the selected traders' ``actions`` (one per trader of the book) at ``price`` and mark
        them to ``next_price``: their rewards."""
        old = self.position[traders]
        new = self.tables.next_positions(old, actions[traders])
        shares = self.shares[traders]
        cost = trade_costs(old, new, price, shares, self.config)
        rewards = step_rewards(new, shares, price, next_price, cost)
        self.position[traders] = new
        self.equity[traders] += rewards
        self.price[traders] = next_price
        self.last_cost[traders] = cost
        self.total_cost[traders] += cost
        self.elapsed[traders] += 1
        return rewards

    def trade_one(self, action: int, trader: int, price: float, next_price: float) -> float:
        """:meth:`trade` of one trader on Python numbers: the same rule functions, the same arrays
        written (``x[i] += y`` on an array is ``x[i] = x[i] + y``, which this writes out)."""
        old = self.position.item(trader)
        new = self.tables.next_position_one(old, action)
        shares = self.shares.item(trader)
        cost = trade_costs(old, new, price, shares, self.config)
        reward: float = step_rewards(new, shares, price, next_price, cost)
        self.position[trader] = new
        self.equity[trader] = self.equity.item(trader) + reward
        self.price[trader] = next_price
        self.last_cost[trader] = cost
        self.total_cost[trader] = self.total_cost.item(trader) + cost
        self.elapsed[trader] = self.elapsed.item(trader) + 1
        return reward

    def buy_and_hold_one(self, trader: int) -> float:
        """:meth:`buy_and_hold` of one trader, a Python float."""
        held = self.shares.item(trader) * (self.price.item(trader) - self.start_price.item(trader))
        baseline: float = self.config.initial_equity - self.entry_cost.item(trader) + held
        return baseline

    def place(self, traders: Traders, positions: Ints, prices: Floats) -> None:
        """Put the selected traders at ``positions``, marked to ``prices`` (equity and costs unchanged)."""
        self.position[traders] = positions
        self.price[traders] = prices

    def buy_and_hold(self, traders: Traders = ALL) -> Floats:
        """The selected traders' equity had they bought one unit at the start and held it."""
        held = self.shares[traders] * (self.price[traders] - self.start_price[traders])
        return self.config.initial_equity - self.entry_cost[traders] + held

    def action_masks(self, traders: Traders = ALL) -> NDArray[np.int8]:
        """(..., 3) valid actions of the selected traders, a fresh array."""
        return self.tables.action_masks(self.position[traders])


StreamT = TypeVar("StreamT", bound=PriceStream)


class Desk(Generic[StreamT]):
    """N traders on N price streams: fresh episodes, steps and observations of any selection of them."""

    def __init__(self, stream: StreamT, config: TradingConfig) -> None:
        self.stream = stream
        self.config = config
        self.book = Book(stream.size, config)

    def reset(self, traders: Traders, size: int | None, rng: np.random.Generator) -> None:
        """Fresh episodes for the selected traders, drawn with ``rng``."""
        shares = self.stream.reset(traders, size, rng)
        self.book.open(traders, shares, self.stream.prices(traders))

    def step(self, actions: Ints, traders: Traders, size: int | None, rng: np.random.Generator) -> Floats:
        """One step of the selected traders (``actions`` holds one action per trader): their rewards."""
        price, next_price = self.stream.advance(traders, size, rng)
        return self.book.trade(actions, traders, price, next_price)

    def observations(self, traders: Traders = ALL) -> NDArray[Any] | Ints:
        """The selected traders' observations: indices, or features (..., F)."""
        book = self.book
        steps_left = self.config.episode_length - book.elapsed[traders]
        return self.stream.observations(traders, book.position[traders], steps_left)

    def step_one(self, action: int, trader: int, rng: np.random.Generator) -> float:
        """:meth:`step` of one trader on Python numbers: its reward."""
        price, next_price = self.stream.advance_one(trader, rng)
        return self.book.trade_one(action, trader, price, next_price)

    def observation_one(self, trader: int) -> Any:
        """:meth:`observations` of one trader: an int, or a fresh float32 array (F,)."""
        book = self.book
        steps_left = self.config.episode_length - book.elapsed.item(trader)
        return self.stream.observation_one(trader, book.position.item(trader), steps_left)
