"""A trained model behind the two questions viewers ask: what would you do here, and why (Q-values)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from qgym.training.envs import encode_observations
from qgym.training.models import load_model

__all__ = ["Agent", "load_agent"]


@dataclass
class Agent:
    """A loaded model that answers for observations of the bare env."""

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
        return encode_observations(self.wrapped_env, np.asarray([observation]))[0]

    def act(self, observation: Any, step: int = 0) -> int:
        """The greedy (deterministic) action (a :data:`qgym.envs.interface.Policy`)."""
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


def load_agent(
    path: str | Path, env: gym.Env[Any, Any] | None, env_id: str = "the env", trust_pickle: bool = False
) -> Agent:
    """Load the model at ``path`` for ``env`` (see :func:`qgym.training.models.load_model`)."""
    loaded = load_model(path, env, env_id, trust_pickle)
    name = f"{type(loaded.model).__name__} ({loaded.path.name})"
    return Agent(loaded.model, name, loaded.env_wrapper, loaded.wrapped_env)
