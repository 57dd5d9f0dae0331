"""A multi-seed run folder as its seeds arrive: each trained seed written whole, and read back to resume.

A seed that trained in a worker (a local process or a Ray task elsewhere) arrives as bytes and is
written here by the driver: staged in a hidden folder, then renamed to ``seed_<N>/`` with its record
``seed.yml`` (its figures and curve). So a ``seed_<N>/`` holding ``seed.yml`` is a finished seed, and
``qgym train ... --resume RUN`` trains only the seeds without one: none twice, none lost.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, fields
from pathlib import Path, PurePosixPath
from typing import Any

from qgym.files import FileFormatError, read_yaml
from qgym.training.runs import write_yaml
from qgym.training.seed_results import CurvePoint, SeedResult
from qgym.training.seed_tasks import SeedOutcome

__all__ = ["RECORD", "RESUME_KEYS", "check_resumable", "finished_seeds", "store_seed", "training_into"]

RECORD = "seed.yml"
"""A finished seed's record inside its folder: the qgym that trained it, its figures and its curve."""
RESUME_KEYS = ("algo", "env_id", "env_kwargs", "seeds", "hyperparameters", "method", "eval_freq")
"""What a resumed run must share with the run it continues (``config.yml``)."""
_STAGING = ".partial"
MAX_SEED_BYTES = 1 << 30
"""A seed's files may add up to this much (a network of a million weights takes about 4 MB)."""


@contextlib.contextmanager
def training_into(folder: Path) -> Iterator[None]:
    """Hold the run folder for this process while its seeds train (``.training.lock``): a second
    driver resuming the same folder is refused instead of training the same seeds beside it."""
    import filelock

    lock = filelock.FileLock(str(folder / ".training.lock"))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        raise ValueError(
            f"another qgym process is training into {folder}; let it finish, or stop it and resume"
        ) from None
    try:
        yield
    finally:
        lock.release()


def store_seed(run_folder: Path, outcome: SeedOutcome) -> Path:
    """Write ``outcome`` into ``run_folder/seed_<N>/`` whole or not at all; returns the folder."""
    seed = outcome.result.seed
    target = run_folder / f"seed_{seed}"
    size = sum(len(payload) for payload in outcome.files.values())
    if size > MAX_SEED_BYTES:
        raise FileFormatError(
            f"seed {seed} came back with {size:,} bytes of files; at most {MAX_SEED_BYTES:,} are written"
        )
    staging = Path(tempfile.mkdtemp(prefix=f".seed_{seed}.", suffix=_STAGING, dir=run_folder))
    try:
        staging.chmod(0o777 & ~_umask())  # as a folder made with mkdir (mkdtemp's is private)
        for name, payload in outcome.files.items():
            path = staging.joinpath(*_relative_parts(name, seed))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(payload)
        record = {
            "qgym": outcome.version,
            "result": asdict(outcome.result),
            "curve": [asdict(point) for point in outcome.curve],
        }
        write_yaml(staging / RECORD, record)  # written last, flushed to disk
        if target.exists():  # an unfinished seed_<N>/ (no record) of an earlier run of this folder
            shutil.rmtree(target)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def finished_seeds(run_folder: Path, seeds: Iterable[int]) -> dict[int, tuple[SeedResult, list[CurvePoint]]]:
    """The seeds of ``seeds`` already trained into ``run_folder`` (those with a record), read back."""
    finished = {}
    for seed in seeds:
        record = run_folder / f"seed_{seed}" / RECORD
        if record.is_file():
            finished[seed] = _read_record(record, seed)
    return finished


def check_resumable(folder: Path, config: dict[str, Any]) -> dict[str, Any]:
    """The ``config.yml`` of the run in ``folder``, if this command (``config``) continues it; a
    ValueError names the difference otherwise. Staging folders a killed driver left are removed."""
    if not (folder / "config.yml").is_file():
        raise ValueError(f"--resume {folder}: no config.yml there; name the folder a multi-seed run printed")
    previous = read_yaml(folder / "config.yml", "run configuration")
    if not isinstance(previous, dict) or "seeds" not in previous:
        raise ValueError(f"--resume {folder}: its config.yml is not a multi-seed run's (no seeds)")
    for key in RESUME_KEYS:
        theirs, ours = previous.get(key), config.get(key)
        if theirs == ours:
            continue
        if isinstance(theirs, dict) and isinstance(ours, dict):  # name the hyperparameter that differs
            key = next(k for k in sorted({*theirs, *ours}) if theirs.get(k) != ours.get(k))
            theirs, ours = theirs.get(key), ours.get(key)
        raise ValueError(
            f"--resume {folder}: that run has {key} {_short(theirs)}, this command {_short(ours)}; "
            "resume with the command that started it"
        )
    for leftover in folder.glob(f".seed_*{_STAGING}"):
        shutil.rmtree(leftover, ignore_errors=True)
    return previous


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _relative_parts(name: str, seed: int) -> tuple[str, ...]:
    """``name``'s parts if it names a file inside the seed's folder, else a FileFormatError."""
    path = PurePosixPath(name)
    if path.is_absolute() or not path.parts or any(part in ("", ".", "..") for part in path.parts):
        raise FileFormatError(f"seed {seed} came back with a file named {name[:80]!r}, outside its folder")
    return path.parts


def _read_record(path: Path, seed: int) -> tuple[SeedResult, list[CurvePoint]]:
    document = read_yaml(path, "seed record")
    if not isinstance(document, dict) or not isinstance(document.get("curve"), list):
        raise FileFormatError(
            f"the seed record {path} has no result and curve; delete seed_{seed}/ to train it again"
        )
    result = SeedResult(**_fields(SeedResult, document.get("result"), path))
    if result.seed != seed:
        raise FileFormatError(
            f"the seed record {path} is of seed {result.seed}, in the folder of seed {seed}"
        )
    curve = [CurvePoint(**_fields(CurvePoint, point, path)) for point in document["curve"]]
    return result, curve


def _fields(kind: type, values: Any, path: Path) -> dict[str, Any]:
    """``values`` as the keyword arguments of ``kind``: its field names, numbers (or None, or a bool)."""
    names = [f.name for f in fields(kind)]
    if not isinstance(values, dict) or set(values) != set(names):
        raise FileFormatError(f"the seed record {path} does not hold the fields {', '.join(names)}")
    for name, value in values.items():
        if value is not None and (isinstance(value, str) or not isinstance(value, int | float)):
            raise FileFormatError(f"the seed record {path}: {name} is {value!r}, not a number")
        if name in ("seed", "step") and (not isinstance(value, int) or value < 0):
            raise FileFormatError(f"the seed record {path}: {name} is {value!r}, not a whole number")
        if name == "percent" and value is not None and math.isinf(value):
            raise FileFormatError(f"the seed record {path}: percent is {value!r}")
    return dict(values)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else f"{text[:117]}..."
