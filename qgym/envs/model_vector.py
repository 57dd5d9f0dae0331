"""N copies of any env with an exact model, stepped in numpy by sampling the model.

Gymnasium's toy-text envs (FrozenLake, Taxi, CliffWalking), a user's env with their ``P`` and
``initial_state_distrib``, and the qgym rungs whose observation is their model's state index all carry
their exact dynamics as a table. :class:`ModelVectorEnv` steps N copies of such an env with that table
alone: one uniform number per sub-env and step, compared with the cumulative outcome probabilities
of its ``(state, action)``, exactly as the toy-text env's ``categorical_sample`` draws. A vector of one
seeded as the single env gives the very same episodes.

>>> from qgym.envs.model_vector import make_model_vec
>>> envs = make_model_vec("FrozenLake8x8-v1", num_envs=1024)
>>> obs, info = envs.reset(seed=0)
>>> obs.shape, info
((1024,), {})

Time limit (the spec's ``max_episode_steps``, or the argument: an env without one, such as
CliffWalking, gets a warning), NEXT_STEP autoreset, seeding and ``reset_mask`` come from
:class:`~qgym.envs.native_vector.NativeVectorEnv`, so :class:`qgym.vec_adapter.SB3VecEnv` takes it as it
is. ``info`` is an empty dict (the toy-text ``prob`` is the model's, not the agent's business:
``envs.model`` holds it). The model is checked once when the env is built (:mod:`qgym.envs.model_tables`).
With ``render_mode="rgb_array"``, ``render()`` gives one frame per sub-env, each drawn by a copy of the
single env put in that sub-env's state (toy text's ``s`` and ``lastaction``), as the single env draws it.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from numpy.typing import NDArray

from qgym.envs.model_tables import check_model_arrays, read_toy_text_model
from qgym.envs.native_vector import BoolArray, FloatArray, IntArray, NativeVectorEnv, Selection
from qgym.planning import TabularModel, current_state
from qgym.sampling import OutcomeDraws, outcome_thresholds
from qgym.validation import brief, check_memory, is_int

__all__ = [
    "BYTES_PER_SUB_ENV",
    "MAX_ENUMERATED_PAIRS",
    "MAX_TABLE_ENTRIES",
    "ModelVectorEnv",
    "make_model_vec",
    "tabular_model",
]

MAX_TABLE_ENTRIES = 16_000_000
"""Largest model table (states x actions x outcomes): each entry costs 33 bytes (the model's next
state, probability, reward and end flag, and the cumulative probability), so about 530 MB at most."""
MAX_ENUMERATED_PAIRS = 20_000
"""Largest factored model (e.g. the grid farm's) that is enumerated into a table, in state-action
pairs: enumerating the 2x2 farm's 76,832 pairs takes about 90 s and 850 MB."""
BYTES_PER_SUB_ENV = 320
"""Memory a sub-env takes with a step's temporaries, for the estimate that refuses a ``num_envs`` past
:func:`qgym.validation.memory_limit` before allocating: tracemalloc's peak at N=10^6 was 99 bytes a
sub-env alone and 289 through :class:`qgym.vec_adapter.SB3VecEnv` (its lists of per-env seeds and infos)."""


def make_model_vec(
    env_id: str, num_envs: int = 1, max_episode_steps: int | None = None, **kwargs: Any
) -> ModelVectorEnv:
    """``num_envs`` copies of the Gymnasium ID ``env_id`` (made with ``kwargs``) stepped by its model;
    ``max_episode_steps`` truncates episodes (default: the spec's limit)."""
    if not isinstance(env_id, str):
        raise ValueError(f"env_id must be a Gymnasium ID such as 'FrozenLake8x8-v1', got {env_id!r}")
    return ModelVectorEnv(env_id, num_envs, max_episode_steps=max_episode_steps, **kwargs)


class ModelVectorEnv(NativeVectorEnv):
    """N copies of an env with an exact tabular model, stepped by sampling that model.

    :param env: a Gymnasium ID (made with ``kwargs``) or an env; its observation must be the model's
        state index (``Discrete(n_states)``).
    :param num_envs: how many sub-envs, a positive integer.
    :param max_episode_steps: truncate episodes after this many steps; None takes the env's spec
        (``gym.make``'s rule), and no limit without one (with a warning: an episode that never ends
        never returns from SB3's ``evaluate_policy``).
    :param render_mode: None, or ``"rgb_array"`` for one frame per sub-env (envs that keep their state
        in toy text's ``s``).

    The env is reset once (seed 0) to check that its observation is its state index, and closed
    with the vector env. ``model`` is the :class:`~qgym.planning.TabularModel` sampled.
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        env: str | gym.Env[Any, Any],
        num_envs: int = 1,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        if not is_int(num_envs) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(
                f"render_mode must be None or 'rgb_array' (a frame per sub-env), got {brief(render_mode)}"
            )
        check_memory(f"a model-driven vector env of num_envs={num_envs:,}", num_envs * BYTES_PER_SUB_ENV)
        single = _single_env(env, kwargs, render_mode)
        model = tabular_model(single)
        _check_observations(single, model)
        spec = single.spec
        if max_episode_steps is None and spec is not None:
            max_episode_steps = spec.max_episode_steps
        if max_episode_steps is None:
            warnings.warn(
                f"{_env_name(single)} has no time limit (its spec sets no max_episode_steps): an episode "
                "of a policy that never reaches the end runs forever, and SB3's evaluate_policy with it; "
                "pass max_episode_steps=N to truncate episodes after N steps",
                UserWarning,
                stacklevel=2,
            )
        super().__init__(single, num_envs, max_episode_steps, render_mode)
        self.metadata = {**self.metadata, "render_fps": single.metadata.get("render_fps", 4)}
        self.spec = _vector_spec(spec, self.num_envs, self.max_episode_steps)
        self.model = model
        n_states, n_actions, width = model.probs.shape
        # Row r = state * n_actions + action; outcome k of row r sits at r * width + k.
        self._draws = OutcomeDraws(model.probs.reshape(n_states * n_actions, width))
        self._next = model.next_states.reshape(-1)
        self._rewards = model.rewards.reshape(-1)
        self._ends = model.terminated.reshape(-1)
        self._start = outcome_thresholds(model.initial_distribution)
        self._states = np.zeros(self.num_envs, dtype=np.int64)
        self._terminal = np.zeros(self.num_envs, dtype=np.bool_)
        self._frames = _SubEnvFrames(single, self.num_envs) if render_mode is not None else None

    # --- state access, for tests and planners ----------------------------------------------------

    @property
    def state_indices(self) -> IntArray:
        """A copy of every sub-env's state index in :attr:`model`."""
        return self._states.copy()

    def set_state_indices(self, indices: int | list[int] | NDArray[np.integer[Any]]) -> None:
        """Put the sub-envs in the given model states (broadcast to (N,)); their episodes go on (a
        pending autoreset is cancelled)."""
        states = np.broadcast_to(np.asarray(indices), (self.num_envs,))
        if states.dtype.kind not in "iu" or states.min() < 0 or states.max() >= self.model.n_states:
            raise ValueError(
                f"indices must be state indices in [0, {self.model.n_states - 1}], got {brief(indices)}"
            )
        self._states[:] = states
        self._terminal[:] = False
        self._prev_done[:] = False

    def action_masks(self) -> NDArray[np.int8]:
        """Every action is allowed in every sub-env: ones, shape (N, actions)."""
        return np.ones((self.num_envs, self._n_actions), dtype=np.int8)

    # --- the NativeVectorEnv hooks ---------------------------------------------------------------

    def _reset_envs(self, selection: Selection, count: int) -> None:
        self._states[selection] = np.searchsorted(self._start, self.np_random.random(count), side="right")
        self._terminal[selection] = False
        if self._frames is not None:
            self._frames.restart(selection)

    def _advance(self, actions: IntArray, selection: Selection, count: int) -> FloatArray:
        rows = _gather(self._states, selection) * self._n_actions + _gather(actions, selection)
        outcomes = self._draws.cells(rows, self.np_random.random(count))
        self._states[selection] = self._next.take(outcomes)
        self._terminal[selection] = self._ends.take(outcomes)
        rewards: FloatArray = self._rewards.take(outcomes)
        if self._frames is not None:
            self._frames.acted(selection, _gather(actions, selection))
        return rewards

    def _frame(self, index: int) -> NDArray[np.uint8]:
        assert self._frames is not None
        return self._frames.draw(index, int(self._states[index]))

    def _observations(self) -> IntArray:
        return self._states.copy()

    def _infos(self) -> dict[str, Any]:
        return {}

    def _terminations(self) -> BoolArray:
        return self._terminal.copy()


def tabular_model(env: gym.Env[Any, Any]) -> TabularModel:
    """The exact model of ``env`` as a :class:`~qgym.planning.TabularModel`, or a ValueError saying what
    is missing or too large: a ``transition_model()`` that is tabular, or toy-text ``P`` and
    ``initial_state_distrib`` (which is how a factored model small enough is enumerated)."""
    base = env.unwrapped
    name = _env_name(env)
    if getattr(base, "fickle_passenger", False):
        raise ValueError(
            f"{name} has fickle_passenger=True, whose change of destination is not in P; "
            "a model-driven env needs fickle_passenger=False"
        )
    method = getattr(base, "transition_model", None)
    if callable(method):
        try:
            model = method()
        except ValueError as error:
            raise ValueError(f"{name}: {error}") from None
        if isinstance(model, TabularModel):
            _check_size(name, model.probs.size)
            check_model_arrays(name, model)
            return model
        pairs = int(model.n_states) * int(model.n_actions)
        if pairs > MAX_ENUMERATED_PAIRS:
            raise ValueError(
                f"{name} has a factored model of {model.n_states:,} states x {model.n_actions} actions; "
                f"a model-driven env enumerates one into a table only up to {MAX_ENUMERATED_PAIRS:,} "
                "state-action pairs (a larger one takes minutes and gigabytes): use the env's own "
                "vector env, gym.make_vec(...)"
            )
    transitions = getattr(base, "P", None)
    start = getattr(base, "initial_state_distrib", None)
    if transitions is None or start is None:
        raise ValueError(
            f"{name} has no exact model: a model-driven env needs the toy-text attributes P and "
            "initial_state_distrib, or a transition_model() method returning a qgym.planning.TabularModel"
        )
    return read_toy_text_model(name, transitions, start, MAX_TABLE_ENTRIES)


def _env_name(env: gym.Env[Any, Any]) -> str:
    """How an error names ``env``: its registered ID, else its class."""
    spec = getattr(env, "spec", None)
    return f"env {spec.id}" if spec is not None else f"env {type(env.unwrapped).__name__}"


# --- helpers ---------------------------------------------------------------------------------------


def _gather(array: IntArray, selection: Selection) -> IntArray:
    """``array[selection]``; ``take`` is several times faster than fancy indexing on a few thousand."""
    if isinstance(selection, slice):
        return array[selection]
    gathered: IntArray = array.take(selection)
    return gathered


def _single_env(env: Any, kwargs: dict[str, Any], render_mode: str | None) -> gym.Env[Any, Any]:
    if isinstance(env, str):
        drawn: dict[str, Any] = {} if render_mode is None else {"render_mode": render_mode}
        made: gym.Env[Any, Any] = gym.make(env, **kwargs, **drawn)
        return made
    if isinstance(env, gym.Env):
        if kwargs:
            raise ValueError(
                f"env arguments {sorted(kwargs)} go with an env ID; pass them to gym.make instead"
            )
        if render_mode is not None and env.render_mode != render_mode:
            raise ValueError(
                f"render_mode={render_mode!r} needs an env made with render_mode={render_mode!r}, "
                f"this one has {env.render_mode!r}"
            )
        return env
    raise ValueError(f"env must be a Gymnasium ID or a gymnasium.Env, got {type(env).__name__}")


def _vector_spec(spec: Any, num_envs: int, max_episode_steps: int | None) -> Any:
    """The single env's spec for the vector env, as ``gym.make_vec`` records it (None without one)."""
    if spec is None:
        return None
    vector_spec = copy.deepcopy(spec)
    vector_spec.kwargs = {**spec.kwargs, "num_envs": num_envs}
    vector_spec.max_episode_steps = max_episode_steps
    return vector_spec


class _SubEnvFrames:
    """Draws each sub-env as the single env draws itself: a shallow copy of the single env per sub-env,
    put in its state (``s``) after its last action (``lastaction``), fresh from a reset copy at each
    of its resets (so what a toy-text env keeps between frames, like Taxi's heading, is its own)."""

    def __init__(self, single: gym.Env[Any, Any], num_envs: int) -> None:
        base = single.unwrapped
        if not hasattr(base, "s"):
            raise ValueError(
                f"{_env_name(single)} keeps no state index in s (toy text's attribute): a model-driven env "
                "draws a sub-env by putting a copy of the env in its state; use render_mode=None"
            )
        single.render()  # the first frame loads the images and the surface every copy then shares
        self._fresh = base
        self._copies: list[Any] = [None] * num_envs
        self._last = np.full(num_envs, -1, dtype=np.int64)

    def restart(self, selection: Selection) -> None:
        self._last[selection] = -1
        for index in np.arange(len(self._copies))[selection].tolist():
            self._copies[index] = None

    def acted(self, selection: Selection, actions: IntArray) -> None:
        self._last[selection] = actions

    def draw(self, index: int, state: int) -> NDArray[np.uint8]:
        env = self._copies[index]
        if env is None:
            env = self._copies[index] = copy.copy(self._fresh)
        env.s = state
        if hasattr(env, "lastaction"):
            env.lastaction = None if self._last[index] < 0 else int(self._last[index])
        frame: NDArray[np.uint8] = np.asarray(env.render(), dtype=np.uint8)
        return frame


def _check_observations(env: gym.Env[Any, Any], model: TabularModel) -> None:
    """The observation must be the model's state index: a Discrete space of its size, and the index of
    the state a seeded reset reaches (where the env says which state it is in)."""
    name = _env_name(env)
    need = f"observations that are its model's state index, Discrete({model.n_states})"
    observation_space = env.observation_space
    if not (
        isinstance(observation_space, spaces.Discrete)
        and observation_space.start == 0
        and observation_space.n == model.n_states
    ):
        hint = ""
        if name.startswith("env qgym/"):
            hint = " (the farm's obs_mode='index', the chain's observation='index')"
        raise ValueError(f"{name} observes {observation_space}: a model-driven env needs {need}{hint}")
    action_space = env.action_space
    if not (
        isinstance(action_space, spaces.Discrete)
        and action_space.start == 0
        and action_space.n == model.n_actions
    ):
        raise ValueError(f"{name} acts in {action_space}: its model has Discrete({model.n_actions}) actions")
    observation, _ = env.reset(seed=0)
    try:
        state = current_state(env)
    except ValueError:
        return  # the env does not say which state it is in: the space is all there is to check
    if int(observation) != state:
        raise ValueError(
            f"{name} observed {observation} in its model's state {state}: a model-driven env needs {need}"
        )


def _check_size(name: str, entries: int) -> None:
    if entries > MAX_TABLE_ENTRIES:
        raise ValueError(
            f"{name}'s model has {entries:,} entries (states x actions x outcomes): a model-driven env "
            f"holds at most {MAX_TABLE_ENTRIES:,} (about {MAX_TABLE_ENTRIES * 33 // 10**6} MB)"
        )
