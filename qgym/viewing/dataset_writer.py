"""The child process that writes a Minari dataset: ``python -m qgym.viewing.dataset_writer STAGING ID``.

h5py ends the process in a segmentation fault, or hangs in its cleanup, when the disk fills during a
write, so :mod:`qgym.viewing.datasets` never writes a dataset in the player's process: it hands the
episodes over as plain arrays (``episodes.npz``, read without pickle, and ``details.json``) in a staging
folder, runs this module in a fresh interpreter, and renames the finished dataset into place. The last
line on stderr says what went wrong, if anything.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DATASETS", "DETAILS", "EPISODES", "main", "pack"]

EPISODES = "episodes.npz"
DETAILS = "details.json"
DATASETS = "datasets"
"""The Minari root inside the staging folder."""


def pack(staging: Path, episodes: list[dict[str, Any]], details: dict[str, Any]) -> None:
    """Write the hand-over: each episode's arrays (``observations``, ``actions``, ``rewards``,
    ``terminations``, ``truncations``, ``infos/<key>``) and its seed, plus Minari's ``details``."""
    arrays: dict[str, np.ndarray] = {}
    seeds = []
    for index, episode in enumerate(episodes):
        seeds.append(episode["seed"])
        for name in ("observations", "actions", "rewards", "terminations", "truncations"):
            arrays[f"{index}/{name}"] = np.asarray(episode[name])
        for key, values in episode["infos"].items():
            arrays[f"{index}/infos/{key}"] = np.asarray(values)
    np.savez(staging / EPISODES, **arrays)  # type: ignore[arg-type]
    (staging / DETAILS).write_text(json.dumps({"details": details, "seeds": seeds}))


def main(argv: list[str] | None = None) -> int:
    """Write the dataset ``ID`` under ``STAGING/datasets``; exit 1 with a last line saying why not."""
    staging, dataset_id = (argv if argv is not None else sys.argv[1:])[:2]
    try:
        _write(Path(staging), dataset_id)
    except BaseException as error:  # the parent reads the last line: one sentence, whatever it was
        text = " ".join(str(error).split())
        if "errno = 28," in text or (isinstance(error, OSError) and error.errno == errno.ENOSPC):
            text = f"No space left on device ({text})"  # as h5py reports a full disk, in its middle
        print(f"qgym-writer: {type(error).__name__}: {text[:300]}", file=sys.stderr)
        return 1
    return 0


def _write(staging: Path, dataset_id: str) -> None:
    import minari
    from minari.data_collector import EpisodeBuffer

    hand_over = json.loads((staging / DETAILS).read_text())
    buffers = []
    with np.load(staging / EPISODES, allow_pickle=False) as data:
        for index, seed in enumerate(hand_over["seeds"]):
            prefix = f"{index}/"
            infos = {
                name.removeprefix(f"{prefix}infos/"): _info(data[name])
                for name in data.files
                if name.startswith(f"{prefix}infos/")
            }
            buffers.append(
                EpisodeBuffer(
                    id=index,
                    seed=seed,
                    observations=data[f"{prefix}observations"],
                    actions=data[f"{prefix}actions"],
                    rewards=data[f"{prefix}rewards"].tolist(),
                    terminations=data[f"{prefix}terminations"].tolist(),
                    truncations=data[f"{prefix}truncations"].tolist(),
                    infos=infos,
                )
            )
    os.environ["MINARI_DATASETS_PATH"] = str((staging / DATASETS).resolve())
    with warnings.catch_warnings():
        # Minari asks for an author e-mail and a code permalink that a person at play does not have.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"minari\.")
        minari.create_dataset_from_buffers(dataset_id, buffers, **hand_over["details"])


def _info(values: np.ndarray) -> Any:
    """Text infos go back to a list of strings (as they were recorded), numbers stay an array."""
    return values.tolist() if values.dtype.kind == "U" else values


if __name__ == "__main__":
    sys.exit(main())
