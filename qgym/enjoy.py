"""Watch a trained agent play: ``qgym enjoy MODEL [--env ID]``; and loading a model for an env.

A model is a qgym tabular model file (``QLearning.save``), a Stable-Baselines3 DQN zip or an
sb3-contrib QR-DQN zip.
:func:`load_agent` checks that it fits the env and says so in a sentence when it does not.
"""

from __future__ import annotations

import importlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from qgym.envs.rendering import import_pygame

__all__ = ["Agent", "enjoy", "guess_env_id", "load_agent"]

# The SB3 algorithms qgym loads, and the package of each.
_SB3_ALGOS = {"DQN": "stable_baselines3", "QRDQN": "sb3_contrib"}
_TOY_TEXT = ("FrozenLake-v1", "FrozenLake8x8-v1", "Taxi-v4", "CliffWalking-v1")


@dataclass
class Agent:
    """A loaded model behind two questions: what would you do here, and what are your Q-values."""

    model: Any
    name: str
    # The run's env_wrapper (config.yml beside the model) and the env as the model sees it through it:
    # observations of the bare env are encoded as the wrapper's observation layers do.
    env_wrapper: Any = None
    wrapped_env: gym.Env[Any, Any] | None = None

    def encode(self, observation: Any) -> Any:
        """The bare env's ``observation`` as the model sees it."""
        if self.wrapped_env is None:
            return observation
        from qgym.training import encode_observations

        return encode_observations(self.wrapped_env, np.asarray([observation]))[0]

    def act(self, observation: Any) -> int:
        """The greedy (deterministic) action."""
        action, _ = self.model.predict(self.encode(observation), deterministic=True)
        return int(np.asarray(action).reshape(-1)[0])

    def q_values(self, observation: Any) -> NDArray[np.float64] | None:
        """Q-values of every action here, or None for an agent without them (PPO, A2C)."""
        observation = self.encode(observation)
        policy = self.model.policy
        if hasattr(policy, "states") and hasattr(policy, "tables"):
            row = policy.states.index(observation)
            return np.asarray(policy.tables[:, row].mean(axis=0), dtype=np.float64)
        network = getattr(self.model, "q_net", None)
        if network is None:
            network = getattr(self.model, "quantile_net", None)
        if network is not None:
            import torch as th

            tensor, _ = policy.obs_to_tensor(observation)
            with th.no_grad():
                values = network(tensor)
            if values.dim() == 3:  # QR-DQN: (batch, quantiles, actions), Q is the quantiles' mean
                values = values.mean(dim=1)
            return np.asarray(values.cpu().numpy()[0], dtype=np.float64)
        return None

    @property
    def q_table(self) -> NDArray[np.float64] | None:
        """The whole (states, actions) table of a tabular agent, else None."""
        table = getattr(self.model, "q_table", None)
        return None if table is None else np.asarray(table, dtype=np.float64)


def load_agent(path: str | Path, env: gym.Env[Any, Any] | None, env_id: str = "the env") -> Agent:
    """Load the model at ``path`` for ``env``; a ValueError names the problem (missing, not a model,
    spaces that do not match the env)."""
    from qgym import training

    path = _locate(path)
    kind = _model_kind(path)
    spec = training.run_env_wrapper(path)
    wrapped = None
    if spec is not None and env is not None:
        if not training.keeps_states(spec):
            raise ValueError(
                f"the model {path} was trained behind env_wrapper {spec!r} (its config.yml), which changes "
                f"more than observations and rewards; it cannot be replayed on {env_id}"
            )
        wrapped = training.wrap_env(env, spec, own_rewards=True)
    try:
        if kind == "tabular":
            from qgym.agents import TabularAlgorithm

            model = TabularAlgorithm.load(path, env=env if wrapped is None else wrapped)
        else:
            model = getattr(importlib.import_module(_SB3_ALGOS[kind]), kind).load(
                path, env=env if wrapped is None else wrapped, device="cpu"
            )
    except ValueError as error:
        raise ValueError(f"the model {path} does not fit {env_id}: {error}") from error
    return Agent(model, f"{type(model).__name__} ({path.name})", spec, wrapped)


def guess_env_id(path: str | Path) -> str:
    """The env a tabular model was trained on, when its spaces fit exactly one qgym or toy-text ID."""
    path = _locate(path)
    if _model_kind(path) != "tabular":
        raise ValueError(f"cannot tell which env {path} was trained on: pass --env ID")
    from qgym.agents.persistence import read_model_file
    from qgym.envs import qgym_env_ids

    record = read_model_file(path)
    observations, actions = record.observation_space, record.action_space
    matches = []
    for env_id in [*qgym_env_ids(), *_TOY_TEXT]:
        env = gym.make(env_id)
        if env.observation_space == observations and env.action_space == actions:
            matches.append(env_id)
        env.close()
    if len(matches) != 1:
        found = f"it fits {', '.join(matches)}" if matches else "no registered env has its spaces"
        raise ValueError(f"cannot tell which env {path} was trained on ({found}): pass --env ID")
    return matches[0]


def enjoy(
    model_path: str | Path,
    env_id: str | None = None,
    episodes: int = 1,
    fps: float = 4.0,
    seed: int | None = 0,
    idle_timeout: float | None = None,
) -> list[float]:
    """Watch the agent for ``episodes`` episodes at ``fps`` steps a second; returns the episode returns.

    Keys: space pauses, + and - change the speed, Esc or closing the window stops.
    """
    from qgym.play import (
        Hint,
        Screen,
        action_names,
        episode_summary,
        exact_optimum,
        farm_cell_of,
        hud_lines,
        render_frame,
    )

    if env_id is None:
        env_id = guess_env_id(model_path)
    if fps <= 0:
        raise ValueError(f"fps must be a positive number of steps a second, got {fps}")
    env = gym.make(env_id, render_mode="rgb_array")
    returns: list[float] = []
    try:
        agent = load_agent(model_path, env, env_id)
        optimum = exact_optimum(env_id)
        names = action_names(env)
        observation, info = env.reset(seed=seed)
        frame = render_frame(env)
        screen = Screen((frame.shape[1], frame.shape[0]), f"qgym enjoy {agent.name} on {env_id}")
        pygame = import_pygame()
        clock = pygame.time.Clock()
        try:
            steps, total, last, paused, banner = 0, 0.0, 0.0, False, None
            while len(returns) < episodes:
                q = agent.q_values(observation)
                hint = Hint(agent.act(observation), q)
                hud = [
                    f"episode  {len(returns) + 1} / {episodes}",
                    *hud_lines(env, info, steps, total, last),
                    f"speed    {fps:g} steps/s",
                ]
                screen.draw(
                    render_frame(env), agent.name, hud, _ENJOY_KEYS, hint, names, banner, farm_cell_of(env)
                )
                stop, paused, fps = _read_keys(pygame, paused, fps)
                if stop:
                    break
                clock.tick(fps)
                if paused:
                    continue
                if banner is not None:
                    banner = None
                    observation, info = env.reset(seed=None if seed is None else seed + len(returns))
                    steps, total, last = 0, 0.0, 0.0
                    continue
                observation, reward, terminated, truncated, info = env.step(hint.action)
                steps, last = steps + 1, float(reward)
                total += last
                if terminated or truncated:
                    returns.append(total)
                    banner = episode_summary(total, optimum, person=False)
                    print(f"episode {len(returns)}: {banner}")
            if idle_timeout is not None and len(returns) == episodes:
                pygame.time.wait(int(1000 * idle_timeout))
        finally:
            screen.close()
    finally:
        env.close()
    return returns


_ENJOY_KEYS = ["space  pause", "+ / -  faster / slower", "Esc    stop"]


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


def _locate(path: str | Path) -> Path:
    """The model file at ``path`` (``.zip`` added when missing, as SB3 saves it)."""
    path = Path(path)
    if path.is_file():
        return path
    if path.suffix == "" and path.with_suffix(".zip").is_file():
        return path.with_suffix(".zip")
    raise ValueError(f"no model file at {path}")


def _model_kind(path: Path) -> str:
    """``"tabular"`` for a qgym model file, else the SB3 algorithm that saved the zip."""
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a model file (not a zip archive)")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if "qgym-model.json" in names:
            return "tabular"
        if "data" not in names:
            raise ValueError(f"{path} is neither a qgym tabular model nor a Stable-Baselines3 model")
        data = json.loads(archive.read("data"))
    module = str(data.get("policy_class", {}).get("__module__", ""))
    for algo in _SB3_ALGOS:
        if f".{algo.lower()}." in module + ".":
            return algo
    raise ValueError(
        f"{path} was saved by a Stable-Baselines3 algorithm qgym cannot show ({module or 'unknown'}); "
        f"it shows {', '.join(_SB3_ALGOS)} and the tabular agents"
    )
