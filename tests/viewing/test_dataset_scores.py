"""Every recording carries Minari's reference scores, so ``minari.get_normalized_score`` works: the exact
optimum above where the env has one, else the family heuristic's mean return; a random policy's below."""

from __future__ import annotations

import pathlib

import gymnasium as gym
import numpy as np
import pytest

from qgym.training.evaluation import exact_optimum, heuristic_for
from qgym.training.rollouts import episode_returns
from qgym.viewing.datasets import REFERENCE_EPISODES, EpisodeRecorder, load_recording


def record(env_id: str, folder: pathlib.Path, episodes: int = 2) -> object:
    env = gym.make(env_id)
    recorder = EpisodeRecorder(env, env_id, folder)
    for episode in range(episodes):
        observation, info = env.reset(seed=episode)
        recorder.start(episode, observation, info)
        done = False
        while not done:
            action = int(env.action_space.sample())
            observation, reward, terminated, truncated, info = env.step(action)
            recorder.step(action, observation, float(reward), terminated, truncated, info)
            done = terminated or truncated
    dataset_id = recorder.save(folder, "human", "test", exact_optimum(env_id))
    assert dataset_id is not None
    return load_recording(folder, dataset_id)


@pytest.mark.parametrize("env_id", ["qgym/Trading-Market-v0", "qgym/GridFarm-3x3-v0"])
def test_an_env_without_an_exact_optimum_is_scored_against_its_heuristic(
    env_id: str, tmp_path: pathlib.Path
) -> None:
    import minari

    dataset = record(env_id, tmp_path)
    metadata = dataset.storage.metadata
    env = gym.make(env_id)
    heuristic = float(episode_returns(env, heuristic_for(env), REFERENCE_EPISODES).mean())
    assert metadata["ref_max_score"] == pytest.approx(heuristic, rel=1e-12)
    assert metadata["ref_min_score"] < metadata["ref_max_score"]
    assert "the heuristic's mean return over 100 episodes" in metadata["description"]
    scores = minari.get_normalized_score(dataset, np.array([metadata["ref_min_score"], heuristic]))
    np.testing.assert_allclose(scores, [0.0, 1.0])


def test_an_env_with_an_exact_optimum_is_scored_against_it(tmp_path: pathlib.Path) -> None:
    import minari

    dataset = record("qgym/GridFarm-1x1-v0", tmp_path)
    optimum = exact_optimum("qgym/GridFarm-1x1-v0")
    assert dataset.storage.metadata["ref_max_score"] == optimum
    assert minari.get_normalized_score(dataset, np.array([optimum]))[0] == pytest.approx(1.0)
