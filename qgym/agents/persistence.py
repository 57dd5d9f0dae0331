"""Saving and loading tabular models without pickle.

A model file is a zip holding exactly three entries: ``qgym-model.json`` (format, algorithm,
spaces, hyperparameters and counters as plain JSON), ``q_values.npy`` and ``visit_counts.npy``
(read with ``allow_pickle=False``). Anything else in the file (an SB3 ``data`` entry, a
``":serialized:"`` value, an object array, an unknown key) is refused with :class:`ModelFileError`
before any of it is used: SB3's own ``load()`` runs the cloudpickle payloads such files can hide.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import platform
import secrets
import zipfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import gymnasium as gym
import numpy as np
import stable_baselines3 as sb3
import torch as th
from numpy.typing import NDArray
from stable_baselines3.common.type_aliases import GymEnv
from stable_baselines3.common.utils import check_for_correct_spaces

from qgym.agents.schedules import schedule_from_data, schedule_to_data
from qgym.agents.spaces import ActionIndexer, StateIndexer, space_from_data, space_to_data

if TYPE_CHECKING:
    from qgym.agents.base import TabularAlgorithm

__all__ = ["FORMAT", "FORMAT_VERSION", "ModelFileError", "load_model", "read_model_file", "save_model"]

FORMAT = "qgym-tabular-model"
FORMAT_VERSION = 1
MANIFEST = "qgym-model.json"
Q_VALUES = "q_values.npy"
VISIT_COUNTS = "visit_counts.npy"
_ENTRIES = frozenset({MANIFEST, Q_VALUES, VISIT_COUNTS})
_SB3_ENTRIES = frozenset({"data", "policy.pth", "pytorch_variables.pth", "_stable_baselines3_version"})
_MAX_MANIFEST_BYTES = 1 << 20
_NPY_HEADER_ALLOWANCE = 4096
_DOCUMENT_KEYS = frozenset(
    {"format", "format_version", "algorithm", "policy", "observation_space", "action_space"}
    | {"hyperparameters", "state", "versions"}
)
_HYPERPARAMETER_KEYS = frozenset(
    {"learning_rate", "gamma", "exploration_fraction", "exploration_initial_eps", "exploration_final_eps"}
    | {"visit_decay", "stats_window_size", "tensorboard_log", "policy_kwargs", "verbose", "seed"}
)
_STATE_KEYS = frozenset(
    {"num_timesteps", "total_timesteps", "episode_num", "n_updates", "progress_remaining", "exploration_rate"}
    | {"n_envs", "rng_state", "predict_rng_state"}
)

SelfTabular = TypeVar("SelfTabular", bound="TabularAlgorithm")
PathLike = str | pathlib.Path | io.BufferedIOBase


class ModelFileError(ValueError):
    """The file is not a valid qgym tabular model (or holds something qgym refuses to load)."""


def save_model(model: TabularAlgorithm, path: PathLike) -> None:
    """Write ``model`` as a qgym model zip; a path is replaced atomically (temp file + ``os.replace``)."""
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "algorithm": type(model).__name__,
        "policy": "TabularPolicy",
        "observation_space": space_to_data(model.observation_space),
        "action_space": space_to_data(model.action_space),
        "hyperparameters": _hyperparameters_to_data(model.hyperparameters()),
        "state": {
            "num_timesteps": int(model.num_timesteps),
            "total_timesteps": int(model._total_timesteps),
            "episode_num": int(model._episode_num),
            "n_updates": int(model._n_updates),
            "progress_remaining": float(model._current_progress_remaining),
            "exploration_rate": float(model.exploration_rate),
            "n_envs": int(model.n_envs),
            "rng_state": _rng_state_to_data(model._rng.getstate()),
            "predict_rng_state": _rng_state_to_data(model._predict_rng.getstate()),
        },
        "versions": _versions(),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, json.dumps(document, indent=2, allow_nan=False))
        archive.writestr(Q_VALUES, _npy_bytes(model.policy.tables))
        archive.writestr(VISIT_COUNTS, _npy_bytes(model.policy.visits))
    payload = buffer.getvalue()
    if isinstance(path, io.BufferedIOBase):
        path.write(payload)
        return
    target = pathlib.Path(path)
    if target.suffix == "":
        target = target.with_suffix(".zip")
    _write_atomically(target, payload)


def read_model_file(path: PathLike) -> tuple[dict[str, Any], NDArray[np.float64], NDArray[np.int64]]:
    """Read and validate a model file: its JSON document, Q-values and visit counts. Never unpickles."""
    source = _open_for_reading(path)
    try:
        archive = zipfile.ZipFile(source)
    except zipfile.BadZipFile as error:
        raise ModelFileError(f"{_name(path)} is not a qgym model file (not a zip archive)") from error
    with archive:
        names = archive.namelist()
        if len(names) != len(set(names)):
            raise ModelFileError(
                f"{_name(path)} holds duplicate entries {sorted(names)}; refusing to load it"
            )
        if _SB3_ENTRIES & set(names):
            raise ModelFileError(
                f"{_name(path)} is a Stable-Baselines3 model file, whose 'data' entry can carry pickled "
                "code; "
                "qgym's tabular agents load only their own pickle-free format (saved by their save())"
            )
        if set(names) != _ENTRIES:
            raise ModelFileError(
                f"{_name(path)} must hold exactly the entries {sorted(_ENTRIES)}, got {sorted(names)}; "
                "refusing to load unknown content"
            )
        document = _parse_document(_read_entry(archive, MANIFEST, _MAX_MANIFEST_BYTES), path)
        n_states, n_actions = _table_size(document)
        n_bytes = 2 * n_states * n_actions * 8 + _NPY_HEADER_ALLOWANCE
        q_values = _parse_array(
            _read_entry(archive, Q_VALUES, n_bytes), Q_VALUES, np.float64, (n_states, n_actions)
        )
        visits = _parse_array(
            _read_entry(archive, VISIT_COUNTS, n_bytes), VISIT_COUNTS, np.int64, (n_states, n_actions)
        )
        if visits.shape != q_values.shape:
            raise ModelFileError(f"{VISIT_COUNTS} must have the shape of {Q_VALUES} {q_values.shape}")
    if not np.all(np.isfinite(q_values)):
        raise ModelFileError(f"{Q_VALUES} holds non-finite values")
    if np.any(visits < 0):
        raise ModelFileError(f"{VISIT_COUNTS} holds negative counts")
    return document, q_values, visits


def load_model(
    cls: type[SelfTabular],
    path: PathLike,
    env: GymEnv | None,
    device: th.device | str,
    custom_objects: dict[str, Any] | None,
    print_system_info: bool,
    overrides: dict[str, Any],
) -> SelfTabular:
    """Rebuild a model of class ``cls`` (or of the subclass the file names) from a model file."""
    document, q_values, visits = read_model_file(path)
    algorithm = _resolve_class(cls, document["algorithm"])
    if q_values.shape[0] != algorithm.n_tables:
        raise ModelFileError(
            f"a {algorithm.__name__} model has {algorithm.n_tables} table(s), the file {q_values.shape[0]}"
        )
    if print_system_info:
        print(
            "== SAVED SYSTEM INFO ==",
            document["versions"],
            "== CURRENT SYSTEM INFO ==",
            _versions(),
            sep="\n",
        )
    hyperparameters = _hyperparameters_from_data(document["hyperparameters"])
    for key, value in (custom_objects or {}).items():
        if key in hyperparameters:  # SB3 semantics: names the file does not hold are ignored
            hyperparameters[key] = value
    for key, value in overrides.items():
        if key == "policy":
            if value not in algorithm.policy_aliases:
                raise ValueError(f"policy must be one of {sorted(algorithm.policy_aliases)}, got {value!r}")
        elif key == "policy_kwargs":
            if value != hyperparameters["policy_kwargs"]:
                raise ValueError(
                    f"The specified policy kwargs do not equal the stored policy kwargs. "
                    f"Stored kwargs: {hyperparameters['policy_kwargs']}, specified kwargs: {value}"
                )
        elif key in hyperparameters:
            hyperparameters[key] = value
        else:
            raise ValueError(
                f"load() accepts as keyword arguments only {sorted(_HYPERPARAMETER_KEYS)}, got {key!r}"
            )
    observation_space = space_from_data(document["observation_space"])
    action_space = space_from_data(document["action_space"])
    state = document["state"]
    if env is not None:
        env = algorithm._wrap_env(env, hyperparameters["verbose"])
        try:
            check_for_correct_spaces(env, observation_space, action_space)
        except ValueError as error:
            raise ValueError(
                f"the env given to load() does not match the saved {algorithm.__name__}: {error}"
            ) from error
    model = algorithm(
        policy=document["policy"], env=env, device=device, _init_setup_model=False, **hyperparameters
    )
    if env is None:
        model.observation_space, model.action_space, model.n_envs = (
            observation_space,
            action_space,
            state["n_envs"],
        )
    model.num_timesteps = state["num_timesteps"]
    model._total_timesteps = state["total_timesteps"]
    model._episode_num = state["episode_num"]
    model._n_updates = state["n_updates"]
    model._current_progress_remaining = state["progress_remaining"]
    model.exploration_rate = state["exploration_rate"]
    model._setup_model()
    model.policy.tables[...] = q_values
    model.policy.visits[...] = visits
    model._rng.setstate(_rng_state_from_data(state["rng_state"]))
    model._predict_rng.setstate(_rng_state_from_data(state["predict_rng_state"]))
    return model


# --- writing ---------------------------------------------------------------------------------------


def _hyperparameters_to_data(hyperparameters: dict[str, Any]) -> dict[str, Any]:
    data = dict(hyperparameters)
    data["learning_rate"] = schedule_to_data(hyperparameters["learning_rate"])
    return data


def _npy_bytes(array: NDArray[Any]) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _write_atomically(target: pathlib.Path, payload: bytes) -> None:
    """Write to a fresh temp file beside ``target``, flush it to disk, then rename it over ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        with open(temporary, "xb") as handle:  # "x": never follow or reuse an existing file
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _versions() -> dict[str, str]:
    from qgym import __version__ as qgym_version

    return {
        "qgym": qgym_version,
        "stable_baselines3": sb3.__version__,
        "gymnasium": gym.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def _rng_state_to_data(state: tuple[Any, ...]) -> dict[str, Any]:
    version, internal, gauss_next = state
    return {"version": version, "internal": list(internal), "gauss_next": gauss_next}


# --- reading ---------------------------------------------------------------------------------------


def _open_for_reading(path: PathLike) -> io.BufferedIOBase | pathlib.Path:
    if isinstance(path, io.BufferedIOBase):
        return path
    candidate = pathlib.Path(path)
    if not candidate.exists() and candidate.suffix == "":
        candidate = candidate.with_suffix(".zip")  # as SB3: save("model") wrote model.zip
    if not candidate.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    return candidate


def _name(path: PathLike) -> str:
    return "the model file" if isinstance(path, io.BufferedIOBase) else str(path)


def _read_entry(archive: zipfile.ZipFile, name: str, max_bytes: int) -> bytes:
    if archive.getinfo(name).file_size > max_bytes:
        raise ModelFileError(f"entry {name} is larger than a model of the saved spaces can be")
    with archive.open(name) as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ModelFileError(f"entry {name} is larger than a model of the saved spaces can be")
    return data


def _parse_document(raw: bytes, path: PathLike) -> dict[str, Any]:
    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(f"{MANIFEST} in {_name(path)} is not valid JSON: {error}") from error
    serialized = _find_serialized(document)
    if serialized is not None:
        raise ModelFileError(
            f"{_name(path)} holds a pickled object (':serialized:' under '{serialized}'); qgym never "
            "unpickles model files, and a genuine qgym model has none"
        )
    if not isinstance(document, dict) or set(document) != _DOCUMENT_KEYS:
        keys = sorted(document) if isinstance(document, dict) else type(document).__name__
        raise ModelFileError(f"{MANIFEST} must have exactly the keys {sorted(_DOCUMENT_KEYS)}, got {keys}")
    if document["format"] != FORMAT:
        raise ModelFileError(f"{MANIFEST} format must be {FORMAT!r}, got {document['format']!r}")
    if document["format_version"] != FORMAT_VERSION:
        raise ModelFileError(
            f"{_name(path)} has format version {document['format_version']!r}; this qgym reads version "
            f"{FORMAT_VERSION}: upgrade qgym"
        )
    if not isinstance(document["algorithm"], str) or document["policy"] != "TabularPolicy":
        raise ModelFileError(f"{MANIFEST} must name an algorithm and the policy 'TabularPolicy'")
    try:
        for key in ("observation_space", "action_space"):
            space_from_data(document[key])
    except ValueError as error:
        raise ModelFileError(f"{MANIFEST} has an invalid space: {error}") from error
    _check_fields(document["hyperparameters"], _HYPERPARAMETER_KEYS, "hyperparameters")
    _check_fields(document["state"], _STATE_KEYS, "state")
    _check_state(document["state"])
    if not isinstance(document["versions"], dict) or not all(
        isinstance(v, str) for v in document["versions"].values()
    ):
        raise ModelFileError(f"{MANIFEST} 'versions' must map names to version strings")
    return document


def _reject_constant(name: str) -> None:
    raise ModelFileError(f"{MANIFEST} holds the non-finite number {name}")


def _find_serialized(node: Any, where: str = "") -> str | None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == ":serialized:":
                return where or "<top level>"
            found = _find_serialized(value, f"{where}.{key}" if where else str(key))
            if found is not None:
                return found
    elif isinstance(node, list):
        for position, value in enumerate(node):
            found = _find_serialized(value, f"{where}[{position}]")
            if found is not None:
                return found
    return None


def _check_fields(section: Any, keys: frozenset[str], name: str) -> None:
    if not isinstance(section, dict) or set(section) != keys:
        got = sorted(section) if isinstance(section, dict) else type(section).__name__
        raise ModelFileError(f"{MANIFEST} '{name}' must have exactly the keys {sorted(keys)}, got {got}")


def _check_state(state: dict[str, Any]) -> None:
    for key in ("num_timesteps", "total_timesteps", "episode_num", "n_updates", "n_envs"):
        if not _is_int(state[key]) or state[key] < 0:
            raise ModelFileError(f"state '{key}' must be a non-negative integer, got {state[key]!r}")
    for key in ("progress_remaining", "exploration_rate"):
        if not _is_number(state[key]):
            raise ModelFileError(f"state '{key}' must be a number, got {state[key]!r}")
    for key in ("rng_state", "predict_rng_state"):
        _rng_state_from_data(state[key])


def _hyperparameters_from_data(data: dict[str, Any]) -> dict[str, Any]:
    """Types are checked here; ranges by the algorithm's constructor."""
    hyperparameters = dict(data)
    try:
        hyperparameters["learning_rate"] = schedule_from_data(data["learning_rate"])
    except ValueError as error:
        raise ModelFileError(f"hyperparameter learning_rate: {error}") from error
    for key in ("gamma", "exploration_fraction", "exploration_initial_eps", "exploration_final_eps"):
        if not _is_number(data[key]):
            raise ModelFileError(f"hyperparameter {key} must be a number, got {data[key]!r}")
    checks: dict[str, Callable[[Any], bool]] = {
        "visit_decay": lambda v: v is None or _is_number(v),
        "stats_window_size": _is_int,
        "tensorboard_log": lambda v: v is None or isinstance(v, str),
        "verbose": _is_int,
        "seed": lambda v: v is None or _is_int(v),
        "policy_kwargs": lambda v: isinstance(v, dict) and all(_is_number(x) for x in v.values()),
    }
    for key, check in checks.items():
        if not check(data[key]):
            raise ModelFileError(f"hyperparameter {key} has an invalid value {data[key]!r}")
    return hyperparameters


def _rng_state_from_data(data: Any) -> tuple[Any, ...]:
    valid = (
        isinstance(data, dict)
        and set(data) == {"version", "internal", "gauss_next"}
        and data["version"] == 3
        and isinstance(data["internal"], list)
        and len(data["internal"]) == 625
        and all(_is_int(v) and 0 <= v < 2**32 for v in data["internal"][:-1])
        and _is_int(data["internal"][-1])
        and 0 <= data["internal"][-1] <= 624
        and (data["gauss_next"] is None or _is_number(data["gauss_next"]))
    )
    if not valid:
        raise ModelFileError("a random generator state must be Python's Mersenne Twister state (version 3)")
    return (3, tuple(data["internal"]), data["gauss_next"])


def _table_size(document: dict[str, Any]) -> tuple[int, int]:
    try:
        n_states = StateIndexer(space_from_data(document["observation_space"])).n_states
        n_actions = ActionIndexer(space_from_data(document["action_space"])).n_actions
    except ValueError as error:
        raise ModelFileError(f"{MANIFEST} has spaces no Q-table can index: {error}") from error
    return n_states, n_actions


def _parse_array(
    raw: bytes, name: str, dtype: type[np.generic], table_shape: tuple[int, int]
) -> NDArray[Any]:
    """A (n_tables, n_states, n_actions) array of ``dtype``, one or two tables."""
    try:
        array = np.load(io.BytesIO(raw), allow_pickle=False)
    except ValueError as error:
        raise ModelFileError(
            f"{name} is not a plain numeric .npy array (pickled objects are refused): {error}"
        ) from error
    valid_shape = array.ndim == 3 and array.shape[0] in (1, 2) and array.shape[1:] == table_shape
    if array.dtype != np.dtype(dtype) or not valid_shape:
        raise ModelFileError(
            f"{name} must be a {np.dtype(dtype)} array of shape "
            f"(n_tables, {table_shape[0]}, {table_shape[1]}), "
            f"got {array.dtype} {array.shape}"
        )
    result: NDArray[Any] = array
    return result


def _resolve_class(cls: type[SelfTabular], name: str) -> type[SelfTabular]:
    """``cls`` itself, or the subclass of ``cls`` the file names (``TabularAlgorithm.load`` dispatches)."""
    pending: list[type[SelfTabular]] = [cls]
    while pending:
        candidate = pending.pop()
        if candidate.__name__ == name:
            return candidate
        pending.extend(candidate.__subclasses__())
    raise ModelFileError(
        f"the file holds a {name!r} model, which {cls.__name__}.load cannot load; use {name}.load "
        "(or TabularAlgorithm.load, which loads any tabular algorithm)"
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
