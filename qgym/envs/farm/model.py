"""The grid farm's exact transition model, factored so that planning stays exact on large fields.

State index: ``ravel_multi_index((crop_0, ..., crop_{n-1}, cell), (7, ..., 7, rows * cols))``.
Given the weather, plots evolve independently, so the expected next value is the value table
contracted with the per-plot matrix along each plot's axis: ``n_plots`` small matrix products instead
of a dense ``S x S`` matrix. That keeps value iteration exact for 2x3 fields (705,894 states).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
from numpy.typing import NDArray

from qgym.envs.farm.rules import (
    N_ACTIONS,
    N_CROPS,
    Crop,
    FarmConfig,
    act,
    decode_states,
    nature_matrices,
    state_indices,
)

__all__ = ["MAX_MODEL_PLOTS", "FarmModel", "model_for", "toy_text_for"]

#: Above this many states the model still answers ``outcomes`` but refuses whole-table planning.
MAX_PLANNING_STATES = 20_000_000
#: The exact model (and so planning) is offered for fields of at most this many plots (2x3).
MAX_MODEL_PLOTS = 6
#: The toy-text dict ``P`` enumerates every state: offered up to this many (fields up to 2x2).
MAX_TOY_TEXT_STATES = 100_000


class FarmModel:
    """Exact model of a :class:`FarmConfig` farm (implements :class:`qgym.planning.TransitionModel`)."""

    def __init__(self, config: FarmConfig) -> None:
        self.config = config
        self.shape = (N_CROPS,) * config.n_plots + (config.n_plots,)
        self._dry, self._rain = nature_matrices(config)

    @property
    def n_states(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def n_actions(self) -> int:
        return N_ACTIONS

    @functools.cached_property
    def initial_distribution(self) -> NDArray[np.float64]:
        """An empty field with the agent on a uniformly random cell."""
        self._check_plannable()
        distribution = np.zeros(self.n_states)
        empty = (Crop.EMPTY,) * self.config.n_plots
        for cell in range(self.config.n_plots):
            distribution[self.encode(np.array(empty), cell)] = 1.0 / self.config.n_plots
        return distribution

    def encode(self, crops: NDArray[np.integer], cell: int) -> int:
        """State index of ``crops`` with the agent on ``cell``."""
        farm = np.asarray(crops, dtype=np.int8)[None]
        return int(state_indices(farm, np.array([int(cell)], dtype=np.int64), self.config)[0])

    def decode(self, state: int) -> tuple[NDArray[np.int8], int]:
        """Crops and cell of a state index."""
        crops, cells = decode_states(state, self.config)
        return crops[0], int(cells[0])

    def backup(self, values: NDArray[np.float64], gamma: float) -> NDArray[np.float64]:
        """``Q[s, a] = r(s, a) + gamma * E[values[s'] | s, a]`` for every state and action."""
        after_action, rewards = self._after_action
        return rewards + gamma * self.expected_after_nature(values)[after_action]

    def expected_after_nature(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """``E[values[s']]`` for every state ``s`` as it stands after the agent's action, before nature."""
        p_rain = self.config.p_rain
        table = values.reshape(self.shape)
        result = np.zeros_like(table)
        for matrix, weight in ((self._dry, 1.0 - p_rain), (self._rain, p_rain)):
            if weight > 0:
                result += weight * self._contract_plots(table, matrix)
        return result.reshape(-1)

    def outcomes(self, state: int, action: int) -> list[tuple[float, int, float, bool]]:
        """Toy-text row ``P[state][action]``: every ``(prob, next_state, reward, terminated)``."""
        crops, cell = self.decode(state)
        new_crops, new_cells, rewards = act(
            crops[None], np.array([cell]), np.array([action], dtype=np.int64), self.config
        )
        reward = float(rewards[0])
        next_cell = int(new_cells[0])
        probabilities: dict[int, float] = {}
        for matrix, weight in ((self._dry, 1.0 - self.config.p_rain), (self._rain, self.config.p_rain)):
            if weight == 0:
                continue
            rows = [[(int(c), p) for c, p in enumerate(matrix[crop]) if p > 0] for crop in new_crops[0]]
            for combination in itertools.product(*rows):
                probability = weight * float(np.prod([p for _, p in combination]))
                next_state = self.encode(np.array([c for c, _ in combination]), next_cell)
                probabilities[next_state] = probabilities.get(next_state, 0.0) + probability
        return [(p, s, reward, False) for s, p in sorted(probabilities.items())]

    def transitions(self) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:
        """The whole toy-text dict ``P`` (small fields only: it enumerates every state)."""
        if self.n_states > MAX_TOY_TEXT_STATES:
            raise ValueError(
                f"this farm has {self.n_states} states, too many for a toy-text dict; "
                "plan with qgym.planning on transition_model() instead"
            )
        return {s: {a: self.outcomes(s, a) for a in range(N_ACTIONS)} for s in range(self.n_states)}

    def after_action(self) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """For every (state, action), (S, A): the state after the agent's action (before the weather),
        and the action's reward (read-only arrays, shared)."""
        return self._after_action

    @property
    def reward_table(self) -> NDArray[np.float64]:
        """The reward of every (state, action), (S, A): the farm's rewards depend on nothing else, which
        :func:`qgym.expectations.return_moments` needs to know."""
        return self._after_action[1]

    @functools.cached_property
    def _after_action(self) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """For every (state, action): the index after the agent's action, and its reward."""
        self._check_plannable()
        crops, cells = decode_states(np.arange(self.n_states), self.config)
        after = np.empty((self.n_states, N_ACTIONS), dtype=np.int64)
        rewards = np.empty((self.n_states, N_ACTIONS))
        for action in range(N_ACTIONS):
            actions = np.full(self.n_states, action, dtype=np.int64)
            new_crops, new_cells, rewards[:, action] = act(crops, cells, actions, self.config)
            after[:, action] = state_indices(new_crops, new_cells, self.config)
        after.flags.writeable = False
        rewards.flags.writeable = False
        return after, rewards

    def _contract_plots(self, table: NDArray[np.float64], matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        """Apply ``matrix`` along every plot axis: ``out[..c..] = sum_c' matrix[c, c'] table[..c'..]``."""
        n_plots = self.config.n_plots
        for plot in range(n_plots):
            before = N_CROPS**plot
            after = N_CROPS ** (n_plots - 1 - plot) * n_plots
            table = np.matmul(matrix, table.reshape(before, N_CROPS, after))
        return table.reshape(self.shape)

    def _check_plannable(self) -> None:
        if self.n_states > MAX_PLANNING_STATES:
            raise ValueError(
                f"this farm has {self.n_states:,} states: whole-table planning is limited to "
                f"{MAX_PLANNING_STATES:,} (fields up to 2x3); outcomes(state, action) still works"
            )


@functools.lru_cache(maxsize=16)
def model_for(config: FarmConfig) -> FarmModel:
    """The exact model of a farm of at most :data:`MAX_MODEL_PLOTS` plots (one per config, cached)."""
    if config.n_plots > MAX_MODEL_PLOTS:
        raise ValueError(
            f"a {config.rows}x{config.cols} field has no exact model: the model is offered "
            f"for fields of at most {MAX_MODEL_PLOTS} plots (e.g. 2x3)"
        )
    return FarmModel(config)


@functools.lru_cache(maxsize=4)
def toy_text_for(config: FarmConfig) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:
    """The toy-text dict ``P`` of a small farm (cached)."""
    return model_for(config).transitions()
