"""Watch a trained agent play: ``qgym enjoy MODEL [--env ID]``.

The agent plays through :func:`qgym.training.run_episode`; the window shows each step with the
agent's advice drawn by the env and its Q-values in the panel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym

from qgym.envs.interface import Overlay
from qgym.envs.rendering import import_pygame
from qgym.training.evaluation import exact_optimum
from qgym.training.models import guess_env_id
from qgym.training.rollouts import run_episode
from qgym.viewing.agent import load_agent
from qgym.viewing.screen import Hint, Screen, episode_summary, hud_lines
from qgym.viewing.views import view_of

__all__ = ["enjoy"]

_ENJOY_KEYS = ["space  pause", "+ / -  faster / slower", "Esc    stop"]


def enjoy(
    model_path: str | Path,
    env_id: str | None = None,
    episodes: int = 1,
    fps: float = 4.0,
    seed: int | None = 0,
    idle_timeout: float | None = None,
    trust_pickle: bool = False,
) -> list[float]:
    """Watch the agent for ``episodes`` episodes at ``fps`` steps a second; returns the episode returns.

    Keys: space pauses, + and - change the speed, Esc or closing the window stops.
    """
    if env_id is None:
        env_id = guess_env_id(model_path)
    if fps <= 0:
        raise ValueError(f"fps must be a positive number of steps a second, got {fps}")
    env = gym.make(env_id, render_mode="rgb_array")
    returns: list[float] = []
    screen: Screen | None = None
    try:
        agent = load_agent(model_path, env, env_id, trust_pickle)
        view = view_of(env)
        optimum = exact_optimum(env_id)
        horizon = env.spec.max_episode_steps if env.spec is not None else None
        pygame = import_pygame()
        clock = pygame.time.Clock()
        paused, stop = False, False
        for episode in range(episodes):
            banner = None
            for step in run_episode(env, agent.act, None if seed is None else seed + episode):
                if step.done:
                    returns.append(step.episode_return)
                    banner = episode_summary(step.episode_return, optimum, person=False)
                    print(f"episode {len(returns)}: {banner}")
                hint = (
                    None if step.done else Hint(agent.act(step.observation), agent.q_values(step.observation))
                )
                frame = view.draw(None if hint is None else Overlay(action=hint.action))
                if screen is None:
                    screen = Screen((frame.shape[1], frame.shape[0]), f"qgym enjoy {agent.name} on {env_id}")
                hud = [
                    f"episode  {episode + 1} / {episodes}",
                    *hud_lines(view, horizon, step.t, step.episode_return, step.reward),
                    f"speed    {fps:g} steps/s",
                ]
                while True:  # show this step until it is time for the next (longer while paused)
                    screen.draw(frame, agent.name, hud, _ENJOY_KEYS, hint, view.action_names, banner)
                    stop, paused, fps = _read_keys(pygame, paused, fps)
                    clock.tick(fps)
                    if stop or not paused:
                        break
                if stop:
                    break
            if stop:
                break
        if idle_timeout is not None and len(returns) == episodes:
            pygame.time.wait(int(1000 * idle_timeout))
    finally:
        if screen is not None:
            screen.close()
        env.close()
    return returns


def _read_keys(pygame: Any, paused: bool, fps: float) -> tuple[bool, bool, float]:
    """(stop, paused, fps) after the window's pending events."""
    for event in pygame.event.get():
        if event.type == pygame.QUIT:
            return True, paused, fps
        if event.type == pygame.KEYDOWN:
            if event.key == pygame.K_ESCAPE:
                return True, paused, fps
            if event.key == pygame.K_SPACE:
                paused = not paused
            elif event.key in (pygame.K_PLUS, pygame.K_EQUALS, pygame.K_KP_PLUS):
                fps = min(fps * 2, 120.0)
            elif event.key in (pygame.K_MINUS, pygame.K_KP_MINUS):
                fps = max(fps / 2, 0.25)
    return False, paused, fps
