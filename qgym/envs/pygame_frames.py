"""Rendering helpers shared by the qgym envs: lazy pygame, off-screen frames and a human window.

``rgb_array`` is the single source of truth: an env draws one frame on an off-screen surface and
``human`` mode shows that same frame in a window. pygame is imported only when a frame is drawn.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["HumanWindow", "import_pygame", "surface_to_array"]

RGB = tuple[int, int, int]


def import_pygame() -> ModuleType:
    """Import pygame (the pygame-ce distribution), or say which package is missing."""
    try:
        import pygame
    except ImportError as error:  # pragma: no cover - pygame-ce is a core dependency
        raise ImportError(
            "rendering needs pygame: install it with `pip install pygame-ce` (qgym depends on it)"
        ) from error
    if not pygame.font.get_init():
        pygame.font.init()
    return pygame


def surface_to_array(surface: Any) -> NDArray[np.uint8]:
    """An (H, W, 3) uint8 copy of a pygame surface."""
    pygame = import_pygame()
    return np.ascontiguousarray(np.transpose(pygame.surfarray.array3d(surface), (1, 0, 2)), dtype=np.uint8)


class HumanWindow:
    """A pygame window that shows frames; opened on first use, closable twice, reopened after close.

    Its pygame handles are dropped when the owning env is pickled, so envs pickle after rendering.
    """

    def __init__(self, title: str) -> None:
        self.title = title
        self._screen: Any = None
        self._clock: Any = None

    def show(self, frame: NDArray[np.uint8], fps: int) -> None:
        """Display ``frame`` (H, W, 3) and wait so the window runs at ``fps`` frames per second."""
        pygame = import_pygame()
        height, width = frame.shape[:2]
        if self._screen is None or self._screen.get_size() != (width, height):
            pygame.display.init()
            pygame.display.set_caption(self.title)
            self._screen = pygame.display.set_mode((width, height))
            self._clock = pygame.time.Clock()
        pygame.event.pump()
        pygame.surfarray.blit_array(self._screen, np.transpose(frame, (1, 0, 2)))
        pygame.display.flip()
        self._clock.tick(fps)

    @property
    def is_open(self) -> bool:
        return self._screen is not None

    def close(self) -> None:
        """Close the window if it is open; safe to call any number of times."""
        if self._screen is not None:
            import pygame

            pygame.display.quit()
            self._screen = None
            self._clock = None

    def __getstate__(self) -> dict[str, Any]:
        return {"title": self.title}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["title"])  # type: ignore[misc]
