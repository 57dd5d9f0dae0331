"""Run folders: where a training run writes its model, configuration and evaluation, and reads them back.

``logs/<algo>/<env name>_<N>/`` (RL Zoo's numbering) holds ``model.zip``, ``config.yml`` (the
algorithm, env ID, seed and resolved preset, plain YAML), ``progress.csv`` (SB3's logger),
``evaluations.npz`` (when evaluated during training) and ``evaluation.yml``. YAML files are written
atomically, so a crash never leaves half a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from qgym.files import FileFormatError, read_yaml, write_atomically

__all__ = ["new_run_folder", "plain", "read_run_config", "write_yaml"]

CONFIG = "config.yml"


def new_run_folder(parent: Path, env_id: str) -> Path:
    """``parent/<env name>_<N>`` with the next free N, as RL Zoo numbers its runs."""
    name = env_id.split("/")[-1]
    parent.mkdir(parents=True, exist_ok=True)
    for number in range(1, 1_000_000):
        folder = parent / f"{name}_{number}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise RuntimeError(f"no free run folder under {parent}")


def write_yaml(path: Path, document: dict[str, Any]) -> None:
    """``document`` as plain YAML at ``path``, written atomically."""
    import yaml

    write_atomically(path, yaml.safe_dump(plain(document), sort_keys=False).encode("utf-8"))


def read_run_config(model_path: str | Path) -> dict[str, Any] | None:
    """The ``config.yml`` that :func:`qgym.training.train` wrote beside a model, or None without one;
    a ValueError names the file when it is not a run's configuration."""
    config = Path(model_path).parent / CONFIG
    if not config.is_file():
        return None
    document = read_yaml(config, "run configuration")
    if not isinstance(document, dict):
        raise FileFormatError(
            f"the run configuration {config} must be a mapping, got {type(document).__name__}"
        )
    return document


def plain(value: Any) -> Any:
    """Values YAML's safe dumper accepts (numpy scalars and tuples become Python ones)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
