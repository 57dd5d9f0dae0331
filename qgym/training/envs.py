"""The envs a run trains and is judged on: RL Zoo's ``env_wrapper`` resolved, and VecEnvs built.

Training gets qgym's native vector env where it can (many envs stepped as arrays), else SB3's
``DummyVecEnv``. Evaluation gets a single env in the env's own rewards: a preset's reward wrappers
(``qgym.wrappers.ScaleReward``) change what is learned from, not what is judged.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from qgym.validation import brief, is_int

__all__ = [
    "ALLOWED_WRAPPERS",
    "DEFAULT_HORIZON",
    "MAX_PYTHON_ENVS",
    "Wrap",
    "check_env_wrapper",
    "encode_observations",
    "horizon_of",
    "keeps_states",
    "make_env",
    "single_env",
    "wrap_env",
    "wrapper",
]

DEFAULT_HORIZON = 1000
MAX_PYTHON_ENVS = 1024
"""The most copies of an env without a native vector env (SB3's DummyVecEnv) a run builds."""
"""Envs without a registered time limit (CliffWalking) are trained and judged over this many steps."""
ALLOWED_WRAPPERS = (
    "qgym.wrappers.DiscretizeObservation",
    "qgym.wrappers.ScaleReward",
    "qgym.wrappers.UnravelObservation",
    "gymnasium.wrappers.ClipReward",
    "gymnasium.wrappers.DtypeObservation",
    "gymnasium.wrappers.FlattenObservation",
    "gymnasium.wrappers.FrameStackObservation",
    "gymnasium.wrappers.NormalizeObservation",
    "gymnasium.wrappers.NormalizeReward",
    "gymnasium.wrappers.RescaleObservation",
    "gymnasium.wrappers.ReshapeObservation",
    "gymnasium.wrappers.TimeAwareObservation",
    "gymnasium.wrappers.TimeLimit",
)
"""The classes a preset's ``env_wrapper`` may name: looked up in this list, never imported by name."""
_WRAPPER_BOUNDS = {"gymnasium.wrappers.FrameStackObservation": ("stack_size", 1, 1024)}
"""Arguments that size a wrapper's memory: FrameStack of 10^9 allocates 10^9 observations."""

Wrap = Callable[[gym.Env[Any, Any]], gym.Env[Any, Any]]


def make_env(
    env_id: str,
    n_envs: int,
    env_wrapper: Any,
    seed: int | None = 0,
    *,
    own_rewards: bool = False,
    env_kwargs: dict[str, Any] | None = None,
) -> Any:
    """The SB3 VecEnv of ``n_envs`` copies of ``env_id`` (made with ``env_kwargs``) behind
    ``env_wrapper``: qgym's native vector env when the env has one and the wrappers only scale rewards
    or unravel the state index, else a ``DummyVecEnv``.

    On the native env a ``ScaleReward`` scales what the learner gets, outside SB3's monitor (as SB3
    puts ``VecNormalize``), so the logged episode returns are in the env's own units.
    ``own_rewards=True`` leaves out the reward wrappers, so returns are in the env's own units, and
    keeps the VecEnv type the preset trains on.
    """
    from stable_baselines3.common.env_util import make_vec_env

    wrap = wrapper(env_wrapper, own_rewards=own_rewards)
    kwargs = dict(env_kwargs or {})
    if _limit(env_id, kwargs) is not None and env_id.startswith("qgym/"):
        layers = _native_layers(env_id, env_wrapper)
        if layers is not None:
            from qgym.vec_adapter import ScaleRewards, UnravelObservations, make_sb3_vec_env

            scale, dims = layers
            native = _checked(lambda: make_sb3_vec_env(env_id, n_envs, seed=seed, **kwargs), env_id, kwargs)
            if dims is not None:
                native = UnravelObservations(native, dims)
            if env_wrapper is None:
                return native
            return ScaleRewards(native, 1.0 if own_rewards else scale)  # the type the preset trains on
    if n_envs > MAX_PYTHON_ENVS:
        raise ValueError(
            f"n_envs={n_envs:,} copies of {env_id} as Python envs (no native vector env here) would be "
            f"stepped one after the other and hold a model each (Taxi's takes 0.7 MB); at most "
            f"{MAX_PYTHON_ENVS:,}"
        )
    single_env(env_id, None, **kwargs).close()  # wrong env_kwargs: a sentence now, not in a VecEnv
    return make_vec_env(lambda **extra: single_env(env_id, wrap, **kwargs, **extra), n_envs=n_envs, seed=seed)


def single_env(env_id: str, wrap: Wrap | None = None, **kwargs: Any) -> gym.Env[Any, Any]:
    """``gym.make(env_id, **kwargs)``, time-limited to :data:`DEFAULT_HORIZON` when it has no limit,
    inside ``wrap``; env arguments it does not take are a ValueError naming them."""
    env = _checked(lambda: gym.make(env_id, **kwargs), env_id, kwargs)
    if _limit(env_id, kwargs) is None:
        env = gym.wrappers.TimeLimit(env, DEFAULT_HORIZON)
    return env if wrap is None else wrap(env)


def horizon_of(env_id: str, env_kwargs: dict[str, Any] | None = None) -> int:
    """The steps an episode of ``env_id`` lasts at most: its time limit (``max_episode_steps`` among
    ``env_kwargs``, else the registered one), else :data:`DEFAULT_HORIZON`."""
    horizon = _limit(env_id, env_kwargs or {})
    return DEFAULT_HORIZON if horizon is None else int(horizon)


def _limit(env_id: str, kwargs: dict[str, Any]) -> int | None:
    """The time limit ``gym.make(env_id, **kwargs)`` sets (``max_episode_steps`` is one of its own)."""
    limit = kwargs.get("max_episode_steps", gym.spec(env_id).max_episode_steps)
    return None if limit is None else int(limit)


def _checked(make: Callable[[], Any], env_id: str, kwargs: dict[str, Any]) -> Any:
    """``make()``, with the TypeError of an argument the env does not take turned into a sentence."""
    try:
        return make()
    except TypeError as error:
        if not kwargs:
            raise
        raise ValueError(f"{env_id} with env_kwargs {brief(kwargs)}: {error}") from None


def wrap_env(env: gym.Env[Any, Any], env_wrapper: Any, own_rewards: bool = False) -> gym.Env[Any, Any]:
    """``env`` inside the preset's ``env_wrapper`` (without its reward wrappers if ``own_rewards``)."""
    wrap = wrapper(env_wrapper, own_rewards=own_rewards)
    return env if wrap is None else wrap(env)


def wrapper(spec: Any, own_rewards: bool = False) -> Wrap | None:
    """RL Zoo's ``env_wrapper`` as one function env -> wrapped env (None when there is none);
    ``own_rewards`` leaves its reward wrappers out."""
    if spec is None:
        return None
    layers = [
        (cls, kwargs)
        for cls, kwargs in _wrapper_classes(spec)
        if not (own_rewards and issubclass(cls, gym.RewardWrapper))
    ]

    def wrap(env: gym.Env[Any, Any]) -> gym.Env[Any, Any]:
        for cls, kwargs in layers:
            try:
                env = cls(env, **kwargs)
            except (TypeError, ValueError) as error:
                raise ValueError(f"env_wrapper {cls.__name__} with {brief(kwargs)}: {error}") from None
        return env

    return wrap


def check_env_wrapper(spec: Any) -> None:
    """A ValueError naming the problem unless ``spec`` is a valid ``env_wrapper`` (None is)."""
    if spec is not None:
        _wrapper_classes(spec)


def keeps_states(spec: Any) -> bool:
    """True when ``env_wrapper`` only re-encodes observations (wrappers marked ``stateless``, a
    function of the observation alone) or rewards: each observation still stands for one state of
    the env's exact model, so the greedy policy can be valued exactly."""
    return spec is None or all(
        issubclass(cls, gym.RewardWrapper)
        or (issubclass(cls, gym.ObservationWrapper) and getattr(cls, "stateless", False) is True)
        for cls, _ in _wrapper_classes(spec)
    )


def encode_observations(wrapped: gym.Env[Any, Any], observations: np.ndarray) -> np.ndarray:
    """``observations`` of the bare env as the ObservationWrappers of ``wrapped`` pass them on."""
    layers = []
    while isinstance(wrapped, gym.Wrapper):
        layers.append(wrapped)
        wrapped = wrapped.env
    for layer in reversed(layers):
        if isinstance(layer, gym.ObservationWrapper):
            observations = np.stack([np.asarray(layer.observation(obs)) for obs in observations])
    return observations


def _native_layers(env_id: str, spec: Any) -> tuple[float, tuple[int, ...] | None] | None:
    """The reward factor and the unravelling ``dims`` of ``env_wrapper`` when it is only
    ``ScaleReward`` layers around at most one ``UnravelObservation`` (1.0 and None without wrappers),
    which a native vector env applies to whole batches; else None. The layers are built once on one
    env, which checks their arguments as the single-env path does."""
    from qgym.wrappers import ScaleReward, UnravelObservation

    if spec is None:
        return 1.0, None
    classes = [cls for cls, _ in _wrapper_classes(spec)]
    if (
        any(cls not in (ScaleReward, UnravelObservation) for cls in classes)
        or classes.count(UnravelObservation) > 1
    ):
        return None
    env = wrap_env(gym.make(env_id), spec)
    scale, dims = 1.0, None
    while isinstance(env, ScaleReward | UnravelObservation):
        if isinstance(env, ScaleReward):
            scale *= env.scale
        else:
            dims = env.dims
        env = env.env
    return scale, dims


def _wrapper_classes(spec: Any) -> list[tuple[type, dict[str, Any]]]:
    """``env_wrapper`` resolved: a dotted name or ``[{dotted.Name: {kwargs}}, ...]``, each name one of
    :data:`ALLOWED_WRAPPERS` (a module named by a file is never imported: importing runs its code)."""
    items = spec if isinstance(spec, list) else [spec]
    if len(items) > 16:
        raise ValueError(f"env_wrapper lists {len(items)} wrappers; at most 16 are allowed")
    resolved = []
    for item in items:
        name: Any
        kwargs: Any
        if isinstance(item, str):
            name, kwargs = item, {}
        elif isinstance(item, dict) and len(item) == 1:
            name, kwargs = next(iter(item.items()))
        else:
            name, kwargs = None, None
        if not isinstance(name, str) or not isinstance(kwargs, dict | type(None)):
            raise ValueError(
                f"env_wrapper must be a dotted class name or [{{name: {{kwargs}}}}], got {brief(item)}"
            )
        if name not in ALLOWED_WRAPPERS:
            raise ValueError(
                f"env_wrapper {brief(name)} is not one of the allowed wrappers: {', '.join(ALLOWED_WRAPPERS)}"
            )
        if name in _WRAPPER_BOUNDS:
            key, low, high = _WRAPPER_BOUNDS[name]
            value = (kwargs or {}).get(key, low)
            if not (is_int(value) and low <= value <= high):
                allowed = f"a whole number from {low} to {high:,}"
                raise ValueError(f"env_wrapper {name}: {key} must be {allowed}, got {brief(value)}")
        module, _, attribute = name.rpartition(".")
        resolved.append((getattr(importlib.import_module(module), attribute), dict(kwargs or {})))
    return resolved
