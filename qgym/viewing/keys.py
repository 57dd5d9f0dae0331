"""The keys of play, as pure functions: a key press becomes a :class:`Command` (an env action or a
control of the game) without a window, so every key of every env is testable with fake events."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from qgym.envs.pygame_frames import import_pygame
from qgym.viewing.views import toy_text_keys

__all__ = ["Command", "CommandKind", "handle_key", "key_map", "reserved_keys"]


class CommandKind(enum.Enum):
    """What a key press asks for."""

    ACT = "act"
    RESTART = "restart"
    QUIT = "quit"
    TOGGLE_HELP = "toggle_help"
    TOGGLE_HINT = "toggle_hint"
    TOGGLE_Q = "toggle_q"
    TOGGLE_VALUES = "toggle_values"


@dataclass(frozen=True)
class Command:
    """A key's meaning: an env action (``kind`` ACT, with ``action``) or a control of the game."""

    kind: CommandKind
    action: int | None = None


def reserved_keys() -> dict[int, CommandKind]:
    """The control keys every game shares: Esc quits, R restarts, F1 help, Tab hint, Q Q-values,
    V the value heat map."""
    pygame = import_pygame()
    return {
        pygame.K_ESCAPE: CommandKind.QUIT,
        pygame.K_r: CommandKind.RESTART,
        pygame.K_F1: CommandKind.TOGGLE_HELP,
        pygame.K_TAB: CommandKind.TOGGLE_HINT,
        pygame.K_q: CommandKind.TOGGLE_Q,
        pygame.K_v: CommandKind.TOGGLE_VALUES,
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
    """The env's single-key map ``{pygame key: action}``: its ``get_keys_to_action()``, or for
    Gymnasium's toy-text envs the arrows (and p, d for Taxi's pickup and dropoff)."""
    base = env.unwrapped
    getter = getattr(base, "get_keys_to_action", None)
    mapping = getter() if getter is not None else toy_text_keys(env)
    if mapping is None:
        raise ValueError(
            f"{_env_name(env)} has no keyboard map (get_keys_to_action), so it cannot be played by hand; "
            "qgym's envs and Gymnasium's FrozenLake, CliffWalking and Taxi can"
        )
    reserved = reserved_keys()
    keymap: dict[int, int] = {}
    for keys, action in mapping.items():
        combo = (keys,) if isinstance(keys, int | str) else tuple(keys)
        if len(combo) != 1:
            raise ValueError(f"{_env_name(env)} maps a key combination {combo}; play takes single keys")
        key = ord(combo[0]) if isinstance(combo[0], str) else int(combo[0])
        if key in reserved:
            raise ValueError(f"{_env_name(env)} maps key {key} to an action, but play reserves it")
        keymap[key] = int(action)
    return keymap


def _env_name(env: gym.Env[Any, Any]) -> str:
    return env.spec.id if env.spec is not None else type(env.unwrapped).__name__
