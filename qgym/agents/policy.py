"""The Q-table as a Stable-Baselines3 policy: a frozen ``nn.Parameter`` trained through a numpy view."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from numpy.typing import NDArray
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import PyTorchObs

from qgym.agents.spaces import ActionIndexer, StateIndexer, check_table_size

__all__ = ["TabularPolicy"]


class TabularPolicy(BasePolicy):
    """Greedy policy over one or more Q-tables of shape (n_states, n_actions).

    ``q_values`` has shape (n_tables, n_states, n_actions) (two tables for Double Q-learning; the
    policy acts on their mean). ``visit_counts`` counts the updates of each entry. Both live in
    torch storage, so SB3's ``get_parameters``/``set_parameters`` work, and are trained in place
    through the numpy views :attr:`tables` and :attr:`visits`.

    :param initial_q_value: value every entry starts from (optimistic when above the returns).
    :param n_tables: number of Q-tables (set by the algorithm).
    """

    q_values: th.nn.Parameter
    visit_counts: th.Tensor

    def __init__(
        self,
        observation_space: spaces.Space[Any],
        action_space: spaces.Space[Any],
        initial_q_value: float = 0.0,
        n_tables: int = 1,
    ) -> None:
        super().__init__(observation_space, action_space)
        if not np.isfinite(initial_q_value):
            raise ValueError(f"initial_q_value must be a finite number, got {initial_q_value}")
        if n_tables not in (1, 2):
            raise ValueError(f"n_tables must be 1 or 2, got {n_tables}")
        self.states = StateIndexer(observation_space)
        self.actions = ActionIndexer(action_space)
        check_table_size(n_tables, self.states.n_states, self.actions.n_actions)
        self.initial_q_value = float(initial_q_value)
        self.n_tables = n_tables
        shape = (n_tables, self.states.n_states, self.actions.n_actions)
        table = th.full(shape, self.initial_q_value, dtype=th.float64)
        self.q_values = th.nn.Parameter(table, requires_grad=False)
        self.register_buffer("visit_counts", th.zeros(shape, dtype=th.int64))

    @property
    def tables(self) -> NDArray[np.float64]:
        """Numpy view sharing memory with ``q_values`` (in-place updates train the policy)."""
        return self.q_values.data.numpy()

    @property
    def visits(self) -> NDArray[np.int64]:
        """Numpy view sharing memory with ``visit_counts``."""
        return self.visit_counts.numpy()

    def greedy_actions(self, rows: NDArray[np.int64]) -> NDArray[np.int64]:
        """Greedy action per row, ties to the lowest action (as ``qgym.planning.greedy_policy``)."""
        values = self.tables[:, rows, :].sum(axis=0)
        return np.asarray(values.argmax(axis=1), dtype=np.int64) + self.actions.start

    def predict(
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """Greedy actions for one observation or a batch (the algorithm's ``predict`` adds exploration)."""
        if isinstance(observation, dict):
            raise ValueError("TabularPolicy takes Discrete or MultiDiscrete observations, not a dict")
        batch = self.states.is_batch(observation)
        actions = self.greedy_actions(self.states.indices(observation))
        return (actions if batch else actions.reshape(())), state

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        """SB3's tensor entry point; :meth:`predict` is the fast numpy one."""
        assert isinstance(observation, th.Tensor)
        rows = th.as_tensor(self.states.indices(observation.cpu().numpy()))
        return th.as_tensor(self.greedy_actions(rows.numpy()))

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {
            "observation_space": self.observation_space,
            "action_space": self.action_space,
            "initial_q_value": self.initial_q_value,
            "n_tables": self.n_tables,
        }
