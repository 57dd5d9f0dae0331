"""Watch a trained agent play: ``qgym enjoy MODEL [--env ID]``.

The agent plays through :func:`qgym.training.run_episode`; the window shows each step with the
agent's advice drawn by the env and its Q-values in the panel. ``record_dir`` keeps the episodes as a
Minari dataset (:mod:`qgym.viewing.datasets`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym

from qgym.envs.interface import Overlay
from qgym.envs.pygame_frames import import_pygame
from qgym.training.envs import keeps_states
from qgym.training.evaluation import exact_optimum, exact_return
from qgym.training.models import env_for_model
from qgym.training.rollouts import run_episode
from qgym.validation import is_finite_number
from qgym.viewing.advice import agent_hint
from qgym.viewing.datasets import EpisodeRecorder, fresh_seed, save_and_report
from qgym.viewing.field_summary import FieldSummary
from qgym.viewing.screen import Screen, episode_summary, hud_lines
from qgym.viewing.trained_model import load_agent
from qgym.viewing.views import action_mask, episode_end, legend_of, view_of

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
    record_dir: str | Path | None = None,
    env_kwargs: dict[str, Any] | None = None,
) -> list[float]:
    """Watch the agent for ``episodes`` episodes at ``fps`` steps a second; returns the episode returns.

    Keys: space pauses, + and - change the speed, Esc or closing the window stops. With ``record_dir``
    the episodes watched are written there as a Minari dataset when the window closes. The env is
    ``env_id`` made with ``env_kwargs``, by default the model's run's (its ``config.yml``).
    """
    if not (is_finite_number(fps) and fps > 0):
        raise ValueError(f"--fps must be a positive number of steps a second, got {fps}")
    chosen = env_for_model(model_path, env_id, env_kwargs, trust_pickle)
    env_id, kwargs = chosen.env_id, chosen.env_kwargs
    env = gym.make(env_id, render_mode="rgb_array", **kwargs)
    returns: list[float] = []
    screen: Screen | None = None
    try:
        recorder = None if record_dir is None else EpisodeRecorder(env, env_id, record_dir)
    except ValueError:
        env.close()
        raise
    try:
        agent = load_agent(model_path, env, env_id, trust_pickle)
        view = view_of(env)
        legend_source = legend_of(env)
        legend = [] if legend_source is None else legend_source.legend(40)
        optimum = exact_optimum(env_id, kwargs)
        horizon = env.spec.max_episode_steps if env.spec is not None else None
        fields = FieldSummary(env, horizon, exact=optimum is not None)
        pygame = import_pygame()
        clock = pygame.time.Clock()
        paused, stop = False, False
        for episode in range(episodes):
            banner: str | list[str] | None = None
            episode_seed = seed + episode if seed is not None else fresh_seed() if recorder else None
            for step in run_episode(env, agent.act, episode_seed):
                if recorder is not None:
                    if step.action is None:
                        recorder.start(episode_seed, step.observation, step.info)
                    else:
                        recorder.step(
                            step.action,
                            step.observation,
                            step.reward,
                            step.terminated,
                            step.truncated,
                            step.info,
                        )
                if step.done:
                    returns.append(step.episode_return)
                    ending = episode_end(env, step.terminated, step.truncated, step.t)
                    summary = episode_summary(step.episode_return, optimum, person=False)
                    figures = fields.lines()
                    banner = [*([ending] if ending else []), summary, *figures]
                    head = summary + ("" if ending is None else f" ({ending})")
                    print(f"episode {len(returns)}: " + "\n  ".join([head, *figures]))
                hint = (
                    None if step.done else agent_hint(agent, step.observation, True, True, action_mask(env))
                )
                if screen is None:
                    screen = Screen(f"qgym enjoy {agent.name} on {env_id}")
                hud = [
                    f"episode  {episode + 1} / {episodes}",
                    *hud_lines(view, horizon, step.t, step.episode_return, step.reward),
                    f"speed    {fps:g} steps/s",
                ]
                while True:  # show this step until it is time for the next (longer while paused)
                    advice = None if hint is None else hint.action
                    frame = view.draw(Overlay(action=advice, size=screen.pane))
                    screen.draw(frame, agent.name, hud, _ENJOY_KEYS, hint, view.action_names, banner, legend)
                    stop, paused, fps = _read_keys(pygame, screen, paused, fps)
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
    if recorder is not None and record_dir is not None:
        valued = optimum is not None and keeps_states(agent.env_wrapper)
        greedy = exact_return(agent.model, env_id, agent.env_wrapper, kwargs) if valued else None
        save_and_report(recorder, record_dir, "agent", f"{agent.name} in qgym enjoy", optimum, greedy)
    return returns


def _read_keys(pygame: Any, screen: Screen, paused: bool, fps: float) -> tuple[bool, bool, float]:
    """(stop, paused, fps) after the window's pending events (a resize is followed at once)."""
    for event in pygame.event.get():
        if event.type == pygame.QUIT:
            return True, paused, fps
        if event.type in (pygame.VIDEORESIZE, pygame.WINDOWSIZECHANGED):
            screen.resized()
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
