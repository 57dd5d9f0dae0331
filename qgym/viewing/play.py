"""Turn-based human play in a pygame window: ``qgym play ID [--hint optimal|MODEL] [--record DIR]``.

One key press is one step. The pieces are separate so each can be tested alone: :func:`handle_key`
turns a key into a :class:`Command` (a pure function), :class:`PlaySession` applies commands to the
env, keeps the score and grades every move against Q* where the env has an exact model (no pygame),
:class:`~qgym.viewing.screen.Screen` draws a session, and :func:`run_loop` reads window events until Esc
or the window's close button.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from qgym import scoring
from qgym.envs.interface import Overlay
from qgym.envs.pygame_frames import import_pygame
from qgym.training.evaluation import exact_optimum
from qgym.training.models import env_for_model
from qgym.viewing.advice import OptimalAdvisor, agent_cell_values, agent_hint, summary_lines
from qgym.viewing.datasets import EpisodeRecorder, fresh_seed, save_and_report
from qgym.viewing.field_summary import FieldSummary, action_kinds
from qgym.viewing.keys import Command, CommandKind, handle_key, key_map, reserved_keys
from qgym.viewing.screen import Hint, Screen, hud_lines
from qgym.viewing.trained_model import Agent, load_agent
from qgym.viewing.views import (
    action_mask,
    agent_on_cells,
    episode_end,
    legend_of,
    state_names,
    view_of,
)

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

OPTIMAL = "optimal"
"""``--hint optimal``: advice from the exact optimum instead of a model file."""


@dataclass
class PlaySession:
    """One person's game: the env (``rgb_array`` mode), the score and what the screen shows.

    With an ``advisor`` (the env's exact optimum) every move is graded: its regret shows in the HUD
    while hints are on, and the end of each episode sums it up (:meth:`summary`). The hints come from
    the ``agent`` when there is one, else from the advisor when ``optimal_hints`` is set.
    """

    env: gym.Env[Any, Any]
    env_id: str
    seed: int | None = None
    optimum: float | None = None
    agent: Agent | None = None
    advisor: OptimalAdvisor | None = None
    optimal_hints: bool = False
    recorder: EpisodeRecorder | None = None
    show_help: bool = True
    show_hint: bool = False
    show_q: bool = False
    show_values: bool = False
    observation: Any = None
    info: dict[str, Any] = field(default_factory=dict)
    steps: int = 0
    total: float = 0.0
    last_reward: float = 0.0
    episode_over: bool = False
    episodes: int = 0
    returns: list[float] = field(default_factory=list)
    moves: list[scoring.Move] = field(default_factory=list)
    """This episode's moves, graded against Q* (with an advisor)."""
    grades: list[scoring.Grade | None] = field(default_factory=list)
    """One per finished episode, beside :attr:`returns`."""
    ending: str | None = None
    """How this episode ended (a hole, the goal, the time limit), once it has."""
    endings: list[str | None] = field(default_factory=list)
    """One per finished episode, beside :attr:`returns`."""
    field_summaries: list[list[str]] = field(default_factory=list)
    """One per finished episode: its field figures (a portfolio's, a farm's accounts), as lines."""

    def __post_init__(self) -> None:
        self.view = view_of(self.env)
        self.names = list(self.view.action_names)
        self.keymap = key_map(self.env)
        legend = legend_of(self.env)
        self.legend = [] if legend is None else legend.legend(40)
        names = state_names(self.env)
        self.state_label = (lambda s: f"s{s}") if names is None else names.state_label
        self.state_legend = None if names is None else names.state_legend()
        self.kinds = action_kinds(self.env, self.names)
        horizon = self.env.spec.max_episode_steps if self.env.spec is not None else None
        self.fields = FieldSummary(self.env, horizon, exact=self.advisor is not None)
        self.reset()

    def reset(self) -> None:
        """Start a new episode: the given seed first, then seed + 1, + 2, ... (random without a seed;
        a recorded game draws one, so every episode can be replayed)."""
        seed = None if self.seed is None else self.seed + self.episodes
        if seed is None and self.recorder is not None:
            seed = fresh_seed()
        self.observation, self.info = self.env.reset(seed=seed)
        if self.recorder is not None:
            self.recorder.start(seed, self.observation, self.info)
        self.episodes += 1
        self.steps, self.total, self.last_reward, self.episode_over = 0, 0.0, 0.0, False
        self.moves = []
        self.ending = None

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
        elif command.kind is CommandKind.TOGGLE_VALUES:
            self.show_values = not self.show_values
        elif command.kind is CommandKind.ACT and not self.episode_over:
            self.step(int(command.action if command.action is not None else 0))
        return True

    def step(self, action: int) -> None:
        """Grade the move (with an advisor), take it and keep the score."""
        if self.advisor is not None:
            self.moves.append(self.advisor.grade(self.steps, action))
        self.observation, reward, terminated, truncated, self.info = self.env.step(action)
        if self.recorder is not None:
            self.recorder.step(action, self.observation, float(reward), terminated, truncated, self.info)
        self.steps += 1
        self.last_reward = float(reward)
        self.total += self.last_reward
        if terminated or truncated:
            self.episode_over = True
            self.ending = episode_end(self.env, bool(terminated), bool(truncated), self.steps)
            self.returns.append(self.total)
            self.grades.append(self.grade())
            self.endings.append(self.ending)
            self.field_summaries.append(self.fields.lines())

    def grade(self) -> scoring.Grade | None:
        """This episode's moves so far, graded (None without an advisor)."""
        if self.advisor is None:
            return None
        return scoring.Grade(tuple(self.moves), self.advisor.optimum)

    @property
    def total_regret(self) -> float:
        return float(sum(move.regret for move in self.moves))

    def hud(self) -> list[str]:
        """Step, return, last reward, the env's status; with hints on, the last move's regret and the sum."""
        horizon = self.env.spec.max_episode_steps if self.env.spec is not None else None
        lines = hud_lines(self.view, horizon, self.steps, self.total, self.last_reward)
        if self.advisor is not None and self.show_hint and self.moves:
            last = self.moves[-1]
            verdict = "optimal" if last.regret == 0 else f"best {self.names[last.best_action]}"
            lines += [
                f"regret   {last.regret:.3f} ({self.names[last.action]}: {verdict})",
                f"total    {self.total_regret:.3f} over {len(self.moves)} moves",
            ]
        return lines

    def summary(self) -> list[str] | None:
        """The end-of-episode lines: how it ended, the return against the exact optimum, the total regret
        (by kind of decision), the luck and the costliest moves (where the env has an exact model), then
        the episode's field figures; None while the episode goes on."""
        return self.summary_of(len(self.returns) - 1) if self.episode_over else None

    def summary_of(self, episode: int) -> list[str]:
        """:meth:`summary` of finished episode ``episode`` (0 for the first)."""
        lines = summary_lines(
            self.returns[episode],
            self.optimum,
            self.grades[episode],
            self.state_label,
            self.names,
            state_legend=self.state_legend,
            kinds=self.kinds,
            field=self.field_summaries[episode],
        )
        ending = self.endings[episode]
        return lines if ending is None else [ending, *lines]

    def help_lines(self) -> list[str]:
        """The keys of the actions, two a line, then the control keys."""
        pygame = import_pygame()
        by_action: dict[int, list[str]] = {}
        for key, action in self.keymap.items():
            name = pygame.key.name(key)  # 'p', 'up', 'space': letters shown as on the keycaps, P
            by_action.setdefault(action, []).append(name.upper() if len(name) == 1 else name)
        keys = [f"{'/'.join(by_action[a]):>9} {self.names[a]:<8}" for a in sorted(by_action)]
        controls = ["R restart", "Esc quit", "F1 help"]
        if self.agent is not None or self.optimal_hints:
            controls += ["Tab hint", "Q values"]
        if (self.advisor is not None or self.agent is not None) and agent_on_cells(self.env) is not None:
            controls += ["V heat map"]
        lines = ["".join(keys[i : i + 2]).rstrip() for i in range(0, len(keys), 2)]
        return [*lines, "  ".join(controls[:3]), "  ".join(controls[3:])]

    def hint(self) -> Hint | None:
        """The advice here (when hints or Q-values are switched on): the agent's, else the optimum's."""
        if not (self.show_hint or self.show_q) or self.episode_over:
            return None
        if self.agent is not None:
            return agent_hint(
                self.agent, self.observation, self.show_hint, self.show_q, action_mask(self.env)
            )
        if self.advisor is not None and self.optimal_hints:
            hint = self.advisor.hint(self.steps, self.show_hint)
            if hint is not None and not self.show_q:
                return Hint(hint.action, None, True, hint.source, hint.best, hint.caption, hint.idle)
            return hint
        return None

    def cell_values(self) -> tuple[tuple[float, ...], str] | None:
        """The heat map (when switched on): the agent's max-Q, else V*, with the farmer on each cell."""
        if not self.show_values:
            return None
        if self.agent is not None:
            values = agent_cell_values(self.agent, self.env)
            return None if values is None else (values, "agent's max Q, farmer here")
        if self.advisor is not None:
            values = self.advisor.cell_values(self.steps)
            return None if values is None else (values, "V*, farmer here")
        return None


def play(
    env_id: str,
    seed: int | None = None,
    hint_path: str | Path | None = None,
    trust_pickle: bool = False,
    record_dir: str | Path | None = None,
    env_kwargs: dict[str, Any] | None = None,
) -> int:
    """Open a window and let a person play ``env_id``; returns when they quit. Prints each episode.

    ``hint_path`` is a model file, or ``"optimal"`` for the exact optimum's Q-values and regrets.
    ``record_dir`` keeps the episodes as a Minari dataset there. ``env_kwargs`` go to ``gym.make``;
    without them, a hint model's run lends its own (its ``config.yml``), so the advice fits the env."""
    optimal = hint_path is not None and str(hint_path) == OPTIMAL
    if env_kwargs is None and hint_path is not None and not optimal:
        env_kwargs = env_for_model(hint_path, env_id, None, trust_pickle).env_kwargs
    kwargs = dict(env_kwargs or {})
    env = gym.make(env_id, render_mode="rgb_array", **kwargs)
    try:
        recorder = None if record_dir is None else EpisodeRecorder(env, env_id, record_dir)
        agent = None if hint_path is None or optimal else load_agent(hint_path, env, env_id, trust_pickle)
        advisor = OptimalAdvisor.where_solvable(env, env_id, required=optimal)
        session = PlaySession(
            env,
            env_id,
            seed=seed,
            optimum=exact_optimum(env_id, kwargs),
            agent=agent,
            advisor=advisor,
            optimal_hints=optimal,
            recorder=recorder,
            show_hint=hint_path is not None,
            show_q=hint_path is not None,
        )
        screen = Screen(f"qgym play {env_id}")
        try:
            run_loop(session, screen)
        finally:
            screen.close()
    finally:
        env.close()
    for episode in range(len(session.returns)):
        print(f"episode {episode + 1}: " + "\n  ".join(session.summary_of(episode)))
    if recorder is not None and record_dir is not None:
        save_and_report(recorder, record_dir, "human", "a person playing qgym play", session.optimum)
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
        elif event.type in (pygame.VIDEORESIZE, pygame.WINDOWSIZECHANGED):
            screen.resized()
            redraw(session, screen)
        elif event.type in (pygame.WINDOWEXPOSED, pygame.WINDOWRESTORED):
            redraw(session, screen)


def redraw(session: PlaySession, screen: Screen) -> None:
    """Draw the session's current state; the env draws the advice and the heat map on its own frame."""
    hint = session.hint()
    heat = session.cell_values()
    overlay = Overlay(
        action=hint.action if hint is not None and hint.show_action else None,
        cell_values=None if heat is None else heat[0],
        values_title="" if heat is None else heat[1],
        size=screen.pane,
    )
    screen.draw(
        session.view.draw(overlay),
        session.env_id.removeprefix("qgym/"),
        session.hud(),
        session.help_lines() if session.show_help else ["F1: show the keys"],
        hint,
        session.names,
        session.summary(),
        session.legend,
    )


def render_frame(env: gym.Env[Any, Any], size: tuple[int, int] | None = None) -> NDArray[np.uint8]:
    """The env's current frame, as every viewer draws it (at ``size`` when given)."""
    return view_of(env).draw(Overlay(size=size) if size is not None else None)
