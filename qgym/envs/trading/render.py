"""Drawing a trading episode: the chart frame (``rgb_array`` and ``human``) and the text ticker (``ansi``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qgym.envs.interface import Overlay
from qgym.envs.rendering import import_pygame, surface_to_array
from qgym.envs.trading.rules import ACTION_NAMES, BUY, SELL, TradingConfig

__all__ = ["FRAME_SIZE", "Chart", "Status", "draw_frame", "ticker"]

FRAME_SIZE = (480, 320)
RGB = tuple[int, int, int]
_INK = (20, 20, 20)
_PRICE = (30, 30, 30)
_EQUITY = (30, 90, 200)
_BASELINE = (160, 160, 160)
_ADVICE = {BUY: (40, 150, 60), SELL: (200, 50, 50)}
_ADVICE_HOLD = (90, 90, 140)


@dataclass
class Chart:
    """What a single env has shown this episode, one entry a step from its start, for drawing."""

    before: float = 0.0
    """The price before the episode's first (the first itself when there is none): the ticker's arrow."""
    prices: list[float] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    equities: list[float] = field(default_factory=list)
    baselines: list[float] = field(default_factory=list)

    def begin(self, before: float) -> None:
        """Start a new episode's chart."""
        self.before = before
        self.prices, self.positions, self.equities, self.baselines = [], [], [], []

    def record(self, price: float, position: int, equity: float, baseline: float) -> None:
        """The state after a step (or at the start)."""
        self.prices.append(price)
        self.positions.append(position)
        self.equities.append(equity)
        self.baselines.append(baseline)

    def move(self, price: float) -> None:
        """A price without a step (a planner put the env in another state)."""
        self.prices.append(price)

    @property
    def previous(self) -> float:
        """The price before the latest one."""
        return self.prices[-2] if len(self.prices) > 1 else self.before


@dataclass(frozen=True)
class Status:
    """The numbers a frame and the ticker print."""

    step: int
    price: float
    position: int
    equity: float
    last_reward: float
    buy_and_hold: float
    total_cost: float
    regime: str | None


def ticker(chart: Chart, status: Status, config: TradingConfig) -> str:
    """One line: step, price and its move, position, equity, buy & hold, costs (and the regime)."""
    price, previous = status.price, chart.previous
    arrow = "^" if price > previous else "v" if price < previous else "="
    change = 100 * (price / previous - 1)
    text = (
        f"t {status.step:>4}/{config.episode_length}  price {price:10.2f} {arrow} {change:+6.2f}%  "
        f"position {status.position:+d}  equity {status.equity:10.2f}  "
        f"buy&hold {status.buy_and_hold:10.2f}  costs {status.total_cost:8.2f}"
    )
    return text + (f"  regime {status.regime}" if status.regime is not None else "")


def draw_frame(
    chart: Chart,
    status: Status,
    config: TradingConfig,
    overlay: Overlay | None = None,
    size: tuple[int, int] = FRAME_SIZE,
) -> NDArray[np.uint8]:
    """Price (shaded green when long, red when short) above equity and buy & hold, then two status lines;
    the overlay's advised action as its name in a coloured box beside the latest price."""
    pygame = import_pygame()
    width, height = size
    surface = pygame.Surface((width, height))
    surface.fill((250, 250, 247))
    span = config.episode_length
    prices = chart.prices[-(span + 1) :]
    positions = chart.positions[-len(prices) :]
    equities = chart.equities[-len(prices) :]
    baselines = chart.baselines[-len(prices) :]
    margin, top_h, bottom_h = 10, 180, 90
    price_box = pygame.Rect(margin, margin, width - 2 * margin, top_h)
    equity_box = pygame.Rect(margin, margin * 2 + top_h, width - 2 * margin, bottom_h)
    step_w = (width - 2 * margin) / span

    def x_at(i: int) -> float:
        return margin + i * step_w

    for i, held in enumerate(positions[1:]):
        if held != 0:
            shade = (205, 235, 205) if held > 0 else (240, 205, 205)
            strength = abs(held) / config.max_position
            colour = tuple(int(250 - (250 - c) * strength) for c in shade)
            pygame.draw.rect(surface, colour, pygame.Rect(x_at(i), price_box.top, math.ceil(step_w), top_h))
    pygame.draw.rect(surface, (120, 120, 120), price_box, 1)
    pygame.draw.rect(surface, (120, 120, 120), equity_box, 1)
    (price_points,) = _draw_series(pygame, surface, price_box, [prices], [_PRICE], x_at)
    _draw_series(pygame, surface, equity_box, [baselines, equities], [_BASELINE, _EQUITY], x_at)
    font = pygame.font.Font(None, 18)
    lines = [
        f"t {status.step}/{span}   price {status.price:.2f}   position {status.position:+d}"
        + (f"   regime {status.regime}" if status.regime is not None else ""),
        f"equity {status.equity:.2f} (last {status.last_reward + 0.0:+.2f})   "
        f"buy&hold {status.buy_and_hold:.2f}   costs so far {status.total_cost:.2f}",
    ]
    for row, line in enumerate(lines):
        surface.blit(font.render(line, True, _INK), (margin, equity_box.bottom + 4 + 14 * row))
    labels = [("price", _PRICE, price_box), ("equity", _EQUITY, equity_box)]
    labels.append(("buy & hold", (140, 140, 140), equity_box.move(48, 0)))
    for text, colour, box in labels:
        surface.blit(font.render(text, True, colour), (box.left + 4, box.top + 3))
    if overlay is not None and overlay.action is not None and price_points:
        _draw_advice(pygame, surface, int(overlay.action), price_points[-1], price_box)
    return surface_to_array(surface)


def _draw_series(
    pygame: Any,
    surface: Any,
    box: Any,
    series: Sequence[Sequence[float]],
    colours: Sequence[RGB],
    x_at: Callable[[int], float],
) -> list[list[tuple[float, float]]]:
    """Draw each series in ``box`` on one common scale; return the points drawn."""
    values = [v for line in series for v in line]
    low, high = min(values), max(values)
    pad = (high - low) * 0.1 or max(abs(high) * 0.01, 1e-9)
    low, high = low - pad, high + pad
    drawn = []
    for line, colour in zip(series, colours, strict=True):
        points = [(x_at(i), box.bottom - (v - low) / (high - low) * box.height) for i, v in enumerate(line)]
        if len(points) >= 2:
            pygame.draw.lines(surface, colour, False, points, 2)
        elif points:
            pygame.draw.circle(surface, colour, (int(points[0][0]), int(points[0][1])), 2)
        drawn.append(points)
    return drawn


def _draw_advice(pygame: Any, surface: Any, action: int, point: tuple[float, float], box: Any) -> None:
    """A dot on the latest price and the action's name in a box coloured by the action (buy green,
    sell red) just after it, where the rest of the episode will be drawn."""
    colour = _ADVICE.get(action, _ADVICE_HOLD)
    font = pygame.font.SysFont("dejavusans,sans", 14, bold=True)
    label = font.render(ACTION_NAMES[action], True, (255, 255, 255))
    x, y = int(point[0]), int(point[1])
    pygame.draw.circle(surface, colour, (x, y), 5)
    area = label.get_rect(midleft=(x + 12, y)).inflate(10, 4)
    area.clamp_ip(box)
    pygame.draw.rect(surface, colour, area, border_radius=4)
    surface.blit(label, label.get_rect(center=area.center))
