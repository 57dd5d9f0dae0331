"""Native numpy vector versions of the qgym envs: N farms or N traders stepped in lockstep.

``gym.make_vec("qgym/GridFarm-2x2-v0", num_envs=1024)`` builds one of these (the registry's
``vector_entry_point``). Each class runs the same pure rules as its single env, over arrays of N
states instead of one: :func:`qgym.envs.farm_rules.act` and :func:`~qgym.envs.farm_rules.nature_step`
are batched already; the trading rules are applied elementwise or through tables built by calling
them. Each class keeps its own time limit and resets finished sub-envs on the *next* step
(``AutoresetMode.NEXT_STEP``, as Gymnasium's ``CartPoleVectorEnv``): that step ignores their action
and returns their first observation with reward 0.

One generator, seeded by ``reset(seed=...)``, drives all sub-envs. With ``num_envs=1`` it draws the
same numbers in the same order as the single env, so a seed gives the very same episodes; with more
envs each draw covers the whole batch. ``reset(options={"reset_mask": mask})`` resets only the
marked sub-envs (what :class:`qgym.vec_adapter.SB3VecEnv` uses for same-step autoreset).
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from qgym.envs.native_vector import FloatArray, IntArray, NativeVectorEnv, Selection
from qgym.envs.prices import REGIME_NAMES
from qgym.envs.trading import (
    CLIP,
    Z_EDGE,
    ChainTradingEnv,
    TradingConfig,
    TradingEnv,
    chain_outcomes,
    chain_price,
    next_position,
    step_reward,
    trade_cost,
)
from qgym.envs.trading import action_mask as trading_action_mask

__all__ = [
    "ChainTradingVectorEnv",
    "TradingVectorEnv",
    "batch_market_features",
]

ArrayLikeInt = int | list[int] | list[list[int]] | NDArray[np.integer[Any]]

# The trading rules are plain arithmetic, so they apply elementwise to arrays unchanged; these
# aliases only tell the type checker so.
_trade_cost_elementwise = cast(Any, trade_cost)
_step_reward_elementwise = cast(Any, step_reward)


class _TradingVectorBase(NativeVectorEnv):
    """Positions, costs, equity and masks shared by the two trading vector envs."""

    def __init__(
        self, single: Any, num_envs: int, max_episode_steps: int | None, render_mode: str | None
    ) -> None:
        config: TradingConfig = single.config
        super().__init__(
            single, num_envs, max_episode_steps, render_mode, episode_limit=config.episode_length
        )
        self.config = config
        n = self.num_envs
        positions = range(config.min_position, config.max_position + 1)
        # next_position and action_mask are tabulated by calling the rules on every input.
        self._next_position = np.array(
            [[next_position(p, a, config) for a in range(self._n_actions)] for p in positions], dtype=np.int64
        )
        self._mask_table = np.stack([trading_action_mask(p, config) for p in positions])
        self._rows = np.arange(n)
        self._position = np.zeros(n, dtype=np.int64)
        self._shares = np.ones(n, dtype=np.float64)
        self._equity = np.full(n, config.initial_equity, dtype=np.float64)
        self._last_cost = np.zeros(n, dtype=np.float64)
        self._episode_t = np.zeros(n, dtype=np.int64)

    def _reset_positions(self, selection: Selection) -> None:
        self._position[selection] = 0
        self._equity[selection] = self.config.initial_equity
        self._last_cost[selection] = 0.0
        self._episode_t[selection] = 0

    def _trade(
        self, actions: IntArray, selection: Selection, price: FloatArray, next_price: FloatArray
    ) -> FloatArray:
        """Apply the trading rules to the selected sub-envs, given the price now and one step later."""
        old = self._position[selection]
        new = self._next_position[old - self.config.min_position, actions[selection]]
        shares = self._shares[selection]
        cost = _trade_cost_elementwise(old, new, price, shares, self.config)
        rewards: FloatArray = _step_reward_elementwise(new, shares, price, next_price, cost)
        self._position[selection] = new
        self._equity[selection] += rewards
        self._last_cost[selection] = cost
        self._episode_t[selection] += 1
        return rewards

    def _trading_infos(self, price: FloatArray) -> dict[str, Any]:
        return {
            "equity": self._equity.copy(),
            "position": self._position.copy(),
            "price": price,
            "trade_cost": self._last_cost.copy(),
            "action_mask": self._mask_table[self._position - self.config.min_position],
        }


class ChainTradingVectorEnv(_TradingVectorBase):
    """N traders on independent Ehrenfest chains: the vector :class:`~qgym.envs.trading.ChainTradingEnv`.

    Takes the single env's arguments plus ``num_envs``, ``max_episode_steps`` and ``render_mode``
    (None). ``info`` holds arrays ``equity``, ``position``, ``price``, ``trade_cost``, ``action_mask``.
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
        # Start law exactly as Generator.choice(p=stationary) draws it: one uniform, searchsorted.
        start_cdf = np.cumsum(single._stationary)
        self._start_cdf = start_cdf / start_cdf[-1]
        self._price_of_level = np.array([chain_price(level, self.levels) for level in range(self.levels)])
        self._tabulate_chain(single)
        n = self.num_envs
        self._level = np.zeros(n, dtype=np.int64)
        self._regime = np.zeros(n, dtype=np.int64)
        window = self.config.window
        self._features = self.config.observation == "features"
        self._prices = np.zeros((n, window + 1 if self._features else 1), dtype=np.float64)

    def _tabulate_chain(self, single: ChainTradingEnv) -> None:
        """Tables of :func:`chain_outcomes` for every (level, regime), padded to the widest row."""
        rows = [
            [
                chain_outcomes(level, regime, self.levels, single.regime_switch, single.tilt)
                for regime in range(self.n_regimes)
            ]
            for level in range(self.levels)
        ]
        width = max(len(outcomes) for row in rows for outcomes in row)
        shape = (self.levels, self.n_regimes, width)
        # Padding sits above any uniform, so a padded slot never counts as passed.
        self._cumulative = np.full(shape, 2.0)
        self._next_level = np.zeros(shape, dtype=np.int64)
        self._next_regime = np.zeros(shape, dtype=np.int64)
        self._last_outcome = np.zeros(shape[:2], dtype=np.int64)
        for level, row in enumerate(rows):
            for regime, outcomes in enumerate(row):
                k = len(outcomes)
                self._cumulative[level, regime, :k] = np.cumsum([prob for prob, _, _ in outcomes])
                self._next_level[level, regime, :k] = [lvl for _, lvl, _ in outcomes]
                self._next_regime[level, regime, :k] = [reg for _, _, reg in outcomes]
                self._last_outcome[level, regime] = k - 1

    def _reset_envs(self, selection: Selection, count: int) -> None:
        flat = np.searchsorted(self._start_cdf, self.np_random.random(count), side="right")
        level, regime = np.divmod(flat, self.n_regimes)
        self._level[selection] = level
        self._regime[selection] = regime
        self._prices[selection] = self._price_of_level[level][:, None]
        if self._features:
            for _ in range(self.config.window):
                self._move_prices(selection, count)
        self._reset_positions(selection)

    def _move_prices(self, selection: Selection, count: int) -> FloatArray:
        """One move of the selected chains (the single env's ``_advance``); returns the new prices."""
        level, regime = self._level[selection], self._regime[selection]
        uniforms = self.np_random.random(count)
        # searchsorted(cumulative, u, side="right") counts the cumulative values <= u.
        pick = (self._cumulative[level, regime] <= uniforms[:, None]).sum(axis=1)
        pick = np.minimum(pick, self._last_outcome[level, regime])
        new_level = self._next_level[level, regime, pick]
        self._level[selection] = new_level
        self._regime[selection] = self._next_regime[level, regime, pick]
        price: FloatArray = self._price_of_level[new_level]
        if self._features:
            self._prices[selection] = np.concatenate([self._prices[selection][:, 1:], price[:, None]], axis=1)
        else:
            self._prices[selection, 0] = price
        return price

    def _advance(self, actions: IntArray, selection: Selection, count: int) -> FloatArray:
        price = self._price_of_level[self._level[selection]]
        next_price = self._move_prices(selection, count)
        return self._trade(actions, selection, price, next_price)

    def _observations(self) -> Any:
        config = self.config
        if not self._features:
            offset = self._position - config.min_position
            return (self._level * config.n_positions + offset) * self.n_regimes + self._regime
        steps_left = config.episode_length - self._episode_t
        return batch_market_features(self._prices, self._position, steps_left, config)

    def _infos(self) -> dict[str, Any]:
        return self._trading_infos(self._prices[:, -1].copy())

    @property
    def state_indices(self) -> IntArray:
        """Every sub-env's state number in the single env's :meth:`transition_model`."""
        offset = self._position - self.config.min_position
        indices: IntArray = (self._level * self.config.n_positions + offset) * self.n_regimes + self._regime
        return indices

    def set_state_indices(self, indices: ArrayLikeInt) -> None:
        """Put the sub-envs in the given model states (broadcast to (N,)); index observations only."""
        if self._features:
            raise ValueError("set_state_indices needs observation='index' (features need a price history)")
        states = np.broadcast_to(np.asarray(indices, dtype=np.int64), (self.num_envs,))
        if states.min() < 0 or states.max() >= self.n_states:
            raise ValueError(f"indices must be state numbers in [0, {self.n_states - 1}], got {indices!r}")
        rest, self._regime[:] = np.divmod(states, self.n_regimes)
        self._level[:], offset = np.divmod(rest, self.config.n_positions)
        self._position[:] = offset + self.config.min_position
        self._prices[:, 0] = self._price_of_level[self._level]


class TradingVectorEnv(_TradingVectorBase):
    """N traders on independent market paths: the vector version of :class:`~qgym.envs.trading.TradingEnv`.

    Every reset draws each sub-env's path exactly as the single env does (the paths of
    :meth:`~qgym.envs.prices.PriceProcess.simulate`, all at once through its batch form
    :meth:`~qgym.envs.prices.PriceProcess.simulate_batch`, or a random window of the user's prices).
    Takes the single env's arguments plus ``num_envs``, ``max_episode_steps`` and ``render_mode``
    (None). ``info`` holds arrays ``equity``, ``position``, ``price``, ``trade_cost``, ``action_mask``.
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
        config = self.config
        self.process = single.process
        self.observe_regime = single.observe_regime
        self.n_regimes = single.n_regimes
        self._data = single._data
        self._segment = single._segment
        self._stream = single._STREAMS[single.split]
        self._edges = np.linspace(-Z_EDGE, Z_EDGE, config.z_bins - 1)
        self._needed = config.window + config.episode_length + 1
        self._window_offsets = np.arange(-config.window, 1)
        n = self.num_envs
        self._paths = np.ones((n, self._needed), dtype=np.float64)
        self._regimes = np.zeros((n, self._needed), dtype=np.int8)
        self._now = np.full(n, config.window, dtype=np.int64)

    def _reset_envs(self, selection: Selection, count: int) -> None:
        envs = self._rows[selection]
        if self._data is None:
            # One generator per path, seeded as the single env seeds its own, then all paths at once.
            rngs = [
                np.random.default_rng(
                    np.random.SeedSequence(int(self.np_random.integers(2**63)), spawn_key=(self._stream,))
                )
                for _ in envs
            ]
            self._paths[envs], self._regimes[envs] = self.process.simulate_batch(self._needed, rngs)
        else:
            low, high = self._segment
            for env in envs:
                first = int(self.np_random.integers(low, high - self._needed + 1))
                self._paths[env] = self._data[first : first + self._needed]
            self._regimes[envs] = 0
        self._now[envs] = self.config.window
        self._reset_positions(envs)
        self._shares[envs] = self.config.initial_equity / self._paths[envs, self.config.window]

    def _advance(self, actions: IntArray, selection: Selection, count: int) -> FloatArray:
        envs = self._rows[selection]
        now = self._now[envs]
        price = self._paths[envs, now]
        self._now[envs] = now + 1
        return self._trade(actions, selection, price, self._paths[envs, now + 1])

    def _observations(self) -> Any:
        config = self.config
        window = self._paths[self._rows[:, None], self._now[:, None] + self._window_offsets]
        regime = self._regimes[self._rows, self._now].astype(np.int64) if self.observe_regime else None
        if config.observation == "features":
            steps_left = config.episode_length - self._episode_t
            return batch_market_features(window, self._position, steps_left, config, regime)
        _, z = _batch_scaled_returns_and_z(window)
        z_bin = np.digitize(z, self._edges)
        index = (z_bin * config.n_positions + self._position - config.min_position) * self.n_regimes
        return index + (0 if regime is None else regime)

    def _infos(self) -> dict[str, Any]:
        infos = self._trading_infos(self._paths[self._rows, self._now])
        if self.observe_regime:
            infos["regime"] = self._regimes[self._rows, self._now].astype(np.int64)
        return infos


def batch_market_features(
    window_prices: FloatArray,
    positions: IntArray,
    steps_left: IntArray,
    config: TradingConfig,
    regimes: IntArray | None = None,
) -> NDArray[np.float32]:
    """:func:`qgym.envs.trading.market_features` for a batch: one row of ``window + 1`` prices per env.

    The tests check it against the single-env function row by row.
    """
    returns, z = _batch_scaled_returns_and_z(window_prices)
    columns = [
        returns[:, -config.n_returns :],
        z[:, None],
        (positions / config.max_position)[:, None],
        (steps_left / config.episode_length)[:, None],
    ]
    if regimes is not None:
        columns.append(np.eye(len(REGIME_NAMES))[regimes])
    return np.concatenate(columns, axis=1).astype(np.float32)


def _batch_scaled_returns_and_z(window_prices: FloatArray) -> tuple[FloatArray, FloatArray]:
    log_prices = np.log(window_prices)
    returns = np.diff(log_prices, axis=1)
    volatility = np.std(returns, axis=1)
    moving = volatility > 1e-12
    scaled = np.zeros_like(returns)
    scaled[moving] = np.clip(returns[moving] / volatility[moving, None], -CLIP, CLIP)
    spread = np.std(log_prices, axis=1)
    spread_out = spread > 1e-12
    z = np.zeros(len(log_prices))
    centred = log_prices[:, -1] - np.mean(log_prices, axis=1)
    z[spread_out] = centred[spread_out] / spread[spread_out]
    return scaled, np.clip(z, -CLIP, CLIP)
