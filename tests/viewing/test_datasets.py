"""What was played, recorded as a Minari dataset: it loads back from a local folder and replays exactly."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import gymnasium as gym
import minari
import numpy as np
import pygame
import pytest

from qgym import planning
from qgym.cli import main
from qgym.envs import known_optimum
from qgym.viewing import datasets
from qgym.viewing.datasets import EpisodeRecorder, load_recording, replay_returns
from qgym.viewing.play import PlaySession, handle_key
from qgym.viewing.recorded_policy import empirical_policy

FARM = "qgym/GridFarm-1x1-v0"


def _play(env_id: str, keys: list[int], seed: int | None, folder: Path) -> tuple[PlaySession, str]:
    """A person's game from fake key presses, recorded and saved; the session and the dataset's ID."""
    env = gym.make(env_id, render_mode="rgb_array")
    session = PlaySession(env, env_id, seed=seed, recorder=EpisodeRecorder(env, env_id))
    for key in keys:
        command = handle_key(key, session.keymap, session.episode_over)
        if command is not None:
            session.apply(command)
    assert session.recorder is not None
    dataset_id = session.recorder.save(folder, "human", "a person", known_optimum(env_id))
    assert dataset_id is not None
    return session, dataset_id


def _season(n: int) -> list[int]:
    """Plant, water, then wait and harvest: a farmer's keys for ``n`` steps."""
    cycle = [pygame.K_p, pygame.K_w, pygame.K_SPACE, pygame.K_w, pygame.K_SPACE, pygame.K_h]
    return [cycle[i % len(cycle)] for i in range(n)]


def test_a_recorded_human_game_loads_with_minari_and_replays_to_the_same_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = [*_season(100), pygame.K_r, *_season(17)]  # a whole season, then 17 steps and a quit
    session, dataset_id = _play(FARM, keys, seed=11, folder=tmp_path)
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    dataset = minari.load_dataset(dataset_id)  # Minari's own loader, on the local folder
    assert dataset.total_episodes == 2
    assert dataset.total_steps == 117
    first, second = dataset.iterate_episodes()
    assert float(np.sum(first.rewards)) == session.returns[0]
    assert first.truncations[-1], "the season ended in truncation"
    assert second.truncations[-1], "the game left mid-season ends truncated"
    assert not second.terminations.any()
    assert set(first.infos) == {"action_mask", "rained", "day"}
    assert first.infos["action_mask"].shape == (101, 8)
    seeds = [meta["seed"] for meta in dataset.storage.get_episode_metadata([0, 1])]
    assert seeds == [11, 12]
    for recorded, replayed in replay_returns(dataset, FARM):
        assert replayed == recorded
    env = gym.make(FARM)
    observation, _ = env.reset(seed=seeds[1])
    observations = [observation]
    for action in second.actions:
        observations.append(env.step(int(action))[0])
    np.testing.assert_array_equal(np.asarray(observations), second.observations)


def test_a_game_without_a_seed_is_given_one_so_it_replays(tmp_path: Path) -> None:
    _, dataset_id = _play(
        "qgym/Trading-ChainRegime-v0", [pygame.K_b, pygame.K_SPACE, pygame.K_s] * 5, None, tmp_path
    )
    dataset = load_recording(tmp_path, dataset_id)
    (meta,) = dataset.storage.get_episode_metadata([0])
    assert isinstance(meta["seed"], int)
    assert all(
        recorded == replayed for recorded, replayed in replay_returns(dataset, "qgym/Trading-ChainRegime-v0")
    )
    (episode,) = dataset.iterate_episodes()
    assert list(episode.infos["regime"][:3]) != [], "the regime's name is kept as text"


def test_recordings_get_the_next_free_version(tmp_path: Path) -> None:
    ids = [_play(FARM, _season(3), 0, tmp_path)[1] for _ in range(2)]
    assert ids == ["qgym/GridFarm-1x1-v0/human-v0", "qgym/GridFarm-1x1-v0/human-v1"]


def test_the_recorded_policy_is_valued_exactly(tmp_path: Path) -> None:
    _, dataset_id = _play(FARM, _season(100), 0, tmp_path)
    dataset = load_recording(tmp_path, dataset_id)
    env = gym.make(FARM)
    policy = empirical_policy(dataset, env)
    model = planning.model_of(env)
    assert policy.shape == (model.n_states, model.n_actions)
    np.testing.assert_allclose(policy.sum(axis=1), 1.0)
    (episode,) = dataset.iterate_episodes()
    for state, action in zip(episode.observations[:-1], episode.actions, strict=True):
        assert policy[state, action] > 0, "every recorded choice has weight in its state"
    value = planning.policy_return(model, policy, horizon=100)
    assert value < known_optimum(FARM)


def test_enjoy_records_the_agents_episodes(tmp_path: Path) -> None:
    from qgym.agents import QLearning

    model = tmp_path / "farm.zip"
    QLearning("TabularPolicy", FARM, seed=0).learn(2_000).save(model)
    folder = tmp_path / "data"
    assert (
        main(
            ["enjoy", str(model), "--env", FARM, "--episodes", "2", "--fps", "1000", "--record", str(folder)]
        )
        == 0
    )
    dataset = load_recording(folder, "qgym/GridFarm-1x1-v0/agent-v0")
    assert dataset.total_episodes == 2
    seeds = [meta["seed"] for meta in dataset.storage.get_episode_metadata([0, 1])]
    assert seeds == [0, 1]
    assert all(recorded == replayed for recorded, replayed in replay_returns(dataset, FARM))


def test_recording_without_minari_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_import = builtins.__import__

    def no_minari(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "minari" or name.startswith("minari."):
            raise ImportError("No module named 'minari'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_minari)
    with pytest.raises(ValueError, match=r"qgym\[minari\]"):
        datasets.EpisodeRecorder(gym.make(FARM), FARM)
    assert main(["play", FARM, "--record", str(tmp_path)]) == 2
    assert "pip install 'qgym[minari]'" in capsys.readouterr().err
