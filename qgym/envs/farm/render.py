"""Drawing a grid farm: the pygame frame (``rgb_array`` and ``human``) and the text picture (``ansi``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from qgym.envs.farm.rules import ACTION_NAMES, Action, Crop, FarmConfig
from qgym.envs.interface import Overlay
from qgym.envs.rendering import import_pygame, surface_to_array

__all__ = ["CROP_LETTERS", "draw_frame", "draw_text"]

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

_CELL = 84
_STRIP = 30
_SOIL_DRY = (181, 141, 96)
_SOIL_WET = (110, 74, 42)
_AGENT = (40, 110, 235)
_HINT = (230, 60, 140)
_MOVES = {Action.NORTH: (0, -1), Action.SOUTH: (0, 1), Action.WEST: (-1, 0), Action.EAST: (1, 0)}


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
    """The field, the farmer's outline, a status strip (blue after rain) and the overlay's advice."""
    pygame = import_pygame()
    width = max(config.cols * _CELL, 240)
    surface = pygame.Surface((width, config.rows * _CELL + _STRIP))
    surface.fill((245, 240, 225))
    for plot, stage in enumerate(crops):
        row, col = divmod(plot, config.cols)
        _draw_plot(pygame, surface, Crop(int(stage)), col * _CELL, row * _CELL)
    row, col = divmod(cell, config.cols)
    pygame.draw.rect(surface, _AGENT, (col * _CELL, row * _CELL, _CELL, _CELL), width=5)
    pygame.draw.circle(surface, _AGENT, (col * _CELL + _CELL - 14, row * _CELL + 14), 8)
    strip_top = config.rows * _CELL
    if rained:
        pygame.draw.rect(surface, (160, 195, 240), (0, strip_top, width, _STRIP))
    font = pygame.font.Font(None, 20)
    surface.blit(font.render(status, True, (30, 30, 30)), (6, strip_top + 8))
    if overlay is not None and overlay.action is not None:
        _draw_advice(pygame, surface, Action(overlay.action), row, col)
    return surface_to_array(surface)


def _draw_plot(pygame: Any, surface: Any, stage: Crop, x: int, y: int) -> None:
    wet = stage in (Crop.SEED_WET, Crop.GROWING_WET)
    pygame.draw.rect(surface, _SOIL_WET if wet else _SOIL_DRY, (x + 2, y + 2, _CELL - 4, _CELL - 4))
    cx, cy = x + _CELL // 2, y + _CELL // 2
    if stage in (Crop.SEED_DRY, Crop.SEED_WET):
        for dx in (-12, 0, 12):
            pygame.draw.circle(surface, (250, 235, 180), (cx + dx, cy + 8), 4)
    elif stage in (Crop.GROWING_DRY, Crop.GROWING_WET):
        green = (60, 170, 60) if stage == Crop.GROWING_WET else (150, 185, 70)
        pygame.draw.rect(surface, green, (cx - 3, cy - 10, 6, 28))
        pygame.draw.ellipse(surface, green, (cx - 20, cy - 12, 18, 10))
        pygame.draw.ellipse(surface, green, (cx + 2, cy - 18, 18, 10))
    elif stage == Crop.RIPE:
        pygame.draw.circle(surface, (240, 195, 30), (cx, cy), 20)
        pygame.draw.rect(surface, (60, 140, 50), (cx - 2, cy - 28, 4, 10))
    elif stage == Crop.DEAD:
        pygame.draw.line(surface, (70, 55, 45), (cx - 16, cy - 16), (cx + 16, cy + 16), 5)
        pygame.draw.line(surface, (70, 55, 45), (cx - 16, cy + 16), (cx + 16, cy - 16), 5)


def _draw_advice(pygame: Any, surface: Any, action: Action, row: int, col: int) -> None:
    """An arrow from the farmer's cell for a move, the action's name on the cell for work."""
    cx, cy = col * _CELL + _CELL // 2, row * _CELL + _CELL // 2
    if action in _MOVES:
        dx, dy = _MOVES[action]
        tip = (cx + dx * 34, cy + dy * 34)
        pygame.draw.line(surface, _HINT, (cx, cy), tip, 6)
        side = (-dy * 10, dx * 10)
        back = (tip[0] - dx * 14, tip[1] - dy * 14)
        pygame.draw.polygon(
            surface,
            _HINT,
            [tip, (back[0] + side[0], back[1] + side[1]), (back[0] - side[0], back[1] - side[1])],
        )
        return
    font = pygame.font.SysFont("dejavusans,sans", 16, bold=True)
    label = font.render(ACTION_NAMES[action], True, (255, 255, 255))
    box = label.get_rect(center=(cx, cy + _CELL // 2 - 14))
    pygame.draw.rect(surface, _HINT, box.inflate(8, 4), border_radius=4)
    surface.blit(label, box)
