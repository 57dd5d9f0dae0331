"""N traders in lockstep: the native vector versions of the chain and the market envs.

Each runs the very :class:`~qgym.envs.trading.desk.Desk` its single env runs, built by the single env's
``make_desk`` for N traders instead of one. With ``num_envs=1`` a seed gives the single env's episodes.
"""

from __future__ import annotations

from typing import Any, Generic

import numpy as np
from numpy.typing import NDArray

from qgym.envs.native_vector import ALL, FloatArray, IntArray, NativeVectorEnv, Selection, indices_of
from qgym.envs.trading.chain import ChainPrices, ChainTradingEnv
from qgym.envs.trading.desk import Desk, StreamT
from qgym.envs.trading.env import TradingEnvBase, record_trader, trader_status
from qgym.envs.trading.market import MarketPaths, TradingEnv
from qgym.envs.trading.render import Chart, draw_frame
from qgym.envs.trading.rules import decode_index, encode_index

__all__ = ["ChainTradingVectorEnv", "TradingVectorEnv"]

ArrayLikeInt = int | list[int] | list[list[int]] | NDArray[np.integer[Any]]


class _TradingVectorEnv(NativeVectorEnv, Generic[StreamT]):
    """The lockstep shell of both trading vector envs, around N traders of the single env's kind."""

    def __init__(
        self,
        single: TradingEnvBase[StreamT],
        num_envs: int,
        max_episode_steps: int | None,
        render_mode: str | None,
    ) -> None:
        config = single.config
        super().__init__(
            single, num_envs, max_episode_steps, render_mode, episode_limit=config.episode_length
        )
        self.config = config
        self.desk: Desk[StreamT] = single.make_desk(self.num_envs)
        # Each sub-env's episode and last reward, for its frame (kept only when rendering).
        drawn = self.num_envs if render_mode is not None else 0
        self._charts = [Chart() for _ in range(drawn)]
        self._last_rewards = np.zeros(drawn, dtype=np.float64)

    def _reset_envs(self, selection: Selection, count: int) -> None:
        self.desk.reset(selection, count, self.np_random)
        if self._charts:
            for trader in indices_of(selection, self.num_envs):
                window = self.desk.stream.windows(trader)
                self._charts[trader].begin(before=float(window[-2] if len(window) > 1 else window[-1]))
                self._last_rewards[trader] = 0.0
                record_trader(self.desk, trader, self._charts[trader])

    def _advance(self, actions: IntArray, selection: Selection, count: int) -> FloatArray:
        rewards: FloatArray = self.desk.step(actions, selection, count, self.np_random)
        if self._charts:
            self._last_rewards[selection] = rewards
            for trader in indices_of(selection, self.num_envs):
                record_trader(self.desk, trader, self._charts[trader])
        return rewards

    def _frame(self, index: int) -> NDArray[np.uint8]:
        chart = self._charts[index]
        status = trader_status(self.desk, index, chart, float(self._last_rewards[index]))
        return draw_frame(chart, status, self.config)

    def _observations(self) -> Any:
        return self.desk.observations()

    def _infos(self) -> dict[str, Any]:
        book = self.desk.book
        infos: dict[str, Any] = {
            "equity": book.equity.copy(),
            "position": book.position.copy(),
            "price": book.price.copy(),
            "trade_cost": book.last_cost.copy(),
            "total_cost": book.total_cost.copy(),
            "buy_and_hold_equity": np.asarray(book.buy_and_hold(), dtype=np.float64),
            "action_mask": book.action_masks(),
        }
        if self.desk.stream.regime_names is not None:
            infos["regime"] = self.desk.stream.regimes()
        return infos


class ChainTradingVectorEnv(_TradingVectorEnv[ChainPrices]):
    """N traders on independent Ehrenfest chains: the vector version of
    :class:`~qgym.envs.trading.chain.ChainTradingEnv`.

    Takes the single env's arguments plus ``num_envs``, ``max_episode_steps`` and ``render_mode``
    (None, or ``"rgb_array"`` for a frame per sub-env). ``info`` holds arrays ``equity``,
    ``position``, ``price``, ``trade_cost``, ``total_cost``, ``buy_and_hold_equity``, ``action_mask``
    (and ``regime`` codes, indices into ``REGIMES``, on the regime-switching chain).
    """

    def __init__(
        self,
        num_envs: int = 1,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        single = ChainTradingEnv(**kwargs)
        super().__init__(single, num_envs, max_episode_steps, render_mode)
        self.levels = single.levels
        self.n_regimes = single.n_regimes
        self.n_states = single.n_states

    @property
    def state_indices(self) -> IntArray:
        """Every sub-env's state number in the single env's :meth:`transition_model`."""
        tables, state = self.desk.stream.tables, self.desk.stream.state
        indices: IntArray = encode_index(
            tables.level[state], self.desk.book.position, tables.regime[state], self.config, self.n_regimes
        )
        return indices

    def set_state_indices(self, indices: ArrayLikeInt) -> None:
        """Put the sub-envs in the given model states (broadcast to (N,)); index observations only."""
        if self.config.observation == "features":
            raise ValueError("set_state_indices needs observation='index' (features need a price history)")
        states = np.broadcast_to(np.asarray(indices, dtype=np.int64), (self.num_envs,))
        if states.min() < 0 or states.max() >= self.n_states:
            raise ValueError(f"indices must be state numbers in [0, {self.n_states - 1}], got {indices!r}")
        level, position, regime = decode_index(states, self.config, self.n_regimes)
        prices = self.desk.stream.place(ALL, level * self.n_regimes + regime)
        self.desk.book.place(ALL, position, prices)
        for trader, chart in enumerate(self._charts):
            chart.move(float(prices[trader]))


class TradingVectorEnv(_TradingVectorEnv[MarketPaths]):
    """N traders on independent market paths: the vector :class:`~qgym.envs.trading.market.TradingEnv`.

    Every reset draws each sub-env's path exactly as the single env does (one seeded generator per
    synthetic path, all simulated at once by :meth:`~qgym.envs.trading.prices.PriceProcess.simulate_batch`,
    or a random window of the user's prices). Takes the single env's arguments plus ``num_envs``,
    ``max_episode_steps`` and ``render_mode`` (None, or ``"rgb_array"`` for a frame per sub-env).
    ``info`` holds arrays ``equity``, ``position``, ``price``, ``trade_cost``, ``total_cost``,
    ``buy_and_hold_equity``, ``action_mask`` (and ``regime`` codes when observed).
    """

    def __init__(
        self,
        num_envs: int = 1,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        single = TradingEnv(**kwargs)
        super().__init__(single, num_envs, max_episode_steps, render_mode)
        self.process = single.process
        self.observe_regime = single.observe_regime
        self.n_regimes = single.n_regimes
