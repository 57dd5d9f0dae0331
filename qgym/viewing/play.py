"""Turn-based human play in a pygame window: ``qgym play ID``.

One key press is one step. The pieces are separate so each can be tested alone: :func:`handle_key`
turns a key into a :class:`Command` (a pure function), :class:`PlaySession` applies commands to the
env and keeps the score (no pygame), :class:`~qgym.viewing.screen.Screen` draws a session, and
:func:`run_loop` reads window events until Esc or the window's close button.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from qgym.envs.interface import Overlay
from qgym.envs.rendering import import_pygame
from qgym.training.evaluation import exact_optimum
from qgym.viewing.agent import Agent, load_agent
from qgym.viewing.screen import Hint, Screen, episode_summary, hud_lines
from qgym.viewing.views import view_of

__all__ = [
    "Command",
    "CommandKind",
    "PlaySession",
    "handle_key",
    "key_map",
    "play",
    "redraw",
    "render_frame",
    "reserved_keys",
    "run_loop",
]


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
        self.view = view_of(self.env)
        self.names = list(self.view.action_names)
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
        """Step, return, last reward and the env's status (weather, regime, position)."""
        horizon = self.env.spec.max_episode_steps if self.env.spec is not None else None
        return hud_lines(self.view, horizon, self.steps, self.total, self.last_reward)

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


def play(
    env_id: str, seed: int | None = None, hint_path: str | Path | None = None, trust_pickle: bool = False
) -> int:
    """Open a window and let a person play ``env_id``; returns when they quit. Prints each episode."""
    env = gym.make(env_id, render_mode="rgb_array")
    try:
        agent = None if hint_path is None else load_agent(hint_path, env, env_id, trust_pickle)
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
    """Draw the session's current state; the env draws the hint's advice on its own frame."""
    hint = session.hint()
    advice = Overlay(action=hint.action) if hint is not None and hint.show_action else None
    screen.draw(
        session.view.draw(advice),
        session.env_id.removeprefix("qgym/"),
        session.hud(),
        session.help_lines() if session.show_help else ["F1: show the keys"],
        hint,
        session.names,
        session.summary(),
    )


def render_frame(env: gym.Env[Any, Any]) -> NDArray[np.uint8]:
    """The env's current frame, as every viewer draws it."""
    return view_of(env).draw()


def _env_name(env: gym.Env[Any, Any]) -> str:
    return env.spec.id if env.spec is not None else type(env.unwrapped).__name__
