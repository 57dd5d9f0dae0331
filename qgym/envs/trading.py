"""Toy trading: one asset, hold / buy / sell, costs on every trade, reward = change in equity.

Two envs share the trading rules (pure functions below) and the rendering:

* :class:`ChainTradingEnv`, the exact rung: the price is a finite mean-reverting (Ehrenfest) chain, so
  the env exposes its transition model and :mod:`qgym.planning` solves it exactly.
* :class:`TradingEnv`, the market rungs: a seeded synthetic price process with Markov regimes and
  jumps (a fresh path each reset), or the user's own prices (``prices=`` or ``csv_path=``).

Timing, the same everywhere: at step ``t`` the agent sees features of the prices up to ``t`` and its
position; its action sets the new position, paying costs on the change at the price of ``t``; the new
position then earns the move from ``t`` to ``t + 1``. The reward is the change in equity net of costs,
so the rewards of an episode add up to final minus initial equity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import ArrayLike, NDArray

from qgym.envs.prices import (
    REGIME_NAMES,
    PriceProcess,
    generate_prices,
    load_csv_prices,
    split_segment,
    validate_prices,
)
from qgym.envs.rendering import HumanWindow, import_pygame, surface_to_array
from qgym.planning import TabularModel

__all__ = [
    "ACTION_NAMES",
    "BUY",
    "HOLD",
    "SELL",
    "ChainTradingEnv",
    "TradingConfig",
    "TradingEnv",
    "action_mask",
    "chain_outcomes",
    "chain_price",
    "generate_prices",
    "market_features",
    "next_position",
    "step_reward",
    "trade_cost",
]

HOLD, BUY, SELL = 0, 1, 2
ACTION_NAMES = ("hold", "buy", "sell")
OBSERVATIONS = ("index", "features")
REGIMES = ("bull", "bear")
"""The chain's regimes: regime 0 reverts above the middle level, regime 1 below."""
CLIP = 4.0
"""Features are clipped to [-CLIP, CLIP]: finite bounds for DiscretizeObservation and MLPs."""
Z_EDGE = 2.0
"""The ``index`` observation of the market rungs bins the z-score evenly over [-Z_EDGE, Z_EDGE]."""

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class TradingConfig:
    """Trading rules and observation settings shared by every rung; validated when built."""

    episode_length: int = 100
    """Steps per episode; the env truncates after this many."""
    max_position: int = 1
    """Largest position in units; buy and sell move it by one unit."""
    allow_short: bool = True
    """Whether positions may go down to ``-max_position``."""
    fixed_cost: float = 0.0
    """Cost of each unit of position change, in currency."""
    proportional_cost: float = 0.0
    """Cost of each unit of position change as a fraction of its traded value."""
    initial_equity: float = 100.0
    """Equity at the start of every episode."""
    observation: str = "features"
    """``"index"``: one Discrete state number; ``"features"``: a bounded Box of scale-free features."""
    window: int = 20
    """Past returns behind the z-score and the volatility scaling of the features."""
    n_returns: int = 5
    """How many of the latest (volatility-scaled) log returns the features show."""
    z_bins: int = 9
    """Bins of the z-score in the market rungs' ``index`` observation."""

    def __post_init__(self) -> None:
        _require_int("episode_length", self.episode_length, 1)
        _require_int("max_position", self.max_position, 1)
        _require_int("window", self.window, 2)
        _require_int("n_returns", self.n_returns, 1)
        _require_int("z_bins", self.z_bins, 2)
        if self.n_returns > self.window:
            raise ValueError(f"n_returns must be at most window={self.window}, got {self.n_returns}")
        if not isinstance(self.allow_short, bool):
            raise ValueError(f"allow_short must be True or False, got {self.allow_short!r}")
        for name in ("fixed_cost", "proportional_cost"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.proportional_cost >= 1:
            raise ValueError(f"proportional_cost must be below 1 (a fraction), got {self.proportional_cost}")
        if not (math.isfinite(self.initial_equity) and self.initial_equity > 0):
            raise ValueError(f"initial_equity must be a positive number, got {self.initial_equity}")
        if self.observation not in OBSERVATIONS:
            raise ValueError(f"observation must be one of {list(OBSERVATIONS)}, got {self.observation!r}")

    @property
    def min_position(self) -> int:
        return -self.max_position if self.allow_short else 0

    @property
    def n_positions(self) -> int:
        return self.max_position - self.min_position + 1


# --- rules: pure functions shared by step() and the exact model -----------------------------------


def next_position(position: int, action: int, config: TradingConfig) -> int:
    """The position after ``action``; a buy at the top or a sell at the bottom is a hold."""
    if action == BUY:
        return min(position + 1, config.max_position)
    if action == SELL:
        return max(position - 1, config.min_position)
    return position


def action_mask(position: int, config: TradingConfig) -> NDArray[np.int8]:
    """1 for the actions that change something (hold always), 0 for buy/sell at the position limit."""
    return np.array(
        [1, position < config.max_position, position > config.min_position],
        dtype=np.int8,
    )


def trade_cost(old: int, new: int, price: float, shares: float, config: TradingConfig) -> float:
    """Cost of moving from position ``old`` to ``new`` at ``price`` (``shares`` per unit)."""
    units = abs(new - old)
    return units * (config.fixed_cost + config.proportional_cost * shares * price)


def step_reward(position: int, shares: float, price: float, next_price: float, cost: float) -> float:
    """Change in equity over one step: what the held position earns, less the cost of getting there."""
    return position * shares * (next_price - price) - cost


def chain_price(level: int, levels: int) -> float:
    """Price of a chain level: one tick per level, centred on 100."""
    return 100.0 + level - (levels - 1) / 2


def chain_outcomes(
    level: int, regime: int, levels: int, regime_switch: float, tilt: float
) -> list[tuple[float, int, int]]:
    """``(probability, next level, next regime)`` of the (biased) Ehrenfest price chain.

    With ``top = levels - 1`` and ``theta = 0.5 + tilt`` in regime 0 (``0.5 - tilt`` in regime 1), the
    price moves up with probability ``theta * (top - level) / (top * m)`` and down with ``(1 - theta) *
    level / (top * m)``, where ``m = max(theta, 1 - theta)``; otherwise it stays. It reverts towards
    level ``theta * top`` (stationary law Binomial(top, theta)); ``theta = 0.5`` is the classic urn,
    which moves every step. With ``regime_switch > 0`` the regime flips with that probability after
    each move.
    """
    top = levels - 1
    theta = 0.5 + tilt if regime == 0 else 0.5 - tilt
    scale = top * max(theta, 1 - theta)
    up = theta * (top - level) / scale
    down = (1 - theta) * level / scale
    moves = [(up, level + 1), (down, level - 1), (max(0.0, 1 - up - down), level)]
    regimes = (
        [(1.0, regime)] if regime_switch == 0 else [(1 - regime_switch, regime), (regime_switch, 1 - regime)]
    )
    return [(p * q, lvl, reg) for p, lvl in moves if p > 1e-15 for q, reg in regimes if q > 0]


def market_features(
    window_prices: FloatArray,
    position: int,
    steps_left: int,
    config: TradingConfig,
    regime: int | None = None,
) -> NDArray[np.float32]:
    """Bounded, scale-free features of the last ``window + 1`` prices and the agent's position.

    ``[n_returns latest log returns / volatility, z-score of the log price, position / max_position,
    steps left / episode_length, one-hot regime (if given)]``, each clipped to ``[-CLIP, CLIP]``.
    """
    returns, z = _scaled_returns_and_z(window_prices)
    parts: list[FloatArray] = [
        returns[-config.n_returns :],
        np.array([z, position / config.max_position, steps_left / config.episode_length]),
    ]
    if regime is not None:
        parts.append(np.eye(len(REGIME_NAMES))[regime])
    return np.concatenate(parts).astype(np.float32)


def _scaled_returns_and_z(window_prices: FloatArray) -> tuple[FloatArray, float]:
    log_prices = np.log(window_prices)
    returns = np.diff(log_prices)
    volatility = float(np.std(returns))
    scaled = np.clip(returns / volatility, -CLIP, CLIP) if volatility > 1e-12 else np.zeros_like(returns)
    spread = float(np.std(log_prices))
    z = (log_prices[-1] - float(np.mean(log_prices))) / spread if spread > 1e-12 else 0.0
    return scaled, float(np.clip(z, -CLIP, CLIP))


# --- the envs -------------------------------------------------------------------------------------


class _TradingBase(gym.Env[Any, Any]):
    """Bookkeeping, masks, info and rendering shared by the chain and the market envs."""

    metadata: dict[str, Any] = {"render_modes": ["human", "rgb_array", "ansi"], "render_fps": 8}
    frame_size = (480, 320)

    def __init__(self, config: TradingConfig, render_mode: str | None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}"
            )
        self.config = config
        self.render_mode = render_mode
        self.action_space = spaces.Discrete(3)
        self._window = HumanWindow(type(self).__name__)
        self._prices: list[float] = []
        self._now = 0
        self._start = 0
        self._t = 0
        self._position = 0
        self._shares = 1.0
        self._equity = config.initial_equity
        self._costs = 0.0
        self._last_cost = 0.0
        self._last_reward = 0.0
        self._positions: list[int] = []
        self._equities: list[float] = []
        self._baselines: list[float] = []

    # hooks -----------------------------------------------------------------------------------------
    def _advance(self) -> None:
        """Move the price one step forward (sets ``self._now``)."""
        raise NotImplementedError

    def _observation(self) -> Any:
        raise NotImplementedError

    def _regime_label(self) -> str | None:
        return None

    # public ----------------------------------------------------------------------------------------
    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        act = self._check_action(action)
        price = self._prices[self._now]
        position = next_position(self._position, act, self.config)
        cost = trade_cost(self._position, position, price, self._shares, self.config)
        self._advance()
        reward = step_reward(position, self._shares, price, self._prices[self._now], cost)
        self._position = position
        self._equity += reward
        self._costs += cost
        self._last_cost = cost
        self._last_reward = reward
        self._t += 1
        self._record()
        if self.render_mode == "human":
            self.render()
        truncated = self._t >= self.config.episode_length
        return self._observation(), reward, False, truncated, self._info()

    def action_masks(self) -> NDArray[np.int8]:
        """Valid actions now (sb3-contrib MaskablePPO convention): a fresh int8 array."""
        return action_mask(self._position, self.config)

    def render(self) -> Any:
        if self.render_mode is None:
            gym.logger.warn("render() was called without a render_mode; pass render_mode= to gym.make")
            return None
        if self.render_mode == "ansi":
            return self._ticker()
        frame = self._frame()
        if self.render_mode == "human":
            self._window.show(frame, int(self.metadata["render_fps"]))
            return None
        return frame

    def close(self) -> None:
        self._window.close()

    def get_keys_to_action(self) -> dict[tuple[int, ...], int]:
        """Keyboard play: up or b buys, down or s sells, space or h holds."""
        pygame = import_pygame()
        return {
            (pygame.K_UP,): BUY,
            (pygame.K_b,): BUY,
            (pygame.K_DOWN,): SELL,
            (pygame.K_s,): SELL,
            (pygame.K_SPACE,): HOLD,
            (pygame.K_h,): HOLD,
        }

    # helpers ---------------------------------------------------------------------------------------
    def _begin_episode(self, shares: float) -> None:
        self._start = self._now
        self._t = 0
        self._position = 0
        self._shares = shares
        self._equity = self.config.initial_equity
        self._costs = 0.0
        self._last_cost = 0.0
        self._last_reward = 0.0
        self._positions = []
        self._equities = []
        self._baselines = []
        self._record()
        if self.render_mode == "human":
            self.render()

    def _check_action(self, action: Any) -> int:
        if not self.action_space.contains(action):
            raise ValueError(f"action must be 0 (hold), 1 (buy) or 2 (sell), got {action!r}")
        return int(action)

    def _record(self) -> None:
        self._positions.append(self._position)
        self._equities.append(self._equity)
        self._baselines.append(self._buy_and_hold())

    def _buy_and_hold(self) -> float:
        start = self._prices[self._start]
        entry = trade_cost(0, 1, start, self._shares, self.config)
        return self.config.initial_equity - entry + self._shares * (self._prices[self._now] - start)

    def _info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "equity": self._equity,
            "position": self._position,
            "price": self._prices[self._now],
            "trade_cost": self._last_cost,
            "total_cost": self._costs,
            "buy_and_hold_equity": self._buy_and_hold(),
            "action_mask": self.action_masks(),
        }
        regime = self._regime_label()
        if regime is not None:
            info["regime"] = regime
        return info

    def _ticker(self) -> str:
        price = self._prices[self._now]
        previous = self._prices[self._now - 1] if self._now > 0 else price
        arrow = "^" if price > previous else "v" if price < previous else "="
        change = 100 * (price / previous - 1)
        regime = self._regime_label()
        text = (
            f"t {self._t:>4}/{self.config.episode_length}  price {price:10.2f} {arrow} {change:+6.2f}%  "
            f"position {self._position:+d}  equity {self._equity:10.2f}  "
            f"buy&hold {self._buy_and_hold():10.2f}  costs {self._costs:8.2f}"
        )
        return text + (f"  regime {regime}" if regime is not None else "")

    def _frame(self) -> NDArray[np.uint8]:
        pygame = import_pygame()
        width, height = self.frame_size
        surface = pygame.Surface((width, height))
        surface.fill((250, 250, 247))
        span = self.config.episode_length
        first = max(self._start, self._now - span)
        prices = self._prices[first : self._now + 1]
        positions = self._positions[-len(prices) :]
        equities = self._equities[-len(prices) :]
        baselines = self._baselines[-len(prices) :]
        margin, top_h, bottom_h = 10, 180, 90
        price_box = pygame.Rect(margin, margin, width - 2 * margin, top_h)
        equity_box = pygame.Rect(margin, margin * 2 + top_h, width - 2 * margin, bottom_h)
        step_w = (width - 2 * margin) / span

        def x_at(i: int) -> float:
            return margin + i * step_w

        for i, held in enumerate(positions[1:]):
            if held != 0:
                shade = (205, 235, 205) if held > 0 else (240, 205, 205)
                strength = abs(held) / self.config.max_position
                colour = tuple(int(250 - (250 - c) * strength) for c in shade)
                pygame.draw.rect(
                    surface, colour, pygame.Rect(x_at(i), price_box.top, math.ceil(step_w), top_h)
                )
        pygame.draw.rect(surface, (120, 120, 120), price_box, 1)
        pygame.draw.rect(surface, (120, 120, 120), equity_box, 1)
        self._draw_series(surface, price_box, [prices], [(30, 30, 30)], x_at)
        self._draw_series(surface, equity_box, [baselines, equities], [(160, 160, 160), (30, 90, 200)], x_at)
        font = pygame.font.Font(None, 18)
        regime = self._regime_label()
        lines = [
            f"t {self._t}/{span}   price {self._prices[self._now]:.2f}   position {self._position:+d}"
            + (f"   regime {regime}" if regime is not None else ""),
            f"equity {self._equity:.2f} (last {self._last_reward + 0.0:+.2f})   "
            f"buy&hold {self._buy_and_hold():.2f}   costs so far {self._costs:.2f}",
        ]
        for row, line in enumerate(lines):
            surface.blit(font.render(line, True, (20, 20, 20)), (margin, equity_box.bottom + 4 + 14 * row))
        labels = [("price", (30, 30, 30), price_box), ("equity", (30, 90, 200), equity_box)]
        labels.append(("buy & hold", (140, 140, 140), equity_box.move(48, 0)))
        for text, colour, box in labels:
            surface.blit(font.render(text, True, colour), (box.left + 4, box.top + 3))
        return surface_to_array(surface)

    @staticmethod
    def _draw_series(
        surface: Any, box: Any, series: list[list[float]], colours: list[tuple[int, int, int]], x_at: Any
    ) -> None:
        pygame = import_pygame()
        values = [v for line in series for v in line]
        low, high = min(values), max(values)
        pad = (high - low) * 0.1 or max(abs(high) * 0.01, 1e-9)
        low, high = low - pad, high + pad
        for line, colour in zip(series, colours, strict=True):
            points = [
                (x_at(i), box.bottom - (v - low) / (high - low) * box.height) for i, v in enumerate(line)
            ]
            if len(points) >= 2:
                pygame.draw.lines(surface, colour, False, points, 2)
            elif points:
                pygame.draw.circle(surface, colour, (int(points[0][0]), int(points[0][1])), 2)


class ChainTradingEnv(_TradingBase):
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
        _require_int("levels", levels, 3)
        if not 0.0 <= regime_switch < 1.0:
            raise ValueError(f"regime_switch must be a probability in [0, 1), got {regime_switch}")
        if not 0.0 <= tilt < 0.5:
            raise ValueError(f"tilt must be in [0, 0.5), got {tilt}")
        super().__init__(config, render_mode)
        self.levels = levels
        self.regime_switch = float(regime_switch)
        self.tilt = float(tilt)
        self.n_regimes = 2 if regime_switch > 0 else 1
        self.n_states = levels * config.n_positions * self.n_regimes
        self._level = levels // 2
        self._regime = 0
        self._model: TabularModel | None = None
        self._stationary = self._stationary_distribution()
        if config.observation == "index":
            self.observation_space: spaces.Space[Any] = spaces.Discrete(self.n_states)
        else:
            self.observation_space = _feature_space(config, regimes=False)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        flat = int(self.np_random.choice(self._stationary.size, p=self._stationary))
        self._level, self._regime = divmod(flat, self.n_regimes)
        self._prices = [chain_price(self._level, self.levels)]
        self._now = 0
        if self.config.observation == "features":
            for _ in range(self.config.window):
                self._advance()
        self._begin_episode(shares=1.0)
        return self._observation(), self._info()

    @property
    def state_index(self) -> int:
        """The current state's number in :meth:`transition_model`."""
        return self._encode(self._level, self._position, self._regime)

    @state_index.setter
    def state_index(self, index: int) -> None:
        if not 0 <= int(index) < self.n_states:
            raise ValueError(f"state_index must be in [0, {self.n_states - 1}], got {index}")
        self._level, self._position, self._regime = self._decode(int(index))
        self._prices.append(chain_price(self._level, self.levels))
        self._now = len(self._prices) - 1

    def transition_model(self) -> TabularModel:
        """The exact model, built from the same rule functions as :meth:`step`."""
        if self._model is None:
            self._model = self._build_model()
        return self._model

    @property
    def P(self) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:  # noqa: N802 - toy-text name
        """Toy-text ``P[s][a] = [(prob, next_state, reward, terminated), ...]``."""
        model = self.transition_model()
        return {s: {a: model.outcomes(s, a) for a in range(3)} for s in range(self.n_states)}

    @property
    def initial_state_distrib(self) -> FloatArray:
        """Start distribution over states (stationary level and regime, flat position)."""
        return self.transition_model().initial_distribution.copy()

    def describe_state(self, index: int) -> dict[str, Any]:
        """``level``, ``price``, ``position`` and ``regime`` of state number ``index``."""
        level, position, regime = self._decode(index)
        return {
            "level": level,
            "price": chain_price(level, self.levels),
            "position": position,
            "regime": REGIMES[regime],
        }

    def _advance(self) -> None:
        outcomes = chain_outcomes(self._level, self._regime, self.levels, self.regime_switch, self.tilt)
        cumulative = np.cumsum([prob for prob, _, _ in outcomes])
        pick = int(np.searchsorted(cumulative, self.np_random.random(), side="right"))
        _, level, regime = outcomes[min(pick, len(outcomes) - 1)]
        self._level, self._regime = level, regime
        self._prices.append(chain_price(level, self.levels))
        self._now = len(self._prices) - 1

    def _observation(self) -> Any:
        if self.config.observation == "index":
            return self.state_index
        window = np.asarray(self._prices[self._now - self.config.window : self._now + 1])
        return market_features(window, self._position, self.config.episode_length - self._t, self.config)

    def _regime_label(self) -> str | None:
        return REGIMES[self._regime] if self.n_regimes > 1 else None

    def _encode(self, level: int, position: int, regime: int) -> int:
        config = self.config
        return (level * config.n_positions + position - config.min_position) * self.n_regimes + regime

    def _decode(self, index: int) -> tuple[int, int, int]:
        rest, regime = divmod(index, self.n_regimes)
        level, offset = divmod(rest, self.config.n_positions)
        return level, offset + self.config.min_position, regime

    def _stationary_distribution(self) -> FloatArray:
        """Stationary distribution of (level, regime), flattened as ``level * n_regimes + regime``."""
        size = self.levels * self.n_regimes
        matrix = np.zeros((size, size))
        for level in range(self.levels):
            for regime in range(self.n_regimes):
                for prob, nxt, reg in chain_outcomes(
                    level, regime, self.levels, self.regime_switch, self.tilt
                ):
                    matrix[level * self.n_regimes + regime, nxt * self.n_regimes + reg] += prob
        # solve pi (M - I) = 0 with sum(pi) = 1
        system = np.vstack([matrix.T - np.eye(size), np.ones(size)])
        rhs = np.zeros(size + 1)
        rhs[-1] = 1.0
        pi = np.linalg.lstsq(system, rhs, rcond=None)[0]
        pi = np.clip(pi, 0.0, None)
        return np.asarray(pi / pi.sum(), dtype=np.float64)

    def _build_model(self) -> TabularModel:
        config = self.config
        rows: list[list[list[tuple[float, int, float]]]] = []
        for state in range(self.n_states):
            level, position, regime = self._decode(state)
            price = chain_price(level, self.levels)
            outcomes = chain_outcomes(level, regime, self.levels, self.regime_switch, self.tilt)
            row = []
            for action in range(3):
                new = next_position(position, action, config)
                cost = trade_cost(position, new, price, 1.0, config)
                row.append(
                    [
                        (
                            prob,
                            self._encode(lvl, new, reg),
                            step_reward(new, 1.0, price, chain_price(lvl, self.levels), cost),
                        )
                        for prob, lvl, reg in outcomes
                    ]
                )
            rows.append(row)
        width = max(len(cell) for row in rows for cell in row)
        shape = (self.n_states, 3, width)
        next_states = np.zeros(shape, dtype=np.int64)
        probs = np.zeros(shape)
        rewards = np.zeros(shape)
        for s, row in enumerate(rows):
            for a, cell in enumerate(row):
                for k, (prob, nxt, reward) in enumerate(cell):
                    next_states[s, a, k], probs[s, a, k], rewards[s, a, k] = nxt, prob, reward
                for k in range(len(cell), width):
                    next_states[s, a, k] = cell[0][1]
        isd = np.zeros(self.n_states)
        for flat, prob in enumerate(self._stationary):
            level, regime = divmod(flat, self.n_regimes)
            isd[self._encode(level, 0, regime)] = prob
        return TabularModel(next_states, probs, rewards, np.zeros(shape, dtype=bool), isd)


class TradingEnv(_TradingBase):
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
    ``prices`` (array-like) or ``csv_path`` and ``column``: user data; ``split`` ("train", "test",
    "all"), ``train_fraction``; ``observe_regime``; the :class:`qgym.envs.prices.PriceProcess`
    parameters (``reversion``, ``volatility``, ``trend``, ``trend_volatility``, ``regime_switch``,
    ``jump_rate``, ``jump_size``, ``start``); the trading arguments of :class:`TradingConfig`.
    ``info`` holds ``equity``, ``position``, ``price``, ``trade_cost``, ``total_cost``,
    ``buy_and_hold_equity``, ``action_mask`` (and ``regime`` when observed).

    ## Version History
    * v0: initial version.
    """

    _STREAMS: ClassVar[dict[str, int]] = {"train": 0, "test": 1, "all": 2}

    def __init__(
        self,
        prices: ArrayLike | None = None,
        csv_path: str | Path | None = None,
        column: str = "close",
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
        super().__init__(config, render_mode)
        if not 0.0 < train_fraction < 1.0:
            raise ValueError(f"train_fraction must be strictly between 0 and 1, got {train_fraction}")
        if not isinstance(observe_regime, bool):
            raise ValueError(f"observe_regime must be True or False, got {observe_regime!r}")
        self.process = PriceProcess.from_params(**process)
        self.split = split
        self.observe_regime = observe_regime
        self._data: FloatArray | None = None
        self._segment = (0, 0)
        self._regimes: NDArray[np.int8] = np.zeros(0, dtype=np.int8)
        needed = config.window + config.episode_length + 1
        if prices is not None and csv_path is not None:
            raise ValueError("pass either prices= or csv_path=, not both")
        if csv_path is not None:
            self._data = load_csv_prices(csv_path, column)
        elif prices is not None:
            self._data = validate_prices(prices)
        self._segment = split_segment(
            needed if self._data is None else self._data.size, split, train_fraction
        )
        if self._data is not None:
            if observe_regime:
                raise ValueError(
                    "observe_regime=True needs the synthetic process: user prices carry no regime; "
                    "pass observe_regime=False"
                )
            length = self._segment[1] - self._segment[0]
            if length < needed:
                raise ValueError(
                    f"the {split!r} segment holds {length} prices, shorter than one episode: it needs "
                    f"window + episode_length + 1 = {needed}; pass more prices, a shorter episode_length "
                    "or window, or another split/train_fraction"
                )
        self.n_regimes = len(REGIME_NAMES) if observe_regime else 1
        if config.observation == "index":
            self.observation_space: spaces.Space[Any] = spaces.Discrete(
                config.z_bins * config.n_positions * self.n_regimes
            )
        else:
            self.observation_space = _feature_space(config, regimes=observe_regime)
        self._edges = np.linspace(-Z_EDGE, Z_EDGE, config.z_bins - 1)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        config = self.config
        needed = config.window + config.episode_length + 1
        if self._data is None:
            entropy = int(self.np_random.integers(2**63))
            stream = np.random.SeedSequence(entropy, spawn_key=(self._STREAMS[self.split],))
            path, regimes = self.process.simulate(needed, np.random.default_rng(stream))
            self._regimes = regimes
        else:
            low, high = self._segment
            first = int(self.np_random.integers(low, high - needed + 1))
            path = self._data[first : first + needed]
            self._regimes = np.zeros(needed, dtype=np.int8)
        self._prices = [float(p) for p in path]
        self._now = config.window
        self._begin_episode(shares=config.initial_equity / self._prices[self._now])
        return self._observation(), self._info()

    def _advance(self) -> None:
        if self._now + 1 >= len(self._prices):
            raise RuntimeError("the episode is over (truncated after episode_length steps): call reset()")
        self._now += 1

    def _observation(self) -> Any:
        config = self.config
        window = np.asarray(self._prices[self._now - config.window : self._now + 1])
        regime = int(self._regimes[self._now]) if self.observe_regime else None
        if config.observation == "features":
            return market_features(window, self._position, config.episode_length - self._t, config, regime)
        _, z = _scaled_returns_and_z(window)
        z_bin = int(np.digitize(z, self._edges))
        return (z_bin * config.n_positions + self._position - config.min_position) * self.n_regimes + (
            regime or 0
        )

    def _regime_label(self) -> str | None:
        return REGIME_NAMES[int(self._regimes[self._now])] if self.observe_regime else None


def _feature_space(config: TradingConfig, regimes: bool) -> spaces.Box:
    n_regime = len(REGIME_NAMES) if regimes else 0
    low = np.concatenate(
        [
            np.full(config.n_returns + 1, -CLIP),
            [config.min_position / config.max_position, 0.0],
            np.zeros(n_regime),
        ]
    )
    high = np.concatenate([np.full(config.n_returns + 1, CLIP), [1.0, 1.0], np.ones(n_regime)])
    return spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)


def _require_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
