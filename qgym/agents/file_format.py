"""The tabular model file: a zip of plain JSON and ``.npy`` arrays that never needs unpickling.

A model file holds exactly three entries: ``qgym-model.json`` (format, algorithm name, spaces, and
the algorithm's hyperparameters and training state as plain JSON), ``q_values.npy`` and
``visit_counts.npy`` (read with ``allow_pickle=False``). This module knows the format, not the
algorithms: it writes and reads a :class:`ModelRecord`, and the algorithm says what goes in it.
Anything else in a file (an SB3 ``data`` entry, a ``":serialized:"`` value, an object array, an
unknown key, a size the spaces cannot have) is refused with :class:`ModelFileError` before any of it
is used: SB3's own ``load()`` runs the cloudpickle payloads such files can hide.
"""

from __future__ import annotations

import functools
import io
import json
import pathlib
import platform
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from qgym.agents.spaces import ActionIndexer, StateIndexer, check_table_size
from qgym.files import write_atomically
from qgym.space_data import space_from_data, space_to_data
from qgym.validation import brief, is_int

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ModelFileError",
    "ModelRecord",
    "library_versions",
    "read_model_file",
    "write_model_file",
]

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

PathLike = str | pathlib.Path | io.BufferedIOBase


class ModelFileError(ValueError):
    """The file is not a valid qgym tabular model (or holds something qgym refuses to load)."""


@dataclass(frozen=True)
class ModelRecord:
    """Everything a tabular model file holds; ``hyperparameters`` and ``state`` are the algorithm's
    plain JSON, ``q_values`` and ``visit_counts`` have shape (n_tables, n_states, n_actions)."""

    algorithm: str
    observation_space: spaces.Space[Any]
    action_space: spaces.Space[Any]
    hyperparameters: dict[str, Any]
    state: dict[str, Any]
    q_values: NDArray[np.float64]
    visit_counts: NDArray[np.int64]
    versions: dict[str, str]


def write_model_file(record: ModelRecord, path: PathLike) -> None:
    """Write ``record`` as a model zip; a path is replaced atomically (temp file + ``os.replace``).

    As in SB3, ``.zip`` is appended to a path without suffix.
    """
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "algorithm": record.algorithm,
        "policy": "TabularPolicy",
        "observation_space": space_to_data(record.observation_space),
        "action_space": space_to_data(record.action_space),
        "hyperparameters": record.hyperparameters,
        "state": record.state,
        "versions": record.versions,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, json.dumps(document, indent=2, allow_nan=False))
        archive.writestr(Q_VALUES, _npy_bytes(record.q_values))
        archive.writestr(VISIT_COUNTS, _npy_bytes(record.visit_counts))
    payload = buffer.getvalue()
    if isinstance(path, io.BufferedIOBase):
        path.write(payload)
        return
    target = pathlib.Path(path)
    if target.suffix == "":
        target = target.with_suffix(".zip")
    write_atomically(target, payload)


def read_model_file(path: PathLike) -> ModelRecord:
    """Read and validate a model file. Never unpickles; a :class:`ModelFileError` says what is wrong."""
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
                "code; qgym's tabular agents load only their own pickle-free format (saved by their save())"
            )
        if set(names) != _ENTRIES:
            raise ModelFileError(
                f"{_name(path)} must hold exactly the entries {sorted(_ENTRIES)}, got {sorted(names)}; "
                "refusing to load unknown content"
            )
        document = _parse_document(_read_entry(archive, MANIFEST, _MAX_MANIFEST_BYTES), path)
        observation_space = space_from_data(document["observation_space"])
        action_space = space_from_data(document["action_space"])
        n_states, n_actions = _table_size(observation_space, action_space)  # bounded before any read
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
    return ModelRecord(
        document["algorithm"],
        observation_space,
        action_space,
        document["hyperparameters"],
        document["state"],
        q_values,
        visits,
        document["versions"],
    )


@functools.cache
def _versions() -> tuple[tuple[str, str], ...]:
    from importlib import metadata

    import gymnasium

    from qgym.version import __version__

    return (
        ("qgym", __version__),
        ("stable_baselines3", metadata.version("stable-baselines3")),
        ("gymnasium", gymnasium.__version__),
        ("numpy", np.__version__),
        ("python", platform.python_version()),
    )


def library_versions() -> dict[str, str]:
    """The versions a model file records (shown by ``load(..., print_system_info=True)``), read from
    the installed packages' metadata once a process: writing a file imports neither torch nor
    Stable-Baselines3."""
    return dict(_versions())


def _npy_bytes(array: NDArray[Any]) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


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
    """At most ``max_bytes`` of an entry, whatever its header claims; a damaged entry is a sentence."""
    if archive.getinfo(name).file_size > max_bytes:
        raise ModelFileError(f"entry {name} is larger than a model of the saved spaces can be")
    try:
        with archive.open(name) as handle:
            data = handle.read(max_bytes + 1)
    except (zipfile.BadZipFile, NotImplementedError, zlib.error, EOFError, OSError, RuntimeError) as error:
        raise ModelFileError(f"entry {name} cannot be read (a damaged or unusual zip): {error}") from None
    if len(data) > max_bytes:
        raise ModelFileError(f"entry {name} is larger than a model of the saved spaces can be")
    return data


def _parse_document(raw: bytes, path: PathLike) -> dict[str, Any]:
    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ModelFileError(f"{MANIFEST} in {_name(path)} is not valid JSON: {brief(error, 200)}") from None
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
    if not is_int(document["format_version"]) or document["format_version"] != FORMAT_VERSION:
        raise ModelFileError(
            f"{_name(path)} has format version {document['format_version']!r}; this qgym reads version "
            f"{FORMAT_VERSION}: upgrade qgym"
        )
    if not isinstance(document["algorithm"], str) or document["policy"] != "TabularPolicy":
        raise ModelFileError(f"{MANIFEST} must name an algorithm and the policy 'TabularPolicy'")
    for key in ("observation_space", "action_space"):
        try:
            space_from_data(document[key])
        except ValueError as error:
            raise ModelFileError(f"{MANIFEST} has an invalid {key}: {error}") from error
    for key in ("hyperparameters", "state"):
        if not isinstance(document[key], dict):
            raise ModelFileError(f"{MANIFEST} '{key}' must be a JSON object")
    versions = document["versions"]
    if not isinstance(versions, dict) or not all(isinstance(v, str) for v in versions.values()):
        raise ModelFileError(f"{MANIFEST} 'versions' must map names to version strings")
    return document


def _reject_constant(name: str) -> None:
    raise ModelFileError(f"{MANIFEST} holds the non-finite number {name}")


def _find_serialized(document: Any) -> str | None:
    """Where the first ``":serialized:"`` key (SB3's pickle marker) sits, or None (iterative: a deeply
    nested document cannot exhaust the stack)."""
    pending: list[tuple[Any, str]] = [(document, "")]
    while pending:
        node, where = pending.pop()
        if isinstance(node, dict):
            if ":serialized:" in node:
                return where or "<top level>"
            pending.extend((value, f"{where}.{key}" if where else str(key)) for key, value in node.items())
        elif isinstance(node, list):
            pending.extend((value, f"{where}[{position}]") for position, value in enumerate(node))
    return None


def _table_size(observations: spaces.Space[Any], actions: spaces.Space[Any]) -> tuple[int, int]:
    try:
        n_states, n_actions = StateIndexer(observations).n_states, ActionIndexer(actions).n_actions
        check_table_size(2, n_states, n_actions)
    except ValueError as error:
        raise ModelFileError(f"{MANIFEST} has spaces no Q-table in memory can index: {error}") from None
    return n_states, n_actions


def _parse_array(
    raw: bytes, name: str, dtype: type[np.generic], table_shape: tuple[int, int]
) -> NDArray[Any]:
    """A (n_tables, n_states, n_actions) array of ``dtype``, one or two tables. The header's shape and
    dtype are checked before numpy allocates anything (a header may claim terabytes)."""
    header = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(header)
        read_header = (
            np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        )
        shape, _, declared = read_header(header)
    except (ValueError, TypeError, EOFError, SyntaxError) as error:
        raise ModelFileError(
            f"{name} is not a plain numeric .npy array (pickled objects are refused): {brief(error, 200)}"
        ) from None
    if declared.hasobject:
        raise ModelFileError(
            f"{name} is not a plain numeric .npy array (pickled objects are refused): {declared}"
        )
    valid_shape = len(shape) == 3 and shape[0] in (1, 2) and tuple(shape[1:]) == table_shape
    if declared != np.dtype(dtype) or not valid_shape:
        raise ModelFileError(
            f"{name} must be a {np.dtype(dtype)} array of shape "
            f"(n_tables, {table_shape[0]}, {table_shape[1]}), got {declared} {shape}"
        )
    try:
        array = np.load(io.BytesIO(raw), allow_pickle=False)
    except ValueError as error:
        raise ModelFileError(f"{name} is not a plain numeric .npy array: {brief(error, 200)}") from None
    result: NDArray[Any] = array
    return result
