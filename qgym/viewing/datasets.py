"""What was played, kept as a Minari dataset: ``qgym play|enjoy ... --record DIR``.

Minari is Farama's format for offline RL datasets (the ``qgym[minari]`` extra: minari with h5py).
Every episode keeps its observations, actions, rewards, terminations, truncations, infos and its reset
seed, so replaying its actions on ``gym.make(env_id)`` reset with that seed gives the same episode, and
an offline learner or an exact evaluation can read it. Datasets are written under ``DIR`` (Minari's
root folder, ``MINARI_DATASETS_PATH``) with IDs ``qgym/ENV-ID/NAME-vN``; read them back with
:func:`load_recording` or ``MINARI_DATASETS_PATH=DIR`` and ``minari.load_dataset(ID)``.

``DIR`` is checked before the first move (a file, ``/dev/null``, a read-only folder or a nearly full
disk is refused then, not after the episodes were played). The dataset is written by a child process
(:mod:`qgym.viewing.dataset_writer`) into a temporary folder beside its place and renamed into place
whole: h5py ends in a segmentation fault, or hangs, when the disk fills during a write, and neither
may take the player's session down or leave half a dataset.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from qgym import planning
from qgym.files import check_destination, remove_leftovers, write_atomically, writer_tag
from qgym.viewing import dataset_writer
from qgym.viewing.recorded_policy import action_frequencies, recorded_policy_lines, visit_counts

__all__ = [
    "EpisodeRecorder",
    "fresh_seed",
    "load_recording",
    "replay_returns",
    "save_and_report",
]

_MISSING = (
    "recording a Minari dataset needs minari with h5py: install the extra with `pip install 'qgym[minari]'`"
)
MIN_FREE_BYTES = 1 << 20
"""Free space a --record folder's disk must have before play starts."""
REFERENCE_EPISODES = 100
"""Episodes behind a recording's reference scores (Minari's ``num_episodes_average_score``)."""
WRITE_TIMEOUT = 120.0
"""Seconds the child writing a dataset may take (plus a millisecond a step) before it is stopped."""


def fresh_seed() -> int:
    """A random reset seed, so that an episode played without ``--seed`` can still be replayed."""
    return secrets.randbits(31)


@dataclass
class _Episode:
    seed: int | None
    observations: list[Any]
    infos: list[dict[str, Any]]
    actions: list[int] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    terminations: list[bool] = field(default_factory=list)
    truncations: list[bool] = field(default_factory=list)


class EpisodeRecorder:
    """Collects episodes step by step, then writes them as one Minari dataset."""

    def __init__(self, env: gym.Env[Any, Any], env_id: str, directory: str | Path | None = None) -> None:
        _import_minari()  # fail before anyone plays
        if directory is not None:  # and where the dataset cannot go
            check_destination(directory, "--record", folder=True, free=MIN_FREE_BYTES)
        self.env = env
        self.env_id = env_id
        self.episodes: list[_Episode] = []

    def start(self, seed: int | None, observation: Any, info: dict[str, Any]) -> None:
        """A reset with ``seed`` gave ``observation`` and ``info``."""
        self._close_open_episode()
        self.episodes.append(_Episode(seed, [observation], [info]))

    def step(
        self,
        action: int,
        observation: Any,
        reward: float,
        terminated: bool,
        truncated: bool,
        info: dict[str, Any],
    ) -> None:
        """One step of the current episode."""
        episode = self.episodes[-1]
        episode.actions.append(int(action))
        episode.observations.append(observation)
        episode.rewards.append(float(reward))
        episode.terminations.append(bool(terminated))
        episode.truncations.append(bool(truncated))
        episode.infos.append(info)

    @property
    def n_steps(self) -> int:
        return sum(len(episode.actions) for episode in self.episodes)

    def save(
        self, directory: str | Path, name: str, algorithm: str, optimum: float | None = None
    ) -> str | None:
        """Write the episodes with at least one step as the dataset ``qgym/ENV-ID/NAME-vN`` (the next free
        N) under ``directory``; returns its ID, or None when nothing was played. An episode cut short
        (restarted or quit) ends truncated, as Minari's own DataCollector marks it."""
        self._close_open_episode()
        episodes = [episode for episode in self.episodes if episode.actions]
        if not episodes:
            return None
        _import_minari()
        hand_over = [
            {
                "seed": episode.seed,
                "observations": _stack(episode.observations),
                "actions": np.asarray(episode.actions, dtype=np.int64),
                "rewards": np.asarray(episode.rewards, dtype=np.float64),
                "terminations": np.asarray(episode.terminations, dtype=np.bool_),
                "truncations": np.asarray(episode.truncations, dtype=np.bool_),
                "infos": _stack_infos(episode.infos),
            }
            for episode in episodes
        ]
        root = Path(directory)
        steps = sum(len(episode.actions) for episode in episodes)
        check_destination(
            root, "--record", folder=True, free=_estimated_bytes(self.env, steps, len(episodes))
        )
        dataset_id = _next_id(root, f"qgym/{self.env_id.removeprefix('qgym/')}/{name}")
        scores = reference_scores(self.env_id, optimum)
        details = {
            "env": self.env_id,
            "eval_env": self.env_id,
            "algorithm_name": algorithm,
            "author": "qgym",
            "description": f"{algorithm} on {self.env_id}; replay an episode's actions after "
            "gym.make(env_id).reset(seed=its seed) to see it again."
            + (f" {scores.pop('what')}" if scores else ""),
            "requirements": ["qgym"],
            "data_format": "hdf5",
            **scores,
        }
        _write_whole(root, dataset_id, hand_over, details, WRITE_TIMEOUT + steps / 1000)
        return dataset_id

    def _close_open_episode(self) -> None:
        if self.episodes and self.episodes[-1].actions:
            last = self.episodes[-1]
            if not (last.terminations[-1] or last.truncations[-1]):
                last.truncations[-1] = True


def reference_scores(
    env_id: str, optimum: float | None, episodes: int = REFERENCE_EPISODES
) -> dict[str, Any]:
    """Minari's ``ref_min_score`` and ``ref_max_score``, so ``minari.get_normalized_score`` works on every
    recording: a uniform random policy's mean return below; above, the exact optimum where there is one,
    else the env family's heuristic's mean return over the same ``episodes`` seeded episodes (``what``
    says which; empty when the env has neither)."""
    from qgym.training.envs import single_env
    from qgym.training.evaluation import heuristic_for
    from qgym.training.rollouts import episode_returns

    env = single_env(env_id)
    try:
        if optimum is not None:
            best, what = float(optimum), "the exact optimum"
        else:
            try:
                heuristic = heuristic_for(env)
            except ValueError:
                return {}
            best = float(episode_returns(env, heuristic, episodes).mean())
            what = f"the heuristic's mean return over {episodes} episodes (no exact optimum is known)"
        actions = env.action_space
        if not isinstance(actions, gym.spaces.Discrete):
            return {}
        rng = np.random.default_rng(0)
        random = float(
            episode_returns(env, lambda observation, t: int(rng.integers(actions.n)), episodes).mean()
        )
    finally:
        env.close()
    return {
        "ref_max_score": best,
        "ref_min_score": random,
        "num_episodes_average_score": episodes,
        "what": f"ref_max_score is {what}; ref_min_score a uniform random policy's mean return over "
        f"{episodes} episodes.",
    }


def save_and_report(
    recorder: EpisodeRecorder,
    directory: str | Path,
    name: str,
    algorithm: str,
    optimum: float | None,
    greedy_value: float | None = None,
) -> str | None:
    """Write the recording (:meth:`EpisodeRecorder.save`), read it back, and print where it is, how to
    load it and, where the env has an exact model, the exact value of the recorded empirical policy;
    with ``greedy_value`` (an agent's greedy policy, valued exactly) the line says why the two differ."""
    dataset_id = recorder.save(directory, name, algorithm, optimum)
    if dataset_id is None:
        print("nothing was played, so nothing was recorded")
        return None
    dataset = load_recording(directory, dataset_id)
    print(
        f"recorded {dataset.total_episodes} episode(s), {dataset.total_steps} steps, as the Minari dataset "
        f"{dataset_id} in {directory}; load it with MINARI_DATASETS_PATH={directory} and "
        f"minari.load_dataset('{dataset_id}')"
    )
    horizon = recorder.env.spec.max_episode_steps if recorder.env.spec is not None else None
    try:
        model = planning.model_of(recorder.env)
        counts = visit_counts(dataset, recorder.env)
    except ValueError:
        return dataset_id
    if horizon is not None and optimum is not None:
        value = planning.policy_return(model, action_frequencies(counts), horizon=horizon)
        for line in recorded_policy_lines(value, optimum, int((counts.sum(axis=1) > 0).sum()), greedy_value):
            print(line)
    return dataset_id


def load_recording(directory: str | Path, dataset_id: str) -> Any:
    """The Minari dataset ``dataset_id`` stored under ``directory`` (a local read, never a download)."""
    minari = _import_minari()
    with _datasets_root(Path(directory)):
        return minari.load_dataset(dataset_id, download=False)


def replay_returns(dataset: Any, env_id: str) -> list[tuple[float, float]]:
    """For every episode: (its recorded return, the return of its actions replayed with its seed)."""
    env = gym.make(env_id)
    pairs = []
    try:
        for episode in dataset.iterate_episodes():
            seed = dataset.storage.get_episode_metadata([episode.id])
            env.reset(seed=next(iter(seed)).get("seed"))
            total = sum(float(env.step(int(action))[1]) for action in episode.actions)
            pairs.append((float(np.sum(episode.rewards)), total))
    finally:
        env.close()
    return pairs


def _stack(values: Sequence[Any]) -> Any:
    return np.asarray(values)


def _stack_infos(infos: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Minari's layout: one list a key, a value a step (the reset's first); keys every step shares."""
    keys = [key for key in infos[0] if all(key in info for info in infos)]
    stacked: dict[str, Any] = {}
    for key in keys:
        values = [info[key] for info in infos]
        stacked[key] = values if all(isinstance(v, str) for v in values) else np.asarray(values)
    return stacked


def _estimated_bytes(env: gym.Env[Any, Any], steps: int, episodes: int) -> int:
    """A generous size of the dataset (measured: 270-630 bytes a step, 2-30 kB an episode)."""
    observation = np.asarray(env.observation_space.sample())
    return 64 * 1024 + episodes * 32 * 1024 + steps * (2 * observation.nbytes + 1024)


def _write_whole(
    root: Path, dataset_id: str, episodes: list[dict[str, Any]], details: dict[str, Any], timeout: float
) -> None:
    """Minari writes the dataset in a child process (:mod:`qgym.viewing.dataset_writer`) under a
    temporary folder in ``root``; it is renamed into place only when complete. A child that fails,
    crashes or hangs leaves nothing."""
    remove_leftovers(root, ".qgym-recording-", suffix="")  # of a player killed while writing
    staging = root / f".qgym-recording-{writer_tag()}-{secrets.token_hex(6)}"
    try:
        staging.mkdir()
        dataset_writer.pack(staging, episodes, details)
        command = [sys.executable, "-m", "qgym.viewing.dataset_writer", str(staging), dataset_id]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise _not_kept(root, f"the writer did not finish within {timeout:.0f} s") from None
        if done.returncode != 0:
            raise _not_kept(root, _why(done))
        _move_into_place(staging / dataset_writer.DATASETS, root, dataset_id)
    except OSError as error:
        raise _not_kept(root, str(error.strerror or error)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _not_kept(root: Path, reason: str) -> ValueError:
    return ValueError(
        f"--record {root}: the dataset could not be written ({reason}); nothing of it was kept there"
    )


def _why(done: subprocess.CompletedProcess[str]) -> str:
    """The writer's own last word, else how it ended (h5py's full-disk crash says nothing itself)."""
    if "No space left on device" in done.stderr or "errno = 28," in done.stderr:  # ENOSPC, as h5py says it
        return "its disk filled up: No space left on device"
    lines = [line for line in done.stderr.splitlines() if line.startswith("qgym-writer: ")]
    if lines:
        return lines[-1].removeprefix("qgym-writer: ")
    if done.returncode < 0:
        return f"the writer was stopped by signal {-done.returncode}"
    return f"the writer exited with status {done.returncode}"


def _move_into_place(staging: Path, root: Path, dataset_id: str) -> None:
    """The written dataset folder renamed to ``root/dataset_id`` (one rename, same disk), with Minari's
    namespace files where the root has none."""
    target = root / dataset_id
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(staging / dataset_id, target)
    for namespace in sorted(staging.rglob("namespace_metadata.json")):
        placed = root / namespace.relative_to(staging)
        if not placed.exists():
            write_atomically(placed, namespace.read_bytes())


def _next_id(root: Path, stem: str) -> str:
    taken = {
        int(match.group(1))
        for path in (root / Path(stem).parent).glob(f"{Path(stem).name}-v*")
        if (match := re.fullmatch(rf"{re.escape(Path(stem).name)}-v(\d+)", path.name))
    }
    return f"{stem}-v{max(taken, default=-1) + 1}"


@contextlib.contextmanager
def _datasets_root(root: Path) -> Iterator[None]:
    """Minari's root folder set to ``root`` for the duration (Minari reads it from the environment)."""
    before = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(root.resolve())
    try:
        yield
    finally:
        if before is None:
            del os.environ["MINARI_DATASETS_PATH"]
        else:
            os.environ["MINARI_DATASETS_PATH"] = before


def _import_minari() -> Any:
    try:
        import h5py  # noqa: F401 - Minari's hdf5 storage
        import minari
    except ImportError:
        raise ValueError(_MISSING) from None
    return minari
