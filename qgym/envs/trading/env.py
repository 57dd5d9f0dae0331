"""The Gymnasium shell both single trading envs share: one trader on a :class:`~.desk.Desk` of size one.

A subclass (the chain, the market) builds its price stream in :meth:`TradingEnvBase.make_desk`; the
vector envs call the same method for N traders, so both step the same code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Generic, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from qgym.envs.figures import LazyRecord
from qgym.envs.interface import EpisodeChart, FieldReport, Overlay
from qgym.envs.pygame_frames import HumanWindow, import_pygame
from qgym.envs.trading.desk import ONE, Desk, StreamT
from qgym.envs.trading.metrics import episode_chart, path_figures, trading_report
from qgym.envs.trading.render import FRAME_SIZE, Chart, Status, draw_frame, legend_icons, ticker
from qgym.envs.trading.rules import ACTION_NAMES, BUY, HOLD, N_ACTIONS, SELL, TradingConfig

__all__ = ["TradingEnvBase", "record_trader", "trader_status"]


class TradingEnvBase(gym.Env[Any, Any], Generic[StreamT]):
    """Steps, masks, ``info``, rendering and the viewer interface of one trader (see the subclasses).

    ``__init__`` calls :meth:`make_desk`, so a subclass sets what that reads before calling it.
    """

    metadata: dict[str, Any] = {"render_modes": ["human", "rgb_array", "ansi"], "render_fps": 8}
    frame_size = FRAME_SIZE

    def __init__(self, config: TradingConfig, render_mode: str | None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}"
            )
        self.config = config
        self.render_mode = render_mode
        self.action_space = spaces.Discrete(N_ACTIONS)
        self.desk: Desk[StreamT] = self.make_desk(1)
        """The one trader this env steps (trader ``ONE`` of a desk of one)."""
        self.chart = Chart()
        """What this episode has shown, for the frame and the ticker."""
        self._window = HumanWindow(type(self).__name__)
        self._last_reward = 0.0
        self._started = False

    def make_desk(self, size: int) -> Desk[StreamT]:
        """``size`` traders on this env's kind of prices (the vector envs ask for N)."""
        raise NotImplementedError

    # --- the Gymnasium API ------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        self.desk.reset(ONE, None, self.np_random)
        self._started = True
        window = self.desk.stream.windows(ONE)
        self._last_reward = 0.0
        self.chart.begin(before=float(window[-2] if len(window) > 1 else window[-1]))
        baseline = self.desk.book.buy_and_hold_one(ONE)
        self._record(baseline)
        if self.render_mode == "human":
            self.render()
        return self._observation(), self._info(baseline)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        if not self._started:
            raise gym.error.ResetNeeded("call reset() before step(): a trading episode starts at reset")
        # A plain int in range is the common case, and Discrete.contains costs a fifth of a step.
        if not (type(action) is int and 0 <= action < N_ACTIONS) and not self.action_space.contains(action):
            raise ValueError(f"action must be 0 (hold), 1 (buy) or 2 (sell), got {action!r}")
        # One trader on Python numbers: the desk's scalar path, the same rules and tables as a batch.
        reward = self.desk.step_one(int(action), ONE, self.np_random)
        self._last_reward = reward
        baseline = self.desk.book.buy_and_hold_one(ONE)
        self._record(baseline)
        if self.render_mode == "human":
            self.render()
        truncated = self.desk.book.elapsed.item(ONE) >= self.config.episode_length
        info = self._info(baseline)
        if truncated:
            chart = self.chart
            paths = (tuple(chart.equities), tuple(chart.positions), tuple(chart.baselines))
            cost = self.desk.book.total_cost.item(ONE)
            info["episode_metrics"] = LazyRecord(lambda: _record(*paths, cost))
        return self._observation(), reward, False, truncated, info

    def action_masks(self) -> NDArray[np.int8]:
        """Valid actions now (sb3-contrib MaskablePPO convention): a fresh int8 array."""
        return self.desk.book.tables.action_mask_one(self.desk.book.position.item(ONE))

    def render(self) -> Any:
        if self.render_mode is None:
            gym.logger.warn("render() was called without a render_mode; pass render_mode= to gym.make")
            return None
        if not self._started:
            raise gym.error.ResetNeeded("call reset() before render(): there is no episode to draw yet")
        if self.render_mode == "ansi":
            return ticker(self.chart, self._status(), self.config)
        if self.render_mode == "human":
            self._window.show(self.draw(), int(self.metadata["render_fps"]))
            return None
        return self.draw()

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

    # --- what viewers ask (qgym.envs.interface) ---------------------------------------------------

    @property
    def action_names(self) -> tuple[str, ...]:
        return ACTION_NAMES

    def status_lines(self) -> list[str]:
        regime = self.regime_label()
        lines = [f"regime   {regime}"] if regime is not None else []
        return [*lines, f"position {int(self.desk.book.position[ONE]):+d}"]

    def draw(self, overlay: Overlay | None = None) -> NDArray[np.uint8]:
        return draw_frame(self.chart, self._status(), self.config, overlay, self.frame_size)

    def legend(self, size: int) -> list[tuple[str, NDArray[np.uint8]]]:
        return legend_icons(size)

    @property
    def action_kinds(self) -> tuple[str, ...]:
        return ACTION_NAMES

    # --- the episode as a portfolio (qgym.envs.interface.HasFieldMetrics) -------------------------

    def episode_metrics(self) -> dict[str, float | None]:
        """This episode's trading figures so far (:mod:`qgym.envs.trading.metrics`), plain numbers:
        the final step's ``info["episode_metrics"]``."""
        chart = self.chart
        return _record(chart.equities, chart.positions, chart.baselines, self.desk.book.total_cost.item(ONE))

    def field_report(self, records: Sequence[Mapping[str, float | None]]) -> FieldReport:
        return trading_report(records, f"{len(records)} episode{'s' if len(records) != 1 else ''}")

    def optimal_report(self, horizon: int) -> FieldReport | None:
        """None: only the chain rungs have an exact model."""
        return None

    def episode_chart(self) -> EpisodeChart:
        chart = self.chart
        name = self.spec.id if self.spec is not None else type(self).__name__
        return episode_chart(chart.equities, chart.baselines, chart.positions, f"{name}: one episode")

    def regime_label(self) -> str | None:
        """The name of the current regime when the env shows one (in ``info`` and the HUD), else None."""
        names = self.desk.stream.regime_names
        return None if names is None else names[int(self.desk.stream.regimes(ONE))]

    # --- helpers ----------------------------------------------------------------------------------

    def _observation(self) -> Any:
        return self.desk.observation_one(ONE)

    def _record(self, baseline: float) -> None:
        book = self.desk.book
        self.chart.record(book.price.item(ONE), book.position.item(ONE), book.equity.item(ONE), baseline)

    def _info(self, baseline: float) -> dict[str, Any]:
        book = self.desk.book
        position = book.position.item(ONE)
        info: dict[str, Any] = {
            "equity": book.equity.item(ONE),
            "position": position,
            "price": book.price.item(ONE),
            "trade_cost": book.last_cost.item(ONE),
            "total_cost": book.total_cost.item(ONE),
            "buy_and_hold_equity": baseline,
            "action_mask": book.tables.action_mask_one(position),
        }
        regime = self.regime_label()
        if regime is not None:
            info["regime"] = regime
        return info

    def _status(self) -> Status:
        return trader_status(self.desk, ONE, self.chart, self._last_reward)


def _record(
    equity: Sequence[float], positions: Sequence[int], baseline: Sequence[float], cost: float
) -> dict[str, float | None]:
    """One episode's trading figures (None where undefined) from its path."""
    figures = path_figures(np.array([equity]), np.array([positions]), np.array([cost]), np.array([baseline]))
    return {key: (float(value[0]) if np.isfinite(value[0]) else None) for key, value in figures.items()}


def trader_status(desk: Desk[Any], trader: int, chart: Chart, last_reward: float) -> Status:
    """The status lines of one trader of a desk (the single env's, or a vector env's first)."""
    book = desk.book
    names = desk.stream.regime_names
    return Status(
        step=int(book.elapsed[trader]),
        price=chart.prices[-1],
        position=int(book.position[trader]),
        equity=float(book.equity[trader]),
        last_reward=last_reward,
        buy_and_hold=float(book.buy_and_hold(trader)),
        total_cost=float(book.total_cost[trader]),
        regime=None if names is None else names[int(desk.stream.regimes(trader))],
    )


def record_trader(desk: Desk[Any], trader: int, chart: Chart) -> None:
    """Add a trader's state after a step (or at the start) to its chart."""
    book = desk.book
    chart.record(float(book.price[trader]), int(book.position[trader]), float(book.equity[trader]),
                 float(book.buy_and_hold(trader)))  # fmt: skip
