"""What the native numpy vector envs share: time limit, NEXT_STEP autoreset, seeding, action checks.

``gym.make_vec(ID, num_envs=N)`` builds a family's native vector env (the registry's
``vector_entry_point``). Each runs its family's pure rules over arrays of N states. The base here keeps
the time limit and resets finished sub-envs on the *next* step (``AutoresetMode.NEXT_STEP``, as
Gymnasium's ``CartPoleVectorEnv``): that step ignores their action and returns their first observation
with reward 0.

One generator, seeded by ``reset(seed=...)``, drives all sub-envs. With ``num_envs=1`` a family's
vector env draws the same numbers in the same order as its single env, so a seed gives the very same
episodes. ``reset(options={"reset_mask": mask})`` resets only the marked sub-envs (what
:class:`qgym.vec_adapter.SB3VecEnv` uses for same-step autoreset). With ``render_mode="rgb_array"``,
``render()`` returns one frame per sub-env, each as the single env draws itself (what Gymnasium's
``wrappers.vector.RecordVideo`` and ``HumanRendering`` expect; ``metadata["render_fps"]`` is the single
env's).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from numpy.typing import NDArray

from qgym.validation import brief, is_int

__all__ = [
    "ALL",
    "BoolArray",
    "FloatArray",
    "IntArray",
    "NativeVectorEnv",
    "Selection",
    "indices_of",
]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
# Which sub-envs an operation touches: all of them (a slice, so no copies) or an index array.
Selection = slice | NDArray[np.intp]
ALL = slice(None)


class NativeVectorEnv(VectorEnv[Any, Any, Any]):
    """Time limit, NEXT_STEP autoreset, seeding and action checks shared by the native vector envs.

    A subclass supplies :meth:`_reset_envs` (fresh episodes for the selected sub-envs),
    :meth:`_advance` (one step of the rules for them, returning their rewards), :meth:`_observations`
    and :meth:`_infos`, and :meth:`_terminations` if its episodes can end.
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        single_env: Any,
        num_envs: int,
        max_episode_steps: int | None,
        render_mode: str | None,
        episode_limit: int | None = None,
    ) -> None:
        if not is_int(num_envs) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        if max_episode_steps is not None and (not is_int(max_episode_steps) or max_episode_steps < 1):
            raise ValueError(
                f"max_episode_steps must be a positive integer or None, got {max_episode_steps!r}"
            )
        if render_mode not in (None, "rgb_array"):
            raise ValueError(
                f"render_mode must be None or 'rgb_array' (a frame per sub-env), got {brief(render_mode)}; "
                "for a window, wrap the vector env in gymnasium.wrappers.vector.HumanRendering"
            )
        self.num_envs = int(num_envs)
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": single_env.metadata.get("render_fps", 4)}
        limits = [limit for limit in (max_episode_steps, episode_limit) if limit is not None]
        self.max_episode_steps: int | None = min(limits) if limits else None
        self.single_env = single_env
        self.single_action_space = single_env.action_space
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.single_observation_space = single_env.observation_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self._n_actions = int(single_env.action_space.n)
        self._elapsed = np.zeros(self.num_envs, dtype=np.int64)
        self._prev_done = np.zeros(self.num_envs, dtype=np.bool_)
        self._started = False

    # --- the Gymnasium VectorEnv API -------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset every sub-env, or only those marked by ``options["reset_mask"]`` (a bool array)."""
        super().reset(seed=seed)
        mask = _reset_mask(options, self.num_envs)
        if mask is None or not self._started:
            selection: Selection = ALL
            count = self.num_envs
        else:
            selection = np.flatnonzero(mask)
            count = len(selection)
        self._reset_envs(selection, count)
        self._elapsed[selection] = 0
        self._prev_done[selection] = False
        self._started = True
        return self._observations(), self._infos()

    def step(self, actions: Any) -> tuple[Any, FloatArray, BoolArray, BoolArray, dict[str, Any]]:
        """One step of every sub-env; those that finished last step are reset instead (NEXT_STEP)."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        actions = self._check_actions(actions)
        resetting = self._prev_done
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        if resetting.any():
            restart = np.flatnonzero(resetting)
            moving = np.flatnonzero(~resetting)
            self._reset_envs(restart, len(restart))
            self._elapsed[restart] = 0
            if len(moving):
                rewards[moving] = self._advance(actions, moving, len(moving))
                self._elapsed[moving] += 1
        else:
            rewards[:] = self._advance(actions, ALL, self.num_envs)
            self._elapsed += 1
        terminated = self._terminations()
        if self.max_episode_steps is None:
            truncated = np.zeros(self.num_envs, dtype=np.bool_)
        else:
            truncated = (self._elapsed >= self.max_episode_steps) & ~resetting
        self._prev_done = terminated | truncated
        return self._observations(), rewards, terminated, truncated, self._infos()

    def render(self) -> tuple[NDArray[np.uint8], ...] | None:
        """With ``render_mode="rgb_array"``, one frame per sub-env, each as the single env draws it."""
        if self.render_mode != "rgb_array":
            return None
        if not self._started:
            raise RuntimeError("call reset() before render()")
        return tuple(self._frame(index) for index in range(self.num_envs))

    def _frame(self, index: int) -> NDArray[np.uint8]:
        """Sub-env ``index``'s frame (a family supplies it)."""
        raise NotImplementedError

    def close_extras(self, **kwargs: Any) -> None:
        self.single_env.close()

    def action_masks(self) -> NDArray[np.int8]:
        """Valid actions of every sub-env now, shape (N, actions) (``info["action_mask"]``)."""
        mask: NDArray[np.int8] = self._infos()["action_mask"]
        return mask

    @property
    def elapsed_steps(self) -> IntArray:
        """Steps taken in each sub-env's current episode (a copy)."""
        return self._elapsed.copy()

    # --- what a subclass supplies ----------------------------------------------------------------

    def _reset_envs(self, selection: Selection, count: int) -> None:
        raise NotImplementedError

    def _advance(self, actions: IntArray, selection: Selection, count: int) -> FloatArray:
        raise NotImplementedError

    def _observations(self) -> Any:
        raise NotImplementedError

    def _infos(self) -> dict[str, Any]:
        raise NotImplementedError

    def _terminations(self) -> BoolArray:
        """Which sub-envs ended their episode in this step (a fresh array); the farm and trading
        rules never terminate, a model-driven env does (sub-envs being reset are never terminated)."""
        return np.zeros(self.num_envs, dtype=np.bool_)

    # --- helpers ---------------------------------------------------------------------------------

    def _check_actions(self, actions: Any) -> IntArray:
        array = np.asarray(actions)
        if array.shape != (self.num_envs,) or array.dtype.kind not in "iu":
            raise ValueError(
                f"actions must be an integer array of shape ({self.num_envs},), "
                f"got shape {array.shape} dtype {array.dtype}"
            )
        if self.num_envs and (array.min() < 0 or array.max() >= self._n_actions):
            raise ValueError(f"actions must be integers in [0, {self._n_actions - 1}], got {array!r}")
        return array.astype(np.int64, copy=False)


def _reset_mask(options: dict[str, Any] | None, num_envs: int) -> BoolArray | None:
    if options is None or "reset_mask" not in options:
        return None
    mask = options["reset_mask"]
    if not (isinstance(mask, np.ndarray) and mask.dtype == np.bool_ and mask.shape == (num_envs,)):
        raise ValueError(
            f"options['reset_mask'] must be a bool numpy array of shape ({num_envs},), got {mask!r}"
        )
    return mask


def indices_of(selection: Selection, num_envs: int) -> list[int]:
    """The sub-envs ``selection`` touches, as a list of indices."""
    if isinstance(selection, slice):
        return list(range(num_envs))[selection]
    indices: list[int] = selection.tolist()
    return indices
