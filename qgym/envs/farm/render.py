"""Drawing a grid farm: the pygame frame (``rgb_array``, ``human`` and every viewer) and the text picture.

One function draws the frame at any size: ``render()`` gives the default (84-pixel plots, the field at
the top left); a viewer passes ``Overlay(size=...)`` and the field is scaled to fill that pane.
Each crop stage has its own icon (:func:`legend_icons` draws the legend with the same code), wet soil
is dark and a dry crop carries an orange drop (it needs water), rain streaks the field in the step it
fell, and ``Overlay.cell_values`` tints every plot by value with a colour bar in the status strip.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qgym.envs.farm.rules import ACTION_NAMES, Action, Crop, FarmConfig
from qgym.envs.interface import Overlay
from qgym.envs.pygame_frames import import_pygame, surface_to_array

__all__ = [
    "CROP_LETTERS",
    "STAGE_LABELS",
    "draw_frame",
    "draw_text",
    "legend_icons",
    "status_line",
]

CROP_LETTERS = {
    Crop.EMPTY: ".",
    Crop.SEED_DRY: "s",
    Crop.SEED_WET: "S",
    Crop.GROWING_DRY: "g",
    Crop.GROWING_WET: "G",
    Crop.RIPE: "*",
    Crop.DEAD: "x",
}
"""One character per crop stage, in the ``ansi`` picture and in state labels."""

STAGE_LABELS = {
    Crop.EMPTY: "empty: plant (P)",
    Crop.SEED_DRY: "planted, dry: water (W)",
    Crop.SEED_WET: "planted, wet",
    Crop.GROWING_DRY: "growing, dry: water (W)",
    Crop.GROWING_WET: "growing, wet",
    Crop.RIPE: "ripe: harvest (H) +10",
    Crop.DEAD: "withered or rotten: H clears",
}
"""What the legend says of each stage's icon."""

RGB = tuple[int, int, int]
_CELL = 84
_STRIP = 30
_BACKGROUND = (245, 240, 225)
_SOIL_DRY = (196, 156, 108)
_SOIL_WET = (104, 70, 40)
_FURROW_DRY = (172, 132, 88)
_FURROW_WET = (84, 54, 30)
_SEED = (250, 232, 170)
_LEAF_WET = (52, 168, 64)
_LEAF_DRY = (168, 176, 70)
_RIPE = (242, 176, 26)
_DEAD = (96, 84, 72)
_DROP_WET = (70, 150, 240)
_DROP_DRY = (240, 130, 30)
_AGENT = (40, 110, 235)
_HINT = (230, 60, 140)
_RAIN = (150, 195, 250)
_SUN = (250, 200, 40)
_INK = (30, 30, 30)
_MOVES = {Action.NORTH: (0, -1), Action.SOUTH: (0, 1), Action.WEST: (-1, 0), Action.EAST: (1, 0)}
_HEAT = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))
"""Viridis at five stops: low values dark purple, high ones yellow (readable in grey, colour-blind safe)."""


def draw_text(crops: NDArray[np.int8], cell: int, config: FarmConfig, status: str) -> str:
    """The status line, then one row of plots per line; the farmer's plot in brackets."""
    lines = [status]
    for row in range(config.rows):
        cells = []
        for col in range(config.cols):
            plot = row * config.cols + col
            letter = CROP_LETTERS[Crop(int(crops[plot]))]
            cells.append(f"[{letter}]" if plot == cell else f" {letter} ")
        lines.append("".join(cells))
    return "\n".join(lines) + "\n"


def draw_frame(
    crops: NDArray[np.int8],
    cell: int,
    config: FarmConfig,
    status: str,
    rained: bool,
    overlay: Overlay | None = None,
) -> NDArray[np.uint8]:
    """The field (a value heat map over it when asked), the farmer's outline, rain, the overlay's advice,
    and a status strip with the weather (and the heat map's colour bar)."""
    pygame = import_pygame()
    overlay = overlay or Overlay()
    if overlay.size is None:
        side, strip = _CELL, _STRIP
        width, height = max(config.cols * _CELL, 240), config.rows * _CELL + _STRIP
        left = top = 0
    else:
        width, height = (max(int(v), 60) for v in overlay.size)
        strip = min(max(height // 16, _STRIP), 48)
        side = max(8, min(width // config.cols, (height - strip) // config.rows))
        left = (width - side * config.cols) // 2
        top = (height - strip - side * config.rows) // 2
    surface = pygame.Surface((width, height))
    surface.fill(_BACKGROUND)
    for plot, stage in enumerate(crops):
        row, col = divmod(plot, config.cols)
        draw_plot(pygame, surface, Crop(int(stage)), left + col * side, top + row * side, side)
    if rained:
        _draw_rain(pygame, surface, pygame.Rect(left, top, side * config.cols, side * config.rows), side)
    values = overlay.cell_values
    if values is not None:
        if len(values) != config.n_plots:
            raise ValueError(f"cell_values must hold {config.n_plots} values, one a plot; got {len(values)}")
        _draw_heat(pygame, surface, values, config, left, top, side)
    row, col = divmod(cell, config.cols)
    x, y = left + col * side, top + row * side
    pygame.draw.rect(surface, _AGENT, (x, y, side, side), width=max(5, side // 40))
    pygame.draw.circle(surface, _AGENT, (x + side - side // 8, y + side // 8), min(max(4, side // 10), 20))
    _draw_strip(pygame, surface, status, rained, pygame.Rect(0, height - strip, width, strip), overlay)
    if overlay.action is not None:
        _draw_advice(pygame, surface, Action(overlay.action), x, y, side)
    return surface_to_array(surface)


def legend_icons(size: int) -> list[tuple[str, NDArray[np.uint8]]]:
    """``(label, icon)`` for every crop stage, the farmer and rain, drawn as the frame draws them."""
    pygame = import_pygame()
    icons = []
    for stage in Crop:
        surface = pygame.Surface((size, size))
        surface.fill(_BACKGROUND)
        draw_plot(pygame, surface, stage, 0, 0, size)
        icons.append((STAGE_LABELS[stage], surface_to_array(surface)))
    farmer = pygame.Surface((size, size))
    farmer.fill(_BACKGROUND)
    draw_plot(pygame, farmer, Crop.EMPTY, 0, 0, size)
    pygame.draw.rect(farmer, _AGENT, (0, 0, size, size), width=max(3, size // 10))
    pygame.draw.circle(farmer, _AGENT, (size - size // 5, size // 5), max(3, size // 8))
    rain = pygame.Surface((size, size))
    rain.fill(_BACKGROUND)
    draw_plot(pygame, rain, Crop.SEED_WET, 0, 0, size)
    _draw_rain(pygame, rain, pygame.Rect(0, 0, size, size), size)
    icons += [("the farmer (arrows move)", surface_to_array(farmer))]
    icons += [("rain fell: wets every crop", surface_to_array(rain))]
    return icons


def draw_plot(pygame: Any, surface: Any, stage: Crop, x: int, y: int, side: int) -> None:
    """One plot's soil (dark when wet), its crop's icon and, on a dry crop, an orange drop."""
    wet = stage in (Crop.SEED_WET, Crop.GROWING_WET)
    gap = max(1, side // 40)
    soil = pygame.Rect(x + gap, y + gap, side - 2 * gap, side - 2 * gap)
    pygame.draw.rect(surface, _SOIL_WET if wet else _SOIL_DRY, soil)
    furrow = _FURROW_WET if wet else _FURROW_DRY
    for k in range(1, 4):
        fy = y + k * side // 4
        pygame.draw.line(
            surface, furrow, (soil.left + side // 10, fy), (soil.right - side // 10, fy), max(1, side // 40)
        )

    def at(fx: float, fy: float) -> tuple[int, int]:
        return x + round(fx * side), y + round(fy * side)

    def size(f: float) -> int:
        return max(1, round(f * side))

    if stage in (Crop.SEED_DRY, Crop.SEED_WET):
        for fx in (0.32, 0.5, 0.68):
            cx, cy = at(fx, 0.6)
            pygame.draw.ellipse(surface, _SEED, (cx - size(0.05), cy - size(0.035), size(0.1), size(0.07)))
    elif stage in (Crop.GROWING_DRY, Crop.GROWING_WET):
        leaf = _LEAF_WET if stage == Crop.GROWING_WET else _LEAF_DRY
        pygame.draw.line(surface, leaf, at(0.5, 0.78), at(0.5, 0.38), size(0.06))
        droop = 0.12 if stage == Crop.GROWING_DRY else 0.0
        pygame.draw.ellipse(surface, leaf, (*at(0.26, 0.42 + droop), size(0.24), size(0.12)))
        pygame.draw.ellipse(surface, leaf, (*at(0.5, 0.32 + droop), size(0.24), size(0.12)))
    elif stage == Crop.RIPE:
        pygame.draw.line(surface, _LEAF_WET, at(0.5, 0.3), at(0.5, 0.2), size(0.06))
        pygame.draw.circle(surface, _RIPE, at(0.5, 0.54), size(0.25))
        pygame.draw.circle(surface, (200, 120, 10), at(0.5, 0.54), size(0.25), max(1, side // 30))
        pygame.draw.ellipse(surface, (255, 230, 140), (*at(0.36, 0.4), size(0.1), size(0.07)))
    elif stage == Crop.DEAD:
        pygame.draw.line(surface, _DEAD, at(0.5, 0.8), at(0.42, 0.45), size(0.05))
        pygame.draw.line(surface, _DEAD, at(0.42, 0.45), at(0.62, 0.3), size(0.04))
        pygame.draw.ellipse(surface, _DEAD, (*at(0.22, 0.62), size(0.2), size(0.08)))
        pygame.draw.ellipse(surface, _DEAD, (*at(0.56, 0.7), size(0.2), size(0.08)))
        pygame.draw.line(surface, (150, 40, 40), at(0.2, 0.2), at(0.34, 0.34), size(0.04))
        pygame.draw.line(surface, (150, 40, 40), at(0.2, 0.34), at(0.34, 0.2), size(0.04))
    if stage in (Crop.SEED_DRY, Crop.GROWING_DRY, Crop.SEED_WET, Crop.GROWING_WET):
        _draw_drop(pygame, surface, at(0.16, 0.2), size(0.08), stage in (Crop.SEED_WET, Crop.GROWING_WET))


def _draw_drop(pygame: Any, surface: Any, centre: tuple[int, int], radius: int, wet: bool) -> None:
    """A water drop: filled blue on a wet crop, an orange outline on a dry one (it needs water)."""
    cx, cy = centre
    arc = [math.radians(a) for a in range(-30, 211, 15)]
    points = [(cx, cy - 2 * radius)] + [(cx + radius * math.cos(a), cy + radius * math.sin(a)) for a in arc]
    if wet:
        pygame.draw.polygon(surface, _DROP_WET, points)
    else:
        pygame.draw.polygon(surface, _DROP_DRY, points, max(2, radius // 3))


def _draw_rain(pygame: Any, surface: Any, area: Any, side: int) -> None:
    """Light slanted streaks over ``area``, in a fixed pattern (frames stay deterministic)."""
    layer = pygame.Surface(area.size, pygame.SRCALPHA)
    step, length = max(6, side // 6), max(6, side // 7)
    for k, x0 in enumerate(range(-area.height, area.width, step)):
        for y0 in range((k * 7) % step, area.height, 2 * step):
            start = (x0 + y0, y0)
            pygame.draw.line(layer, (*_RAIN, 200), start, (start[0] + length // 3, start[1] + length), 2)
    surface.blit(layer, area.topleft)


def _heat_colour(fraction: float) -> RGB:
    """The colour of ``fraction`` (0 to 1) on the heat map's scale."""
    position = min(max(fraction, 0.0), 1.0) * (len(_HEAT) - 1)
    low = min(int(position), len(_HEAT) - 2)
    t = position - low
    a, b = _HEAT[low], _HEAT[low + 1]
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def _draw_heat(
    pygame: Any, surface: Any, values: tuple[float, ...], config: FarmConfig, left: int, top: int, side: int
) -> None:
    """Every plot tinted by its value, the value printed in its lower-left corner."""
    low, high = min(values), max(values)
    span = high - low or 1.0
    font = pygame.font.Font(None, max(14, side // 5))
    for plot, value in enumerate(values):
        row, col = divmod(plot, config.cols)
        x, y = left + col * side, top + row * side
        colour = _heat_colour((value - low) / span)
        tint = pygame.Surface((side, side), pygame.SRCALPHA)
        tint.fill((*colour, 80))
        surface.blit(tint, (x, y))
        pygame.draw.rect(surface, colour, (x, y, side, side), width=max(3, side // 24))
        ink = _INK if sum(colour) > 400 else (255, 255, 255)
        label = font.render(f"{value:.1f}", True, ink)
        box = label.get_rect(bottomleft=(x + side // 12, y + side - side // 12)).inflate(8, 4)
        pygame.draw.rect(surface, colour, box, border_radius=3)
        pygame.draw.rect(surface, _INK, box, width=1, border_radius=3)
        surface.blit(label, label.get_rect(center=box.center))


def _draw_strip(pygame: Any, surface: Any, status: str, rained: bool, area: Any, overlay: Overlay) -> None:
    """The status strip: blue after rain with a cloud, pale with a sun when dry; the heat map's scale."""
    pygame.draw.rect(surface, (160, 195, 240) if rained else (250, 238, 200), area)
    radius = area.height // 4
    centre = (area.left + area.height // 2, area.centery)
    if rained:
        for dx, r in ((-radius // 2, radius * 3 // 4), (radius // 2, radius), (0, radius * 3 // 4)):
            pygame.draw.circle(surface, (250, 250, 252), (centre[0] + dx, centre[1] - radius // 3), r)
        for dx in (-radius // 2, 0, radius // 2):
            top = (centre[0] + dx, centre[1] + radius // 2)
            pygame.draw.line(surface, _DROP_WET, top, (top[0] - 2, top[1] + radius // 2), 2)
    else:
        pygame.draw.circle(surface, _SUN, centre, radius)
    font = pygame.font.Font(None, max(20, area.height * 2 // 3))
    text = font.render(status, True, _INK)
    surface.blit(text, text.get_rect(midleft=(area.left + area.height, area.centery)))
    values = overlay.cell_values
    if values is None:
        return
    low, high = min(values), max(values)
    bar = pygame.Rect(0, 0, min(160, area.width // 4), max(8, area.height // 3))
    bar.bottomright = (area.right - 8 - font.size(f"{high:.1f}")[0] - 6, area.bottom - 4)
    if bar.left < area.left + area.height + text.get_width() + 8:
        return  # no room beside the status: the printed values still say it
    for i in range(bar.width):
        pygame.draw.line(
            surface,
            _heat_colour(i / max(1, bar.width - 1)),
            (bar.left + i, bar.top),
            (bar.left + i, bar.bottom),
        )
    small = pygame.font.Font(None, max(16, area.height // 2))
    surface.blit(
        small.render(f"{low:.1f}", True, _INK),
        small.render(f"{low:.1f}", True, _INK).get_rect(midright=(bar.left - 4, bar.centery)),
    )
    surface.blit(small.render(f"{high:.1f}", True, _INK), (bar.right + 4, bar.top - 2))
    title = small.render(overlay.values_title, True, _INK)
    surface.blit(title, title.get_rect(midbottom=(bar.centerx, bar.top - 1)))


def _draw_advice(pygame: Any, surface: Any, action: Action, x: int, y: int, side: int) -> None:
    """An arrow from the farmer's cell for a move, the action's name on the cell for work."""
    cx, cy = x + side // 2, y + side // 2
    if action in _MOVES:
        dx, dy = _MOVES[action]
        reach, head = side * 2 // 5, min(max(10, side // 6), 40)
        tip = (cx + dx * reach, cy + dy * reach)
        pygame.draw.line(surface, _HINT, (cx, cy), tip, min(max(4, side // 14), 14))
        side_step = (-dy * head * 3 // 4, dx * head * 3 // 4)
        back = (tip[0] - dx * head, tip[1] - dy * head)
        pygame.draw.polygon(
            surface,
            _HINT,
            [
                tip,
                (back[0] + side_step[0], back[1] + side_step[1]),
                (back[0] - side_step[0], back[1] - side_step[1]),
            ],
        )
        return
    font = pygame.font.SysFont("dejavusans,sans", min(max(14, side // 6), 40), bold=True)
    label = font.render(ACTION_NAMES[action], True, (255, 255, 255))
    box = label.get_rect(center=(cx, y + side * 3 // 10))
    pygame.draw.rect(surface, _HINT, box.inflate(8, 4), border_radius=4)
    surface.blit(label, box)


def status_line(day: int, episode_return: float, last_reward: float, rained: bool) -> str:
    """The strip under the field: day, return so far, last reward, weather."""
    weather = "rain" if rained else "dry"
    return f"day {day}  return {episode_return:+.1f}  last {last_reward:+.1f}  {weather}"
