"""The viewer window: the env's frame on the left, a panel (HUD, help, advice) on the right.

Shared by ``qgym play`` and ``qgym enjoy``. pygame is imported only when a window opens; without a
display, :class:`DisplayError` says how to get one (or to use ``qgym record``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qgym.envs.interface import EnvView
from qgym.envs.rendering import import_pygame

__all__ = ["DisplayError", "Hint", "Screen", "episode_summary", "hud_lines"]

PANEL_WIDTH = 330
MIN_HEIGHT = 640
_BACKGROUND = (245, 243, 236)
_INK = (30, 30, 30)
_MUTED = (110, 110, 110)
_BANNER = (255, 248, 205)
_HINT = (230, 60, 140)


@dataclass(frozen=True)
class Hint:
    """An agent's advice in the current state: its greedy action, and its Q-values when asked."""

    action: int
    q_values: NDArray[np.float64] | None
    show_action: bool = True


def hud_lines(view: EnvView, horizon: int | None, steps: int, total: float, last_reward: float) -> list[str]:
    """The HUD of any env: step (of the horizon), return, last reward, then the env's status lines."""
    lines = [
        f"step     {steps}" + (f" / {horizon}" if horizon else ""),
        f"return   {_signed(total)}",
        f"last     {_signed(last_reward)}",
    ]
    return lines + view.status_lines()


def episode_summary(total: float, optimum: float | None, person: bool) -> str:
    """'you got 11.2; the best possible on average is 12.4' (or the agent's version)."""
    who = "you got" if person else "the agent got"
    text = f"{who} {total:.1f}"
    if optimum is not None:
        text += f"; the best possible on average is {optimum:.1f}"
    return text


class Screen:
    """The play window: the env's frame on the left, a panel (HUD, help, hint) on the right."""

    def __init__(self, frame_size: tuple[int, int], title: str) -> None:
        width, height = frame_size
        pygame = _pygame_with_display()
        self.size = (width + PANEL_WIDTH, max(height, MIN_HEIGHT))
        try:
            pygame.display.set_caption(title)
            self.surface = pygame.display.set_mode(self.size)
        except pygame.error as error:
            pygame.display.quit()
            raise DisplayError(_NO_DISPLAY.format(error=error)) from error
        self.frame_size = frame_size
        self.font = pygame.font.SysFont("dejavusansmono,monospace", 14)
        self.big_font = pygame.font.SysFont("dejavusans,sans", 18, bold=True)

    def draw(
        self,
        frame: NDArray[np.uint8],
        title: str,
        hud: Sequence[str],
        help_lines: Sequence[str] = (),
        hint: Hint | None = None,
        names: Sequence[str] = (),
        banner: str | None = None,
    ) -> None:
        """Show one frame (the env drew any advice on it) with its panel."""
        pygame = import_pygame()
        self.surface.fill(_BACKGROUND)
        frame_surface = pygame.surfarray.make_surface(np.transpose(frame, (1, 0, 2)))
        self.surface.blit(frame_surface, (0, 0))
        x, y = frame.shape[1] + 14, 12
        y = self._text(self.big_font, title, x, y, _INK) + 6
        for line in hud:
            y = self._text(self.font, line, x, y, _INK)
        if hint is not None:
            y += 10
            if hint.show_action:
                label = names[hint.action] if hint.action < len(names) else str(hint.action)
                y = self._text(self.big_font, f"agent says: {label}", x, y, _HINT) + 2
            if hint.q_values is not None:
                y = self._q_values(hint.q_values, names, hint.action, x, y)
        if help_lines:
            y += 10
            y = self._text(self.font, "keys", x, y, _MUTED)
            for line in help_lines:
                y = self._text(self.font, line, x, y, _MUTED)
        if banner is not None:
            self._banner(banner, frame.shape[1])
        pygame.display.flip()

    def close(self) -> None:
        """Close the window; safe to call twice."""
        import_pygame().display.quit()

    def _text(self, font: Any, text: str, x: int, y: int, colour: tuple[int, int, int]) -> int:
        self.surface.blit(font.render(text, True, colour), (x, y))
        return int(y + font.get_linesize())

    def _q_values(self, q: NDArray[np.float64], names: Sequence[str], best: int, x: int, y: int) -> int:
        pygame = import_pygame()
        y = self._text(self.font, "agent's Q-values", x, y, _MUTED)
        low, high = float(np.min(q)), float(np.max(q))
        span = high - low or 1.0
        for action, value in enumerate(q):
            name = names[action] if action < len(names) else str(action)
            width = int(8 + 80 * (float(value) - low) / span)
            colour = _HINT if action == best else (170, 170, 190)
            pygame.draw.rect(self.surface, colour, (x + 180, y + 3, width, 10))
            self._text(self.font, f"{name:>8} {float(value):+8.2f}", x, y, _INK)
            y += self.font.get_linesize()
        return y

    def _banner(self, text: str, width: int) -> None:
        pygame = import_pygame()
        lines = [text, "press R to play again, Esc to quit"]
        height = 16 + 24 * len(lines)
        top = self.size[1] - height - 8
        pygame.draw.rect(self.surface, _BANNER, (8, top, self.size[0] - 16, height), border_radius=6)
        pygame.draw.rect(self.surface, _INK, (8, top, self.size[0] - 16, height), width=1, border_radius=6)
        for row, line in enumerate(lines):
            self._text(self.big_font, line, 20, top + 8 + 24 * row, _INK)


class DisplayError(ValueError):
    """No window can be opened (no display); the message says what to do."""


_NO_DISPLAY = (
    "cannot open a window ({error}). qgym play and enjoy need a display: run them on a desktop, or "
    'under a virtual one with `xvfb-run -s "-screen 0 1280x800x24" qgym ...`; '
    "`qgym record` writes a GIF without any display"
)


def _pygame_with_display() -> Any:
    pygame = import_pygame()
    headless_linux = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    if os.environ.get("SDL_VIDEODRIVER") is None and headless_linux:
        raise DisplayError(_NO_DISPLAY.format(error="neither DISPLAY nor WAYLAND_DISPLAY is set"))
    try:
        pygame.display.init()
    except pygame.error as error:
        raise DisplayError(_NO_DISPLAY.format(error=error)) from error
    return pygame


def _signed(value: float) -> str:
    """``+1.50``, and ``+0.00`` rather than ``-0.00`` for a tiny negative."""
    return f"{round(value, 2) + 0.0:+.2f}"
