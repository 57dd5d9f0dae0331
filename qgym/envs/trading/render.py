"""Drawing a trading episode: the chart frame (``rgb_array`` and ``human``) and the text ticker (``ansi``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qgym.envs.interface import Overlay
from qgym.envs.pygame_frames import import_pygame, surface_to_array
from qgym.envs.trading.rules import ACTION_NAMES, BUY, SELL, TradingConfig

__all__ = ["FRAME_SIZE", "Chart", "Status", "draw_frame", "legend_icons", "ticker"]

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
    """The price over the episode's steps (shaded green while long, red while short, a green triangle
    under each buy and a red one over each sell) above equity and buy & hold, with a legend, price and
    step axes and two status lines; the overlay's advised action as its name in a coloured box beside
    the latest price. ``overlay.size`` (else ``size``) is the frame's (width, height)."""
    pygame = import_pygame()
    if overlay is not None and overlay.size is not None:
        size = overlay.size
    width, height = (max(int(v), 120) for v in size)
    surface = pygame.Surface((width, height))
    surface.fill((250, 250, 247))
    font = pygame.font.Font(None, max(16, min(height // 20, 26)))
    line = font.get_linesize()
    span = config.episode_length
    prices = chart.prices[-(span + 1) :]
    positions = chart.positions[-len(prices) :]
    equities = chart.equities[-len(prices) :]
    baselines = chart.baselines[-len(prices) :]
    margin = max(8, width // 60)
    axis = font.size("0000.0")[0] + 4
    plot_left, plot_width = margin + axis, width - 2 * margin - axis
    room = height - 2 * margin - 4 * line - 3 * margin // 2
    price_box = pygame.Rect(plot_left, margin + line, plot_width, room * 2 // 3)
    equity_box = pygame.Rect(plot_left, price_box.bottom + margin, plot_width, room - price_box.height)
    step_w = plot_width / span

    def x_at(i: int) -> float:
        return float(plot_left + i * step_w)

    for i, held in enumerate(positions[1:]):
        if held != 0:
            shade = _LONG if held > 0 else _SHORT
            strength = abs(held) / config.max_position
            colour = tuple(int(250 - (250 - c) * strength) for c in shade)
            area = pygame.Rect(round(x_at(i)), price_box.top, math.ceil(step_w), price_box.height)
            pygame.draw.rect(surface, colour, area)
    pygame.draw.rect(surface, (120, 120, 120), price_box, 1)
    pygame.draw.rect(surface, (120, 120, 120), equity_box, 1)
    (price_points,), price_scale = _draw_series(pygame, surface, price_box, [prices], [_PRICE], x_at)
    _, equity_scale = _draw_series(
        pygame, surface, equity_box, [baselines, equities], [_BASELINE, _EQUITY], x_at
    )
    marker = max(4, min(int(step_w * 0.8), height // 50))
    for i in range(1, len(positions)):
        change = positions[i] - positions[i - 1]
        if change != 0:
            _draw_trade(pygame, surface, price_points[i - 1], change > 0, marker)
    for box, (low, high) in ((price_box, price_scale), (equity_box, equity_scale)):
        for value, y in ((high, box.top), (low, box.bottom - line)):
            surface.blit(font.render(f"{value:.1f}", True, _MUTED), (margin, y))
    for k in range(5):
        step = span * k // 4
        label = font.render(str(step), True, _MUTED)
        x = round(x_at(step))
        pygame.draw.line(surface, (120, 120, 120), (x, equity_box.bottom), (x, equity_box.bottom + 3))
        surface.blit(
            label,
            label.get_rect(midtop=(min(x, price_box.right - label.get_width() // 2), equity_box.bottom + 3)),
        )
    surface.blit(font.render("step", True, _MUTED), (margin, equity_box.bottom + 3))
    lines = [
        f"t {status.step}/{span}   price {status.price:.2f}   position {status.position:+d}"
        + (f"   regime {status.regime}" if status.regime is not None else ""),
        f"equity {status.equity:.2f} (last {status.last_reward + 0.0:+.2f})   "
        f"buy&hold {status.buy_and_hold:.2f}   costs so far {status.total_cost:.2f}",
    ]
    for row, text in enumerate(lines):
        surface.blit(font.render(text, True, _INK), (margin, equity_box.bottom + line + 4 + line * row))
    _draw_legend(pygame, surface, font, price_box.left, margin, _PRICE_LEGEND, marker)
    _draw_legend(pygame, surface, font, equity_box.left + 4, equity_box.top + 3, _EQUITY_LEGEND, marker)
    if overlay is not None and overlay.action is not None and price_points:
        _draw_advice(pygame, surface, int(overlay.action), price_points[-1], price_box)
    return surface_to_array(surface)


def legend_icons(size: int) -> list[tuple[str, NDArray[np.uint8]]]:
    """``(label, icon)`` for every mark of the chart, drawn as the chart draws it."""
    pygame = import_pygame()
    icons = []
    for kind, label in (*_PRICE_LEGEND, *_EQUITY_LEGEND):
        surface = pygame.Surface((size, size))
        surface.fill((250, 250, 247))
        _draw_key(pygame, surface, kind, pygame.Rect(0, 0, size, size), max(4, size // 4))
        icons.append((_LONG_LABELS.get(kind, label), surface_to_array(surface)))
    return icons


_LONG = (205, 235, 205)
_SHORT = (240, 205, 205)
_MUTED = (100, 100, 100)
_PRICE_LEGEND = (("price", "price"), ("long", "long"), ("short", "short"), ("buy", "buy"), ("sell", "sell"))
_EQUITY_LEGEND = (("equity", "equity"), ("baseline", "buy & hold"))
_LONG_LABELS = {
    "price": "price (one unit)",
    "long": "held long (+1): earns a rise",
    "short": "held short (-1): earns a fall",
    "buy": "a buy (up or b)",
    "sell": "a sell (down or s)",
    "equity": "your equity",
    "baseline": "buy & hold equity",
}


def _draw_legend(
    pygame: Any, surface: Any, font: Any, x: int, y: int, items: Sequence[tuple[str, str]], marker: int
) -> None:
    """A row of keys: a small sample of each mark, then its name."""
    side = font.get_linesize()
    for kind, label in items:
        _draw_key(pygame, surface, kind, pygame.Rect(x, y, side, side), marker)
        text = font.render(label, True, _INK)
        surface.blit(text, (x + side + 3, y + (side - text.get_height()) // 2))
        x += side + text.get_width() + 12


def _draw_key(pygame: Any, surface: Any, kind: str, box: Any, marker: int) -> None:
    if kind in ("price", "equity", "baseline"):
        colour = {"price": _PRICE, "equity": _EQUITY, "baseline": _BASELINE}[kind]
        pygame.draw.line(surface, colour, (box.left, box.centery), (box.right, box.centery), 2)
    elif kind in ("long", "short"):
        pygame.draw.rect(surface, _LONG if kind == "long" else _SHORT, box.inflate(-2, -2))
    else:
        _draw_trade(pygame, surface, box.center, kind == "buy", min(marker, box.height // 3), offset=False)


def _draw_trade(
    pygame: Any, surface: Any, point: tuple[float, float], buy: bool, size: int, offset: bool = True
) -> None:
    """A buy as a green triangle pointing up under the price, a sell as a red one pointing down over it."""
    x, y = round(point[0]), round(point[1])
    if buy:
        top = y + (size if offset else -size // 2)
        pygame.draw.polygon(
            surface,
            _ADVICE[BUY],
            [(x, top), (x - size, top + size * 3 // 2), (x + size, top + size * 3 // 2)],
        )
    else:
        bottom = y - (size if offset else -size // 2)
        pygame.draw.polygon(
            surface,
            _ADVICE[SELL],
            [(x, bottom), (x - size, bottom - size * 3 // 2), (x + size, bottom - size * 3 // 2)],
        )


def _draw_series(
    pygame: Any,
    surface: Any,
    box: Any,
    series: Sequence[Sequence[float]],
    colours: Sequence[RGB],
    x_at: Callable[[int], float],
) -> tuple[list[list[tuple[float, float]]], tuple[float, float]]:
    """Draw each series in ``box`` on one common scale; return the points drawn and the scale's ends."""
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
    return drawn, (low, high)


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
