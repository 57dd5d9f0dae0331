"""Run Stable-Baselines3 algorithms (and the qgym agents) on a Gymnasium vector env.

SB3 2.x does not consume Gymnasium's ``VectorEnv``: it expects its own ``VecEnv``, which resets a
finished sub-env in the *same* step, returns the new episode's first observation, and keeps the last
one in ``infos[i]["terminal_observation"]`` (with ``infos[i]["TimeLimit.truncated"]``). Gymnasium's
vector envs (the native qgym ones, ``SyncVectorEnv``, ``AsyncVectorEnv``) reset on the *next* step
instead. :class:`SB3VecEnv` bridges the two: after a step in which some sub-envs finished, it resets
just those through ``reset(options={"reset_mask": done})``. :class:`BatchMonitor` is SB3's
``VecMonitor`` without its loop over every sub-env.

Both also step without SB3's list of one info dict per sub-env (:meth:`SB3VecEnv.step_arrays`, an
:class:`ArrayStep`): at N=1024 building those dicts costs a fifth of a native step, and the qgym
agents' batched loop needs only the finished envs' entries.

>>> from qgym.vec_adapter import make_sb3_vec_env
>>> venv = make_sb3_vec_env("qgym/GridFarm-2x2-v0", num_envs=64, seed=0)
>>> venv.reset().shape
(64,)
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecMonitor
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvObs, VecEnvStepReturn

__all__ = [
    "ArrayStep",
    "BatchMonitor",
    "SB3VecEnv",
    "ScaleRewards",
    "UnravelObservations",
    "make_sb3_vec_env",
]


@dataclass
class ArrayStep:
    """One step of every sub-env as arrays, with per-env info dicts only for the envs that finished.

    ``finished`` indexes the sub-envs whose episode ended (their ``observations`` entry is already
    the next episode's first); ``finished_infos[k]`` is the info dict of ``finished[k]``, with
    ``terminal_observation``, ``TimeLimit.truncated`` and, behind a monitor, ``episode``. The other
    sub-envs' info dicts are empty, unless ``other_infos`` holds the whole list (an env that
    returns info entries every step).
    """

    observations: VecEnvObs
    rewards: np.ndarray
    dones: np.ndarray
    finished: np.ndarray
    finished_infos: list[dict[str, Any]]
    other_infos: list[dict[str, Any]] | None = None

    @classmethod
    def of(cls, step: VecEnvStepReturn) -> ArrayStep:
        """The arrays of an SB3 ``VecEnv.step`` result."""
        observations, rewards, dones, infos = step
        finished = np.flatnonzero(dones)
        return cls(observations, rewards, dones, finished, [infos[i] for i in finished.tolist()], list(infos))

    def infos(self) -> list[dict[str, Any]]:
        """SB3's list of one info dict per sub-env."""
        infos: list[dict[str, Any]]
        if self.other_infos is not None:
            infos = list(self.other_infos)
        else:
            infos = [{} for _ in range(len(self.dones))]
        for i, info in zip(self.finished.tolist(), self.finished_infos, strict=True):
            infos[i] = info
        return infos


class SB3VecEnv(VecEnv):
    """A Gymnasium ``VectorEnv`` (NEXT_STEP autoreset, ``reset_mask`` support) seen as an SB3 ``VecEnv``.

    :param venv: the vector env, e.g. ``gym.make_vec("qgym/GridFarm-2x2-v0", num_envs=1024)``.
    :param keep_info: copy the vector env's per-env info entries into SB3's list of info dicts;
        off by default, because building N dicts of N entries every step costs more than a native
        step. ``terminal_observation`` and ``TimeLimit.truncated`` are always there at episode ends.

    Seeding follows SB3: ``seed(s)`` takes effect at the next ``reset()``, which seeds the vector env
    with ``s`` (one generator for all sub-envs).
    """

    def __init__(self, venv: VectorEnv[Any, Any, Any], keep_info: bool = False) -> None:
        if not isinstance(venv, VectorEnv):
            raise TypeError(
                f"venv must be a gymnasium.vector.VectorEnv (from gym.make_vec), got {type(venv).__name__}"
            )
        mode = venv.metadata.get("autoreset_mode")
        if mode != AutoresetMode.NEXT_STEP:
            raise ValueError(
                f"venv must autoreset in AutoresetMode.NEXT_STEP (metadata['autoreset_mode']), got {mode!r}"
            )
        self.venv = venv
        self.keep_info = keep_info
        self._actions: np.ndarray | None = None
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)

    # --- the SB3 VecEnv API ----------------------------------------------------------------------

    def reset(self) -> VecEnvObs:
        seed = self._seeds[0]
        options = self._options[0] or None
        observations, info = self.venv.reset(seed=seed, options=options)
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = self._split_info(info)
        return observations  # type: ignore[no-any-return]

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        if self._actions is None:
            raise RuntimeError("step_wait() needs a step_async(actions) first")
        actions, self._actions = self._actions, None
        step = self.step_arrays(actions)
        return step.observations, step.rewards, step.dones, step.infos()

    def step_arrays(self, actions: np.ndarray) -> ArrayStep:
        """``step_async(actions)`` then ``step_wait()`` as arrays: info dicts for the finished envs
        only, unless ``keep_info`` (then every env's)."""
        observations, rewards, terminated, truncated, info = self.venv.step(actions)
        dones = np.logical_or(terminated, truncated)
        finished = np.flatnonzero(dones)
        others = self._split_info(info) if self.keep_info else None
        finished_infos = [
            (others[i] if others is not None else {})
            | {
                "terminal_observation": observations[i],
                "TimeLimit.truncated": bool(truncated[i] and not terminated[i]),
            }
            for i in finished.tolist()
        ]
        if finished.size:
            observations, reset_info = self.venv.reset(options={"reset_mask": dones.copy()})
            if self.keep_info:
                reset_infos = self._split_info(reset_info)
                for i in finished.tolist():
                    self.reset_infos[i] = reset_infos[i]
        rewards = np.asarray(rewards, dtype=np.float32)
        return ArrayStep(observations, rewards, dones, finished, finished_infos, others)

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The vector env's attribute, once per selected sub-env (they share one object)."""
        value = getattr(self.venv, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set an attribute of the vector env; only for all sub-envs at once (they share one object)."""
        if list(self._get_indices(indices)) != list(range(self.num_envs)):
            raise ValueError("indices must be None (all sub-envs): a vector env's attributes are shared")
        setattr(self.venv, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any
    ) -> list[Any]:
        """Call a method of the vector env once; a result batched over sub-envs is split per env."""
        result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
        selected = self._get_indices(indices)
        if isinstance(result, np.ndarray) and result.ndim >= 1 and len(result) == self.num_envs:
            return [result[i] for i in selected]
        return [result for _ in selected]

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper[Any, Any, Any, Any]], indices: VecEnvIndices = None
    ) -> list[bool]:
        """A native vector env holds no per-env wrappers (no ``Monitor``: use ``VecMonitor``)."""
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        """One frame per sub-env when the vector env renders ``rgb_array`` (what SB3's
        ``VecVideoRecorder`` tiles), else None for each."""
        frames: Any = self.venv.render() if self.venv.render_mode == "rgb_array" else None
        if frames is None:
            return [None for _ in range(self.num_envs)]
        return [np.asarray(frame) for frame in frames]

    # --- helpers ---------------------------------------------------------------------------------

    def _split_info(self, info: dict[str, Any]) -> list[dict[str, Any]]:
        """SB3's list of per-env dicts from Gymnasium's dict of arrays (``_key`` masks respected)."""
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if not self.keep_info:
            return infos
        for key, values in info.items():
            if key.startswith("_") or not isinstance(values, np.ndarray):
                continue
            present = info.get(f"_{key}")
            for i in range(self.num_envs):
                if present is None or present[i]:
                    infos[i][key] = values[i]
        return infos


class BatchMonitor(VecMonitor):
    """SB3's ``VecMonitor`` (episode returns, lengths and times in ``infos[i]["episode"]``, the same
    entries and counts) touching only the sub-envs that finished, not each of them every step."""

    def step_wait(self) -> VecEnvStepReturn:
        step = ArrayStep.of(self.venv.step_wait())
        step.finished_infos = self._record(step.rewards, step.finished, step.finished_infos)
        return step.observations, step.rewards, step.dones, step.infos()

    def step_arrays(self, actions: np.ndarray) -> ArrayStep:
        """A step as an :class:`ArrayStep` (its finished envs' infos carry ``episode``); through the
        wrapped env's ``step_arrays`` when it has one, else its ``step``."""
        inner = getattr(type(self.venv), "step_arrays", None)
        step: ArrayStep = (
            inner(self.venv, actions) if inner is not None else ArrayStep.of(self.venv.step(actions))
        )
        step.finished_infos = self._record(step.rewards, step.finished, step.finished_infos)
        return step

    def _record(
        self, rewards: np.ndarray, finished: np.ndarray, finished_infos: Sequence[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Add the step's rewards; the finished envs' infos (copies) with their ``episode`` entry."""
        self.episode_returns += rewards
        self.episode_lengths += 1
        if not finished.size:
            return []
        elapsed = round(time.time() - self.t_start, 6)
        recorded = []
        for i, info in zip(finished.tolist(), finished_infos, strict=True):
            episode = {"r": self.episode_returns[i], "l": self.episode_lengths[i], "t": elapsed}
            for key in self.info_keywords:
                episode[key] = info[key]
            recorded.append(info | {"episode": episode})
            if self.results_writer:
                self.results_writer.write_row(episode)
        self.episode_count += len(finished)
        self.episode_returns[finished] = 0
        self.episode_lengths[finished] = 0
        return recorded


class ScaleRewards(VecEnvWrapper):
    """Rewards times ``scale`` for the learner (``qgym.wrappers.ScaleReward`` of a whole vector env),
    outside the monitor, as SB3 puts ``VecNormalize``: logged episode returns stay the env's own.
    Steps as arrays (:meth:`step_arrays`) when the env it wraps does."""

    def __init__(self, venv: VecEnv, scale: float) -> None:
        super().__init__(venv)
        if not 0.0 < float(scale) < np.inf:
            raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
        self.scale = np.float32(scale)

    def reset(self) -> VecEnvObs:
        return self.venv.reset()

    def step_wait(self) -> VecEnvStepReturn:
        observations, rewards, dones, infos = self.venv.step_wait()
        return observations, rewards * self.scale, dones, infos

    def step_arrays(self, actions: np.ndarray) -> ArrayStep:
        """A step as an :class:`ArrayStep` with scaled rewards."""
        inner = getattr(type(self.venv), "step_arrays", None)
        step: ArrayStep = (
            inner(self.venv, actions) if inner is not None else ArrayStep.of(self.venv.step(actions))
        )
        step.rewards = step.rewards * self.scale
        return step


class UnravelObservations(VecEnvWrapper):
    """Each state index split into its components (``qgym.wrappers.UnravelObservation`` of a whole
    vector env, ``numpy.unravel_index`` on the batch), terminal observations too. Steps as arrays
    (:meth:`step_arrays`) when the env it wraps does."""

    def __init__(self, venv: VecEnv, dims: Sequence[int]) -> None:
        space = venv.observation_space
        if not isinstance(space, gym.spaces.Discrete) or math.prod(dims) != int(space.n) or int(space.start):
            raise ValueError(f"dims {list(dims)} must multiply to the states of {space} (from 0)")
        super().__init__(venv, observation_space=gym.spaces.MultiDiscrete(list(dims)))
        self.dims = tuple(int(d) for d in dims)

    def unravel(self, indices: np.ndarray) -> np.ndarray:
        """State indices (any shape) as their components along a new last axis (int64)."""
        return np.stack(np.unravel_index(np.asarray(indices, dtype=np.int64), self.dims), axis=-1)

    def reset(self) -> VecEnvObs:
        return self.unravel(self.venv.reset())  # type: ignore[arg-type]

    def step_wait(self) -> VecEnvStepReturn:
        step = ArrayStep.of(self.venv.step_wait())
        return self._unravelled(step).observations, step.rewards, step.dones, step.infos()

    def step_arrays(self, actions: np.ndarray) -> ArrayStep:
        """A step as an :class:`ArrayStep` with unravelled observations."""
        inner = getattr(type(self.venv), "step_arrays", None)
        step = inner(self.venv, actions) if inner is not None else ArrayStep.of(self.venv.step(actions))
        return self._unravelled(step)

    def _unravelled(self, step: ArrayStep) -> ArrayStep:
        step.observations = self.unravel(step.observations)  # type: ignore[arg-type]
        step.finished_infos = [
            info | {"terminal_observation": self.unravel(info["terminal_observation"])}
            for info in step.finished_infos
        ]
        return step


def make_sb3_vec_env(
    env_id: str,
    num_envs: int,
    seed: int | None = None,
    monitor: bool = True,
    keep_info: bool = False,
    **kwargs: Any,
) -> VecEnv:
    """An SB3 ``VecEnv`` of ``num_envs`` copies of ``env_id`` on its native vector env when it has one.

    ``monitor`` wraps it in :class:`BatchMonitor` (SB3's ``VecMonitor``: episode returns and lengths
    for SB3's logs); ``seed`` seeds the next ``reset()``; ``kwargs`` go to ``gym.make_vec`` (the
    env's arguments).
    """
    venv = gym.make_vec(env_id, num_envs=num_envs, **kwargs)
    adapter: VecEnv = SB3VecEnv(venv, keep_info=keep_info)
    if seed is not None:
        adapter.seed(seed)
    return BatchMonitor(adapter) if monitor else adapter
