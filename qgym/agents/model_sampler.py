"""The envs of the lockstep learners: a tabular model sampled, one uniform an outcome."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qgym.planning import TabularModel
from qgym.sampling import OutcomeDraws, outcome_thresholds

__all__ = ["ModelSampler"]

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]


class ModelSampler:
    """Draws outcomes of a :class:`TabularModel` from uniforms: next states, rewards, terminations."""

    def __init__(self, model: TabularModel) -> None:
        self._n_actions = model.n_actions
        self._draws = OutcomeDraws(model.probs.reshape(model.n_states * model.n_actions, -1))
        self._next_states = model.next_states.reshape(-1)
        self._rewards = model.rewards.reshape(-1)
        self._terminated = model.terminated.reshape(-1)
        self._start = outcome_thresholds(model.initial_distribution)

    def step(self, states: Ints, actions: Ints, draws: Floats) -> tuple[Ints, Floats, NDArray[np.bool_]]:
        """The outcome of each (state, action), drawn with its uniform."""
        cells = self._draws.cells(states * self._n_actions + actions, draws)
        return self._next_states.take(cells), self._rewards.take(cells), self._terminated.take(cells)

    def start(self, draws: Floats) -> Ints:
        """Start states drawn from the initial distribution."""
        return np.asarray(np.searchsorted(self._start, draws, side="right"), dtype=np.int64)
