"""The viewer window: the env's frame filling the left pane, a panel (HUD, advice, legend, keys) on the right.

Shared by ``qgym play`` and ``qgym enjoy``. The window can be resized; :attr:`Screen.pane` is the size the
env should draw its frame at (``Overlay(size=screen.pane)``). pygame is imported only when a window
opens; without a display, :class:`DisplayError` says how to get one (or to use ``qgym record``).
"""

from __future__ import annotations

import contextlib
import locale
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qgym.envs.interface import EnvView
from qgym.envs.pygame_frames import import_pygame

__all__ = ["WINDOW_SIZE", "DisplayError", "Hint", "Screen", "episode_summary", "hud_lines"]

WINDOW_SIZE = (1140, 740)
"""The window's size when it opens (it fits a 1280x800 screen); the person may resize it."""
PANEL_WIDTH = 380
_BACKGROUND = (245, 243, 236)
_INK = (30, 30, 30)
_MUTED = (110, 110, 110)
_BANNER = (255, 248, 205)
_HINT = (230, 60, 140)
Legend = Sequence[tuple[str, NDArray[np.uint8]]]


@dataclass(frozen=True)
class Hint:
    """Advice in the current state: the advised action, and the action values when asked."""

    action: int
    q_values: NDArray[np.float64] | None
    show_action: bool = True
    source: str = "agent"
    """Who advises: ``"agent"`` (a trained model) or ``"optimal"`` (the exact optimum)."""
    best: tuple[int, ...] = ()
    """Every action the advisor rates best (ties are highlighted together)."""
    caption: str = "agent's Q-values"
    idle: int | None = None
    """The advisor's top-valued action when it changes nothing here (the env's action mask), so another
    action, as good, is advised instead."""


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
    """The window: the env's frame in the left pane, a panel on the right, a banner at the end."""

    def __init__(self, title: str, size: tuple[int, int] = WINDOW_SIZE) -> None:
        pygame = _pygame_with_display()
        try:
            with _plain_title_locale():
                pygame.display.set_caption(title)
                self.surface = pygame.display.set_mode(size, pygame.RESIZABLE)
        except pygame.error as error:
            pygame.display.quit()
            raise DisplayError(_NO_DISPLAY.format(error=error)) from error
        self.font = pygame.font.SysFont("dejavusansmono,monospace", 14)
        self.small = pygame.font.SysFont("dejavusans,sans", 12)
        self.big_font = pygame.font.SysFont("dejavusans,sans", 18, bold=True)

    @property
    def size(self) -> tuple[int, int]:
        width, height = self.surface.get_size()
        return int(width), int(height)

    @property
    def pane(self) -> tuple[int, int]:
        """The (width, height) the env's frame should fill."""
        width, height = self.size
        return max(width - PANEL_WIDTH, 120), max(height, 120)

    def resized(self) -> None:
        """Follow a change of the window's size (call on a resize event, then draw again)."""
        surface = import_pygame().display.get_surface()
        if surface is not None:
            self.surface = surface

    def draw(
        self,
        frame: NDArray[np.uint8],
        title: str,
        hud: Sequence[str],
        help_lines: Sequence[str] = (),
        hint: Hint | None = None,
        names: Sequence[str] = (),
        banner: Sequence[str] | str | None = None,
        legend: Legend = (),
    ) -> None:
        """Show one frame (the env drew any advice on it) with its panel, legend and end banner."""
        pygame = import_pygame()
        self.surface.fill(_BACKGROUND)
        self._frame(pygame, frame)
        x, y = self.pane[0] + 14, 12
        y = self._text(self.big_font, title, x, y, _INK) + 4
        for line in hud:
            y = self._text(self.font, line, x, y, _INK)
        if hint is not None:
            y += 8
            if hint.show_action:
                who = "optimal" if hint.source == "optimal" else "agent says"
                label = " or ".join(_name(names, a) for a in (hint.best or (hint.action,))[:3])
                y = self._text(self.big_font, f"{who}: {label}", x, y, _HINT) + 2
                if hint.idle is not None:
                    note = f"({_name(names, hint.idle)} changes nothing here)"
                    y = self._text(self.font, note, x, y, _MUTED)
            if hint.q_values is not None:
                y = self._q_values(hint, names, x, y)
        if legend:
            y = self._legend(legend, x, y + 8)
        if help_lines:
            y += 8
            y = self._text(self.font, "keys", x, y, _MUTED)
            for line in help_lines:
                y = self._text(self.font, line, x, y, _MUTED)
        if banner is not None:
            self._banner([banner] if isinstance(banner, str) else list(banner))
        pygame.display.flip()

    def close(self) -> None:
        """Close the window; safe to call twice."""
        import_pygame().display.quit()

    def _frame(self, pygame: Any, frame: NDArray[np.uint8]) -> None:
        """The frame scaled to fill the pane, its shape kept, centred at the top. qgym's envs draw at the
        pane's size already; others (Gymnasium's 256-pixel toy-text frames) are scaled up or down."""
        image = pygame.surfarray.make_surface(np.transpose(frame, (1, 0, 2)))
        width, height = self.pane
        scale = min(width / frame.shape[1], height / frame.shape[0])
        size = (max(1, round(frame.shape[1] * scale)), max(1, round(frame.shape[0] * scale)))
        if size != image.get_size():
            whole = scale >= 1.0 and float(scale).is_integer()
            image = (pygame.transform.scale if whole else pygame.transform.smoothscale)(image, size)
        self.surface.blit(image, ((width - image.get_width()) // 2, 0))

    def _text(self, font: Any, text: str, x: int, y: int, colour: tuple[int, int, int]) -> int:
        self.surface.blit(font.render(text, True, colour), (x, y))
        return int(y + font.get_linesize())

    def _q_values(self, hint: Hint, names: Sequence[str], x: int, y: int) -> int:
        pygame = import_pygame()
        q = hint.q_values
        assert q is not None
        y = self._text(self.font, hint.caption, x, y, _MUTED)
        low, high = float(np.min(q)), float(np.max(q))
        span = high - low or 1.0
        best = hint.best or (hint.action,)
        for action, value in enumerate(q):
            width = int(8 + 90 * (float(value) - low) / span)
            colour = _HINT if action in best else (170, 170, 190)
            pygame.draw.rect(self.surface, colour, (x + 180, y + 3, width, 10))
            ink = _HINT if action in best else _INK
            self._text(self.font, f"{_name(names, action):>8} {float(value):+9.3f}", x, y, ink)
            y += self.font.get_linesize()
        return y

    def _legend(self, legend: Legend, x: int, y: int) -> int:
        """Two columns of (icon, label)."""
        pygame = import_pygame()
        y = self._text(self.font, "legend", x, y, _MUTED)
        column = (PANEL_WIDTH - 20) // 2
        row_height = 30
        for index, (label, icon) in enumerate(legend):
            row, col = divmod(index, 2)
            left, top = x + col * column, y + row * row_height
            image = pygame.surfarray.make_surface(np.transpose(icon, (1, 0, 2)))
            image = pygame.transform.smoothscale(image, (26, 26))
            self.surface.blit(image, (left, top))
            self.surface.blit(self.small.render(label, True, _INK), (left + 30, top + 6))
        return y + row_height * ((len(legend) + 1) // 2)

    def _banner(self, lines: list[str]) -> None:
        pygame = import_pygame()
        lines = [*lines, "press R to play again, Esc to quit"]
        width, height = self.size
        box_height = 16 + 22 * len(lines)
        top = height - box_height - 8
        area = (8, top, width - 16, box_height)
        pygame.draw.rect(self.surface, _BANNER, area, border_radius=6)
        pygame.draw.rect(self.surface, _INK, area, width=1, border_radius=6)
        for row, line in enumerate(lines):
            font = self.big_font if row == 0 else self.font
            if font.size(line)[0] > width - 40:
                font = self.small
            self._text(font, line, 20, top + 8 + 22 * row, _INK)


class DisplayError(ValueError):
    """No window can be opened (no display); the message says what to do."""


_NO_DISPLAY = (
    "cannot open a window ({error}). qgym play and enjoy need a display: run them on a desktop, or "
    'under a virtual one with `xvfb-run -s "-screen 0 1280x800x24" qgym ...`; '
    "`qgym record` writes a GIF without any display"
)


@contextlib.contextmanager
def _plain_title_locale() -> Iterator[None]:
    """The C locale while the window gets its title. Under a C.UTF-8 locale Xlib labels the X11 title
    (WM_NAME) with an encoding named "UTF-8" that window tools cannot read, so ``xdotool search --name
    qgym`` found no window; in the C locale the ASCII title is a plain string."""
    if not sys.platform.startswith("linux"):
        yield
        return
    previous = locale.setlocale(locale.LC_CTYPE)
    try:
        locale.setlocale(locale.LC_CTYPE, "C")
    except locale.Error:
        yield
        return
    try:
        yield
    finally:
        locale.setlocale(locale.LC_CTYPE, previous)


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


def _name(names: Sequence[str], action: int) -> str:
    return names[action] if action < len(names) else str(action)


def _signed(value: float) -> str:
    """``+1.50``, and ``+0.00`` rather than ``-0.00`` for a tiny negative."""
    return f"{round(value, 2) + 0.0:+.2f}"
