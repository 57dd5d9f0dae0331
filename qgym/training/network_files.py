"""DQN and QR-DQN model files that load without unpickling anything.

qgym saves a network model as Stable-Baselines3 does (so ``DQN.load`` and RL Zoo still read the
zip) and adds ``qgym-model.json``: the algorithm, the spaces, the network's shape and the plain
hyperparameters, as JSON. qgym reads only that manifest and the weights (``policy.pth``, read by
:func:`qgym.training.weights.read_weights`), never SB3's ``data`` entry, whose ``":serialized:"`` values are
cloudpickle payloads that SB3's own ``load()`` runs (SB3 #2281). Run folders written by qgym 0.1.0
hold no manifest; their ``config.yml`` says what to rebuild, and only their weights are read.
"""

from __future__ import annotations

import io
import itertools
import json
import platform
import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym

from qgym.files import write_atomically
from qgym.space_data import space_from_data, space_to_data
from qgym.training.registry import DEEP_ALGORITHMS
from qgym.training.weights import read_weights
from qgym.validation import brief, is_int, is_number

__all__ = [
    "FORMAT",
    "NetworkFileError",
    "check_network_arguments",
    "load_network_model",
    "rebuild_network_model",
    "save_network_model",
]

FORMAT = "qgym-network-model"
FORMAT_VERSION = 1
MANIFEST = "qgym-model.json"
WEIGHTS = "policy.pth"
MAX_PARAMETERS = 20_000_000
"""Largest network a file may describe (80 MB of float32 weights)."""
_MAX_MANIFEST_BYTES = 1 << 20
_MAX_LAYERS, _MAX_UNITS, _MAX_QUANTILES = 16, 65_536, 1_000
_KEYS = frozenset(
    {"format", "format_version", "algorithm", "policy", "observation_space", "action_space"}
    | {"policy_kwargs", "hyperparameters", "num_timesteps", "versions"}
)
_CLASSES = {name: module for module, name in DEEP_ALGORITHMS.values()}
# The optimizer shapes training, not the network: left out of the manifest (QR-DQN sets it itself).
_TRAINING_ONLY = frozenset({"optimizer_class", "optimizer_kwargs"})
# Hyperparameters written for the record: plain numbers a person may want to read back.
_RECORDED = ("gamma", "batch_size", "buffer_size", "learning_starts", "target_update_interval", "tau")


class NetworkFileError(ValueError):
    """The file is not a network model qgym can load without unpickling; the message says why."""


def save_network_model(model: Any, path: str | Path) -> Path:
    """Save ``model`` (DQN or QR-DQN) as SB3 does plus qgym's manifest, atomically; returns the path."""
    algorithm = type(model).__name__
    if algorithm not in _CLASSES:
        raise ValueError(f"only {', '.join(_CLASSES)} models are saved this way, got {algorithm}")
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "algorithm": algorithm,
        "policy": "MlpPolicy",
        "observation_space": space_to_data(model.observation_space),
        "action_space": space_to_data(model.action_space),
        "policy_kwargs": _policy_kwargs(algorithm, dict(model.policy_kwargs)),
        "hyperparameters": {
            key: getattr(model, key) for key in _RECORDED if is_number(getattr(model, key, None))
        },
        "num_timesteps": int(model.num_timesteps),
        "versions": _versions(),
    }
    buffer = io.BytesIO()
    model.save(buffer)
    with zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, json.dumps(manifest, indent=2, allow_nan=False))
    target = Path(path)
    target = target if target.suffix else target.with_suffix(".zip")
    write_atomically(target, buffer.getvalue())
    return target


def load_network_model(path: Path, env: gym.Env[Any, Any] | None = None) -> Any:
    """A DQN or QR-DQN rebuilt from a file :func:`save_network_model` wrote: manifest and weights only."""
    with _open(path) as archive:
        manifest = _manifest(archive, path)
        model, parameters = _build(
            manifest["algorithm"],
            manifest["observation_space"],
            manifest["action_space"],
            manifest["policy_kwargs"],
            path,
        )
        _load_weights(model, parameters, archive, path)
    model.num_timesteps = manifest["num_timesteps"]
    return _attach(model, env, path)


def rebuild_network_model(path: Path, algo: str, env: gym.Env[Any, Any], policy_kwargs: Any) -> Any:
    """A model from a qgym 0.1.0 run: ``algo`` and ``policy_kwargs`` from its ``config.yml``, the
    spaces from ``env`` (the run's env behind its wrapper), the weights from the zip; nothing else is read."""
    if algo not in DEEP_ALGORITHMS:
        raise NetworkFileError(f"{path}: the run's config.yml names the algorithm {algo!r}, not a network")
    kwargs = {} if policy_kwargs is None else policy_kwargs
    name = DEEP_ALGORITHMS[algo][1]
    with _open(path) as archive:
        spaces = space_to_data(env.observation_space), space_to_data(env.action_space)
        model, parameters = _build(name, *spaces, kwargs, path)
        _load_weights(model, parameters, archive, path)
    return _attach(model, env, path)


def check_network_arguments(algorithm: str, kwargs: dict[str, Any]) -> None:
    """A ValueError naming the argument unless a DQN / QR-DQN's constructor arguments are in range
    (what SB3 accepts silently, e.g. ``batch_size: 0``, or allocates without bound, e.g. a replay
    buffer of 1e12 transitions or a layer of 10**9 units)."""
    ranges = {
        "buffer_size": (1, 10_000_000),
        "batch_size": (1, 65_536),
        "learning_starts": (0, 10**12),
        "gradient_steps": (-1, 10_000),
        "target_update_interval": (1, 10**12),
        "n_steps": (1, 1_000),
    }
    for name, (low, high) in ranges.items():
        value = kwargs.get(name, low)
        if not (is_int(value) and low <= value <= high):
            raise ValueError(f"{name} must be a whole number from {low} to {high:,}, got {brief(value)}")
    train_freq = kwargs.get("train_freq", 1)
    if not (is_int(train_freq) and train_freq >= 1) and not isinstance(train_freq, list | tuple):
        raise ValueError(f"train_freq must be a positive whole number, got {brief(train_freq)}")
    for name in ("gamma", "tau", "exploration_fraction", "exploration_initial_eps", "exploration_final_eps"):
        value = kwargs.get(name, 0.5)
        if not (is_number(value) and 0.0 <= value <= 1.0):
            raise ValueError(f"{name} must be a number in [0, 1], got {brief(value)}")
    rate = kwargs.get("learning_rate", 1e-4)
    if not callable(rate) and not (is_number(rate) and 0.0 < rate < 1.0):
        raise ValueError(f"learning_rate must be a number in (0, 1) or a schedule, got {brief(rate)}")
    _policy_kwargs(algorithm, dict(kwargs.get("policy_kwargs") or {}))


# --- helpers -------------------------------------------------------------------------------------


def _open(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise NetworkFileError(f"{path} is not a model file (not a readable zip archive): {error}") from None


def _manifest(archive: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    try:
        info = archive.getinfo(MANIFEST)
    except KeyError:
        raise NetworkFileError(f"{path} has no {MANIFEST}: qgym did not write it") from None
    if info.file_size > _MAX_MANIFEST_BYTES:
        raise NetworkFileError(f"{MANIFEST} in {path} is larger than any manifest qgym writes")
    try:
        manifest = json.loads(_read(archive, MANIFEST, _MAX_MANIFEST_BYTES, path).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise NetworkFileError(f"{MANIFEST} in {path} is not valid JSON: {error}") from None
    if not isinstance(manifest, dict) or set(manifest) != _KEYS:
        got = sorted(manifest) if isinstance(manifest, dict) else type(manifest).__name__
        raise NetworkFileError(f"{MANIFEST} in {path} must have exactly the keys {sorted(_KEYS)}, got {got}")
    version = manifest["format_version"]
    if manifest["format"] != FORMAT or not is_int(version) or version != FORMAT_VERSION:
        raise NetworkFileError(
            f"{path} is format {manifest['format']!r} version {manifest['format_version']!r}; "
            f"this qgym reads {FORMAT!r} version {FORMAT_VERSION}"
        )
    if manifest["algorithm"] not in _CLASSES or manifest["policy"] != "MlpPolicy":
        raise NetworkFileError(f"{MANIFEST} in {path} must name one of {sorted(_CLASSES)} and 'MlpPolicy'")
    if not (is_int(manifest["num_timesteps"]) and manifest["num_timesteps"] >= 0):
        raise NetworkFileError(f"{MANIFEST} in {path}: num_timesteps must be a non-negative integer")
    return manifest


def _policy_kwargs(algorithm: str, kwargs: Any) -> dict[str, Any]:
    """The network's shape, checked: only plain values qgym can rebuild (no classes, no code)."""
    if not isinstance(kwargs, dict):
        raise ValueError(f"policy_kwargs must be a mapping, got {type(kwargs).__name__}")
    allowed = {"net_arch", "normalize_images"} | ({"n_quantiles"} if algorithm == "QRDQN" else set())
    unknown = sorted(set(kwargs) - allowed - _TRAINING_ONLY)
    if unknown:
        raise ValueError(
            f"policy_kwargs {unknown} cannot be saved without pickle; "
            f"qgym saves {sorted(allowed)} for {algorithm}"
        )
    net_arch = kwargs.get("net_arch", [64, 64])
    if not (
        isinstance(net_arch, list)
        and len(net_arch) <= _MAX_LAYERS
        and all(is_int(units) and 1 <= units <= _MAX_UNITS for units in net_arch)
    ):
        raise ValueError(
            f"net_arch must be a list of at most {_MAX_LAYERS} layer sizes from 1 to {_MAX_UNITS}"
        )
    between = sum(a * b for a, b in itertools.pairwise(net_arch))
    if between > MAX_PARAMETERS:
        raise ValueError(
            f"net_arch {brief(net_arch)} has {between:,} weights between its layers alone, more than the "
            f"{MAX_PARAMETERS:,} a network may have"
        )
    result: dict[str, Any] = {"net_arch": [int(units) for units in net_arch]}
    if "normalize_images" in kwargs:
        if not isinstance(kwargs["normalize_images"], bool):
            raise ValueError("normalize_images must be true or false")
        result["normalize_images"] = kwargs["normalize_images"]
    if algorithm == "QRDQN":
        quantiles = kwargs.get("n_quantiles", 200)
        if not (is_int(quantiles) and 1 <= quantiles <= _MAX_QUANTILES):
            raise ValueError(f"n_quantiles must be an integer from 1 to {_MAX_QUANTILES}")
        result["n_quantiles"] = int(quantiles)
    return result


def _build(
    algorithm: str, observations: Any, actions: Any, policy_kwargs: Any, path: Path
) -> tuple[Any, int]:
    """An untrained model of the described shape, ready for its weights (a one-slot replay buffer),
    and its number of weights."""
    import importlib

    try:
        observation_space, action_space = space_from_data(observations), space_from_data(actions)
        kwargs = _policy_kwargs(algorithm, policy_kwargs)
    except ValueError as error:
        raise NetworkFileError(f"{path}: {error}") from None
    if not isinstance(action_space, gym.spaces.Discrete):
        raise NetworkFileError(
            f"{path}: a {algorithm} acts on a Discrete action space, the file says {action_space}"
        )
    inputs = gym.spaces.flatdim(observation_space)
    outputs = int(action_space.n) * kwargs.get("n_quantiles", 1)
    sizes = [inputs, *kwargs["net_arch"], outputs]
    parameters = 2 * sum((a + 1) * b for a, b in itertools.pairwise(sizes))  # online and target
    if parameters > MAX_PARAMETERS:
        raise NetworkFileError(
            f"{path} describes a network of {parameters:,} weights, more than {MAX_PARAMETERS:,}"
        )
    cls = getattr(importlib.import_module(_CLASSES[algorithm]), algorithm)
    model = cls(
        "MlpPolicy", env=None, buffer_size=1, learning_starts=0, policy_kwargs=kwargs, device="cpu",
        _init_setup_model=False,
    )  # fmt: skip
    model.observation_space, model.action_space, model.n_envs = observation_space, action_space, 1
    model._setup_model()
    return model, parameters


def _load_weights(model: Any, parameters: int, archive: zipfile.ZipFile, path: Path) -> None:
    limit = 4 * parameters + (1 << 20)  # float32 weights and the file's framing
    raw = _read(archive, WEIGHTS, limit, path)
    try:
        model.policy.load_state_dict(read_weights(raw, f"{WEIGHTS} in {path}"))
    except ValueError as error:
        raise NetworkFileError(str(error)) from None
    except Exception as error:  # torch raises many kinds; every one means "not these weights"
        message = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
        raise NetworkFileError(
            f"{WEIGHTS} in {path} does not hold this network's weights: {message}"
        ) from None


def _read(archive: zipfile.ZipFile, name: str, limit: int, path: Path) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise NetworkFileError(f"{path} has no {name} entry") from None
    if info.file_size > limit:
        raise NetworkFileError(
            f"{name} in {path} declares {info.file_size:,} bytes, more than its network can hold"
        )
    try:
        with archive.open(info) as handle:
            data = handle.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as error:
        raise NetworkFileError(f"{name} in {path} cannot be read: {error}") from None
    if len(data) > limit:
        raise NetworkFileError(f"{name} in {path} is larger than its network can hold")
    return data


def _attach(model: Any, env: gym.Env[Any, Any] | None, path: Path) -> Any:
    if env is None:
        return model
    from stable_baselines3.common.utils import check_for_correct_spaces

    try:
        check_for_correct_spaces(env, model.observation_space, model.action_space)
    except ValueError as error:
        raise ValueError(f"the env does not match the saved {type(model).__name__}: {error}") from None
    model.set_env(env)
    return model


def _versions() -> dict[str, str]:
    import stable_baselines3
    import torch

    from qgym.version import __version__

    return {
        "qgym": __version__,
        "stable_baselines3": stable_baselines3.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
