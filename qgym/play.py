"""Turn-based human play in a pygame window: ``qgym play ID``.

One key press is one step. The pieces are separate so each can be tested alone: :func:`handle_key`
turns a key into a :class:`Command` (a pure function), :class:`PlaySession` applies commands to the
env and keeps the score (no pygame), :class:`Screen` draws a session, and :func:`run_loop` reads
window events until Esc or the window's close button. pygame is imported only when a window opens.
"""

from __future__ import annotations

import enum
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from qgym.envs.rendering import import_pygame

if TYPE_CHECKING:
    from qgym.enjoy import Agent

__all__ = [
    "Command",
    "CommandKind",
    "PlaySession",
    "Screen",
    "action_names",
    "exact_optimum",
    "handle_key",
    "key_map",
    "play",
    "render_frame",
    "reserved_keys",
    "run_loop",
]

PANEL_WIDTH = 330
MIN_HEIGHT = 640
_BACKGROUND = (245, 243, 236)
_INK = (30, 30, 30)
_MUTED = (110, 110, 110)
_ACCENT = (40, 110, 235)
_BANNER = (255, 248, 205)
_HINT = (230, 60, 140)


class CommandKind(enum.Enum):
    """What a key press asks for."""

    ACT = "act"
    RESTART = "restart"
    QUIT = "quit"
    TOGGLE_HELP = "toggle_help"
    TOGGLE_HINT = "toggle_hint"
    TOGGLE_Q = "toggle_q"


@dataclass(frozen=True)
class Command:
    """A key's meaning: an env action (``kind`` ACT, with ``action``) or a control of the game."""

    kind: CommandKind
    action: int | None = None


def reserved_keys() -> dict[int, CommandKind]:
    """The control keys every game shares: Esc quits, R restarts, F1 help, Tab hint, Q Q-values."""
    pygame = import_pygame()
    return {
        pygame.K_ESCAPE: CommandKind.QUIT,
        pygame.K_r: CommandKind.RESTART,
        pygame.K_F1: CommandKind.TOGGLE_HELP,
        pygame.K_TAB: CommandKind.TOGGLE_HINT,
        pygame.K_q: CommandKind.TOGGLE_Q,
    }


def handle_key(key: int, keymap: Mapping[int, int], episode_over: bool = False) -> Command | None:
    """The command of one key press: a control key, a mapped action, or None (ignored).

    Action keys do nothing once the episode is over (the summary asks for R).
    """
    control = reserved_keys().get(key)
    if control is not None:
        return Command(control)
    if key in keymap and not episode_over:
        return Command(CommandKind.ACT, int(keymap[key]))
    return None


def key_map(env: gym.Env[Any, Any]) -> dict[int, int]:
    """The env's single-key map ``{pygame key: action}`` from its ``get_keys_to_action()``."""
    base = env.unwrapped
    getter = getattr(base, "get_keys_to_action", None)
    if getter is None:
        raise ValueError(
            f"{_env_name(env)} has no keyboard map (get_keys_to_action), so it cannot be played by hand"
        )
    reserved = reserved_keys()
    keymap: dict[int, int] = {}
    for keys, action in getter().items():
        combo = (keys,) if isinstance(keys, int | str) else tuple(keys)
        if len(combo) != 1:
            raise ValueError(f"{_env_name(env)} maps a key combination {combo}; play takes single keys")
        key = ord(combo[0]) if isinstance(combo[0], str) else int(combo[0])
        if key in reserved:
            raise ValueError(f"{_env_name(env)} maps key {key} to an action, but play reserves it")
        keymap[key] = int(action)
    return keymap


def action_names(env: gym.Env[Any, Any]) -> list[str]:
    """Readable names of the env's actions (``0``, ``1``, ... when the env names none)."""
    from qgym.envs import trading
    from qgym.envs.farm import ACTION_NAMES, GridFarmEnv

    base = env.unwrapped
    n = int(getattr(env.action_space, "n", 0))
    if isinstance(base, GridFarmEnv):
        return list(ACTION_NAMES)
    if isinstance(base, trading.ChainTradingEnv | trading.TradingEnv):
        return list(trading.ACTION_NAMES)
    return [str(i) for i in range(n)]


def exact_optimum(env_id: str) -> float | None:
    """The best expected return over the registered horizon: qgym's table, or solved for small toy-text."""
    from qgym import planning
    from qgym.envs import known_optimum

    optimum = known_optimum(env_id)
    if optimum is not None or env_id.startswith("qgym/"):
        return optimum
    spec = gym.spec(env_id)
    if spec.max_episode_steps is None:
        return None
    env = gym.make(env_id)
    try:
        model = planning.model_of(env)
    except ValueError:
        return None
    finally:
        env.close()
    if model.n_states > 100_000:
        return None
    return planning.expected_return(model, planning.backward_induction(model, spec.max_episode_steps).values)


@dataclass
class PlaySession:
    """One person's game: the env (``rgb_array`` mode), the score and what the screen shows."""

    env: gym.Env[Any, Any]
    env_id: str
    seed: int | None = None
    optimum: float | None = None
    agent: Agent | None = None
    show_help: bool = True
    show_hint: bool = False
    show_q: bool = False
    observation: Any = None
    info: dict[str, Any] = field(default_factory=dict)
    steps: int = 0
    total: float = 0.0
    last_reward: float = 0.0
    episode_over: bool = False
    episodes: int = 0
    returns: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.names = action_names(self.env)
        self.keymap = key_map(self.env)
        self.reset()

    def reset(self) -> None:
        """Start a new episode: the given seed first, then seed + 1, + 2, ... (random without a seed)."""
        seed = None if self.seed is None else self.seed + self.episodes
        self.observation, self.info = self.env.reset(seed=seed)
        self.episodes += 1
        self.steps, self.total, self.last_reward, self.episode_over = 0, 0.0, 0.0, False

    def apply(self, command: Command) -> bool:
        """Carry out ``command``; False when the game should end."""
        if command.kind is CommandKind.QUIT:
            return False
        if command.kind is CommandKind.RESTART:
            self.reset()
        elif command.kind is CommandKind.TOGGLE_HELP:
            self.show_help = not self.show_help
        elif command.kind is CommandKind.TOGGLE_HINT:
            self.show_hint = not self.show_hint
        elif command.kind is CommandKind.TOGGLE_Q:
            self.show_q = not self.show_q
        elif command.kind is CommandKind.ACT and not self.episode_over:
            self.step(int(command.action if command.action is not None else 0))
        return True

    def step(self, action: int) -> None:
        """Take one step and keep the score."""
        self.observation, reward, terminated, truncated, self.info = self.env.step(action)
        self.steps += 1
        self.last_reward = float(reward)
        self.total += self.last_reward
        if terminated or truncated:
            self.episode_over = True
            self.returns.append(self.total)

    def hud(self) -> list[str]:
        """Step, return, last reward and the weather or market regime."""
        return hud_lines(self.env, self.info, self.steps, self.total, self.last_reward)

    def summary(self) -> str | None:
        """The end-of-episode line, with the exact optimum where it is known."""
        if not self.episode_over:
            return None
        return episode_summary(self.total, self.optimum, person=True)

    def help_lines(self) -> list[str]:
        """The key of every action, then the control keys."""
        pygame = import_pygame()
        by_action: dict[int, list[str]] = {}
        for key, action in self.keymap.items():
            by_action.setdefault(action, []).append(pygame.key.name(key))
        lines = [f"{' / '.join(by_action[a]):>14}  {self.names[a]}" for a in sorted(by_action)]
        lines += ["", f"{'R':>14}  restart (new seed)", f"{'Esc':>14}  quit", f"{'F1':>14}  hide help"]
        if self.agent is not None:
            lines += [f"{'Tab':>14}  agent's hint", f"{'Q':>14}  agent's Q-values"]
        return lines

    def hint(self) -> Hint | None:
        """What the hint agent would do here (when hints or Q-values are switched on)."""
        if self.agent is None or not (self.show_hint or self.show_q) or self.episode_over:
            return None
        q = self.agent.q_values(self.observation) if self.show_q else None
        return Hint(self.agent.act(self.observation), q, self.show_hint)


@dataclass(frozen=True)
class Hint:
    """An agent's advice in the current state: its greedy action, and its Q-values when asked."""

    action: int
    q_values: NDArray[np.float64] | None
    show_action: bool = True


def hud_lines(
    env: gym.Env[Any, Any], info: Mapping[str, Any], steps: int, total: float, last_reward: float
) -> list[str]:
    """The HUD of any env: step (of the horizon), return, last reward, and weather, regime, position."""
    horizon = env.spec.max_episode_steps if env.spec is not None else None
    lines = [
        f"step     {steps}" + (f" / {horizon}" if horizon else ""),
        f"return   {_signed(total)}",
        f"last     {_signed(last_reward)}",
    ]
    if "rained" in info:
        lines.append(f"weather  {'rain' if info['rained'] else 'dry'}")
    if "regime" in info:
        lines.append(f"regime   {info['regime']}")
    if "position" in info:
        lines.append(f"position {int(info['position']):+d}")
    return lines


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
        farm_cell: tuple[int, int, int] | None = None,
    ) -> None:
        """Show one frame with its panel; ``farm_cell`` = (row, col, rows) puts the hint on the field."""
        pygame = import_pygame()
        self.surface.fill(_BACKGROUND)
        frame_surface = pygame.surfarray.make_surface(np.transpose(frame, (1, 0, 2)))
        self.surface.blit(frame_surface, (0, 0))
        if hint is not None and hint.show_action and farm_cell is not None:
            _draw_farm_hint(pygame, self.surface, hint.action, farm_cell, frame.shape[0])
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


def play(env_id: str, seed: int | None = None, hint_path: str | Path | None = None) -> int:
    """Open a window and let a person play ``env_id``; returns when they quit. Prints each episode."""
    env = gym.make(env_id, render_mode="rgb_array")
    try:
        agent = None
        if hint_path is not None:
            from qgym.enjoy import load_agent

            agent = load_agent(hint_path, env, env_id)
        session = PlaySession(env, env_id, seed=seed, optimum=exact_optimum(env_id), agent=agent)
        frame = render_frame(env)
        screen = Screen((frame.shape[1], frame.shape[0]), f"qgym play {env_id}")
        try:
            run_loop(session, screen)
        finally:
            screen.close()
    finally:
        env.close()
    for episode, total in enumerate(session.returns, start=1):
        print(f"episode {episode}: {episode_summary(total, session.optimum, person=True)}")
    return 0


def run_loop(session: PlaySession, screen: Screen, idle_timeout: float | None = None) -> None:
    """Draw, wait for a key, apply it, until Esc or the window closes (or ``idle_timeout`` seconds idle)."""
    pygame = import_pygame()
    redraw(session, screen)
    while True:
        event = pygame.event.wait(-1 if idle_timeout is None else int(1000 * idle_timeout))
        if event.type == pygame.NOEVENT:
            return
        if event.type == pygame.QUIT:
            return
        if event.type == pygame.KEYDOWN:
            command = handle_key(event.key, session.keymap, session.episode_over)
            if command is None:
                continue
            if not session.apply(command):
                return
            redraw(session, screen)
        elif event.type in (pygame.WINDOWEXPOSED, pygame.WINDOWRESTORED):
            redraw(session, screen)


def redraw(session: PlaySession, screen: Screen) -> None:
    """Draw the session's current state."""
    screen.draw(
        render_frame(session.env),
        session.env_id.removeprefix("qgym/"),
        session.hud(),
        session.help_lines() if session.show_help else ["F1: show the keys"],
        session.hint(),
        session.names,
        session.summary(),
        farm_cell_of(session.env),
    )


def farm_cell_of(env: gym.Env[Any, Any]) -> tuple[int, int, int] | None:
    """(row, col, rows) of the farmer on a grid farm, else None."""
    from qgym.envs.farm import GridFarmEnv

    base = env.unwrapped
    if not isinstance(base, GridFarmEnv):
        return None
    row, col = base.agent_cell
    return row, col, base.config.rows


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


def render_frame(env: gym.Env[Any, Any]) -> NDArray[np.uint8]:
    """The env's current ``rgb_array`` frame."""
    frame = env.render()
    if not isinstance(frame, np.ndarray) or frame.ndim != 3:
        raise ValueError(f"{_env_name(env)} did not render an rgb_array frame")
    return np.asarray(frame, dtype=np.uint8)


def _draw_farm_hint(pygame: Any, surface: Any, action: int, cell: tuple[int, int, int], height: int) -> None:
    """An arrow from the farmer's cell for a move, a letter on it for work."""
    from qgym.envs.farm.render import _CELL
    from qgym.envs.farm.rules import ACTION_NAMES, Action

    row, col, _ = cell
    cx, cy = col * _CELL + _CELL // 2, row * _CELL + _CELL // 2
    moves = {Action.NORTH: (0, -1), Action.SOUTH: (0, 1), Action.WEST: (-1, 0), Action.EAST: (1, 0)}
    if action in moves:
        dx, dy = moves[Action(action)]
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


def _signed(value: float) -> str:
    """``+1.50``, and ``+0.00`` rather than ``-0.00`` for a tiny negative."""
    return f"{round(value, 2) + 0.0:+.2f}"


def _env_name(env: gym.Env[Any, Any]) -> str:
    return env.spec.id if env.spec is not None else type(env.unwrapped).__name__
