"""What was played, kept as a Minari dataset: ``qgym play|enjoy ... --record DIR``.

Minari is Farama's format for offline RL datasets (the ``qgym[minari]`` extra: minari with h5py).
Every episode keeps its observations, actions, rewards, terminations, truncations, infos and its reset
seed, so replaying its actions on ``gym.make(env_id)`` reset with that seed gives the same episode, and
an offline learner or an exact evaluation can read it. Datasets are written under ``DIR`` (Minari's
root folder, ``MINARI_DATASETS_PATH``) with IDs ``qgym/ENV-ID/NAME-vN``; read them back with
:func:`load_recording` or ``MINARI_DATASETS_PATH=DIR`` and ``minari.load_dataset(ID)``.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from qgym import planning
from qgym.scoring import share_of_optimum

__all__ = [
    "EpisodeRecorder",
    "empirical_policy",
    "fresh_seed",
    "load_recording",
    "recorded_policy_lines",
    "replay_returns",
    "save_and_report",
]

_MISSING = (
    "recording a Minari dataset needs minari with h5py: install the extra with `pip install 'qgym[minari]'`"
)


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

    def __init__(self, env: gym.Env[Any, Any], env_id: str) -> None:
        _import_minari()  # fail before anyone plays
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
        minari = _import_minari()
        from minari.data_collector import EpisodeBuffer

        buffers = [
            EpisodeBuffer(
                id=index,
                seed=episode.seed,
                observations=_stack(episode.observations),
                actions=np.asarray(episode.actions, dtype=np.int64),
                rewards=list(episode.rewards),
                terminations=list(episode.terminations),
                truncations=list(episode.truncations),
                infos=_stack_infos(episode.infos),
            )
            for index, episode in enumerate(episodes)
        ]
        root = Path(directory)
        root.mkdir(parents=True, exist_ok=True)
        dataset_id = _next_id(root, f"qgym/{self.env_id.removeprefix('qgym/')}/{name}")
        with _datasets_root(root), warnings.catch_warnings():
            # Minari asks for an author e-mail and a code permalink that a person at play does not have.
            warnings.filterwarnings("ignore", category=UserWarning, module=r"minari\.")
            minari.create_dataset_from_buffers(
                dataset_id,
                buffers,
                env=self.env_id,
                eval_env=self.env_id,
                algorithm_name=algorithm,
                author="qgym",
                description=f"{algorithm} on {self.env_id}; replay an episode's actions after "
                "gym.make(env_id).reset(seed=its seed) to see it again",
                requirements=["qgym"],
                data_format="hdf5",
                **({"ref_max_score": optimum} if optimum is not None else {}),
            )
        return dataset_id

    def _close_open_episode(self) -> None:
        if self.episodes and self.episodes[-1].actions:
            last = self.episodes[-1]
            if not (last.terminations[-1] or last.truncations[-1]):
                last.truncations[-1] = True


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
        counts = _visit_counts(dataset, recorder.env)
    except ValueError:
        return dataset_id
    if horizon is not None and optimum is not None:
        value = planning.policy_return(model, _frequencies(counts), horizon=horizon)
        for line in recorded_policy_lines(value, optimum, int((counts.sum(axis=1) > 0).sum()), greedy_value):
            print(line)
    return dataset_id


def recorded_policy_lines(
    value: float, optimum: float, states_met: int, greedy_value: float | None = None
) -> list[str]:
    """What the recorded policy's exact value means; with an agent's greedy value, why the two differ."""
    lines = [
        f"the recorded policy (the action frequencies in the {states_met} states these episodes met, "
        f"uniform random in every other state), valued exactly: {share_of_optimum(value, optimum)}"
    ]
    if greedy_value is not None:
        lines.append(
            "the agent's greedy policy (its own choice in every state, as qgym train and eval value it): "
            + share_of_optimum(greedy_value, optimum)
        )
        if abs(greedy_value - value) > 1e-9 * max(1.0, abs(optimum)):
            lines.append(
                "they differ because the recording knows the agent only in the states it met: "
                "elsewhere the recorded policy plays at random"
            )
    return lines


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


def empirical_policy(dataset: Any, env: gym.Env[Any, Any]) -> NDArray[np.float64]:
    """The person's policy as action frequencies in every model state they met, uniform elsewhere: an
    (S, A) array for :func:`qgym.planning.evaluate_policy`. Needs observations that name the state
    (Discrete, or MultiDiscrete components of it)."""
    return _frequencies(_visit_counts(dataset, env))


def _visit_counts(dataset: Any, env: gym.Env[Any, Any]) -> NDArray[np.float64]:
    """How often each action was taken in each model state, (S, A)."""
    model = planning.model_of(env)
    counts = np.zeros((model.n_states, model.n_actions))
    for episode in dataset.iterate_episodes():
        states = _states(np.asarray(episode.observations)[:-1], env.observation_space, model.n_states)
        np.add.at(counts, (states, np.asarray(episode.actions, dtype=np.int64)), 1.0)
    return counts


def _frequencies(counts: NDArray[np.float64]) -> NDArray[np.float64]:
    """Action frequencies in the states met, uniform in the others."""
    seen = counts.sum(axis=1, keepdims=True)
    uniform = np.full_like(counts, 1.0 / counts.shape[1])
    policy: NDArray[np.float64] = np.where(seen > 0, counts / np.maximum(seen, 1.0), uniform)
    return policy


def _states(observations: NDArray[Any], space: gym.Space[Any], n_states: int) -> NDArray[np.int64]:
    if isinstance(space, gym.spaces.Discrete) and int(space.n) == n_states:
        states: NDArray[np.int64] = observations.astype(np.int64).reshape(-1) - int(space.start)
        return states
    if isinstance(space, gym.spaces.MultiDiscrete) and int(np.prod(space.nvec)) == n_states:
        components = tuple(observations.T.astype(np.int64))
        raveled: NDArray[np.int64] = np.asarray(np.ravel_multi_index(components, tuple(space.nvec)), np.int64)
        return raveled
    raise ValueError(
        "the observations do not name the model's states, so there is no empirical policy to value"
    )


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
