"""Vector envs draw as Gymnasium's do: one frame per sub-env, each the single env's frame pixel for
pixel, so Gymnasium's vector RecordVideo and HumanRendering and SB3's VecVideoRecorder work on every
native vector env (every qgym ID) and every model-driven one (the toy-text envs)."""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers.vector import HumanRendering, RecordVideo

from qgym.envs import qgym_env_ids
from qgym.envs.model_vector import ModelVectorEnv, make_model_vec
from qgym.vec_adapter import SB3VecEnv

NATIVE = [env_id for env_id in qgym_env_ids() if gym.spec(env_id).vector_entry_point is not None]
MODEL_DRIVEN = ["FrozenLake-v1", "FrozenLake8x8-v1", "Taxi-v4", "CliffWalking-v1"]
LIMIT = 30  # a short season, so each replay crosses episode ends


def native(env_id: str, num_envs: int, **kwargs: Any) -> Any:
    return gym.make_vec(env_id, num_envs=num_envs, max_episode_steps=LIMIT, render_mode="rgb_array", **kwargs)


def model_driven(env_id: str, num_envs: int, **kwargs: Any) -> Any:
    return make_model_vec(env_id, num_envs, max_episode_steps=LIMIT, render_mode="rgb_array", **kwargs)


def single(env_id: str, **kwargs: Any) -> gym.Env[Any, Any]:
    return gym.make(env_id, render_mode="rgb_array", max_episode_steps=LIMIT, **kwargs)


CASES = [(env_id, native) for env_id in NATIVE] + [(env_id, model_driven) for env_id in MODEL_DRIVEN]
IDS = [f"{maker.__name__}-{env_id}" for env_id, maker in CASES]
# The recorders on one env of each kind by default; on every env with the slow checks (.ci/run).
SAMPLE = {"qgym/GridFarm-2x2-v0", "qgym/Trading-ChainRegime-v0", "Taxi-v4"}
RECORDER_CASES = [
    pytest.param(*case, id=name, marks=() if case[0] in SAMPLE else pytest.mark.slow)
    for case, name in zip(CASES, IDS, strict=True)
]


def assert_frames_replay(vector: Any, singles: list[gym.Env[Any, Any]], steps: int, seed: int = 2) -> int:
    """Step ``vector`` and ``singles[i]`` (sub-env i) with the same actions; every frame must be the
    single env's. Returns how many episodes ended."""
    vector.reset(seed=seed)
    for env in singles:
        env.reset(seed=seed)
    rng = np.random.default_rng(0)
    done = [False] * len(singles)
    ended = 0
    for step in range(steps + 1):
        frames = vector.render()
        assert isinstance(frames, tuple)
        assert len(frames) == len(singles)
        for index, env in enumerate(singles):
            np.testing.assert_array_equal(
                frames[index], env.render(), err_msg=f"sub-env {index}, step {step}"
            )
        actions = rng.integers(singles[0].action_space.n, size=len(singles))  # type: ignore[attr-defined]
        for index, env in enumerate(singles):
            if done[index]:
                env.reset()
                done[index] = False
            else:
                _, _, terminated, truncated, _ = env.step(int(actions[index]))
                done[index] = terminated or truncated
                ended += int(done[index])
        vector.step(actions)
    return ended


@pytest.mark.parametrize(("env_id", "make"), CASES, ids=IDS)
def test_a_vector_of_one_draws_every_frame_as_the_single_env(env_id: str, make: Any) -> None:
    vector = make(env_id, 1)
    assert assert_frames_replay(vector, [single(env_id)], steps=2 * LIMIT + 5) >= 2  # across autoresets
    vector.close()


@pytest.mark.parametrize(
    ("make", "env_id", "kwargs"),
    [
        (native, "qgym/GridFarm-1x1-Det-v0", {}),  # deterministic: sub-env i is a single env of its own
        (model_driven, "FrozenLake-v1", {"is_slippery": False}),
    ],
)
def test_every_sub_env_of_a_deterministic_vector_draws_as_its_single_env(
    make: Any, env_id: str, kwargs: dict[str, Any]
) -> None:
    vector = make(env_id, 3, **kwargs)
    singles = [single(env_id, **kwargs) for _ in range(3)]
    assert assert_frames_replay(vector, singles, steps=60) >= 3


@pytest.mark.parametrize(("env_id", "make"), RECORDER_CASES)
def test_gymnasium_vector_record_video_and_human_rendering_take_it(
    env_id: str, make: Any, tmp_path: pathlib.Path
) -> None:
    envs = make(env_id, 3)
    assert envs.metadata["render_fps"] == gym.make(env_id).metadata["render_fps"]
    folder = tmp_path / "videos"
    recorder = RecordVideo(envs, str(folder), episode_trigger=lambda episode: episode == 0, video_length=4)
    recorder.reset(seed=0)
    frames = envs.render()
    height, width = frames[0].shape[:2]
    for _ in range(3):
        recorder.step(np.zeros(3, dtype=np.int64))
    assert len(recorder.recorded_frames) == 4  # the reset and three steps, each a tiling of three frames
    assert recorder.recorded_frames[0].shape[0] * recorder.recorded_frames[0].shape[1] == 3 * height * width
    np.testing.assert_array_equal(recorder.recorded_frames[0][:height, :width], frames[0])
    recorder.close()
    assert [path.suffix for path in folder.iterdir()] == [".mp4"]
    window = HumanRendering(make(env_id, 2))
    window.reset(seed=0)
    window.step(np.zeros(2, dtype=np.int64))
    assert window.window is not None
    window.close()


@pytest.mark.parametrize(("env_id", "make"), RECORDER_CASES)
def test_sb3_vec_video_recorder_gets_a_frame_per_sub_env(
    env_id: str, make: Any, tmp_path: pathlib.Path
) -> None:
    from stable_baselines3.common.vec_env import VecVideoRecorder

    venv = SB3VecEnv(make(env_id, 2))
    venv.seed(0)
    venv.reset()
    images = venv.get_images()
    assert len(images) == 2
    assert all(isinstance(image, np.ndarray) and image.ndim == 3 for image in images)
    recorder = VecVideoRecorder(
        venv, str(tmp_path), record_video_trigger=lambda step: step == 0, video_length=3
    )
    recorder.reset()
    for _ in range(3):
        recorder.step(np.zeros(2, dtype=np.int64))
    recorder.close()
    assert [path.suffix for path in tmp_path.iterdir()] == [".mp4"]


def test_without_render_mode_nothing_is_drawn_and_sb3_gets_no_images() -> None:
    venv = SB3VecEnv(make_model_vec("FrozenLake-v1", 2))
    venv.reset()
    assert venv.get_images() == [None, None]
    assert gym.make_vec("qgym/Trading-Chain-v0", num_envs=2).render() is None


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: make_model_vec("FrozenLake-v1", 2, render_mode=5),
            "render_mode must be None or 'rgb_array'",
        ),
        (lambda: gym.make_vec("qgym/GridFarm-1x1-v0", 2, render_mode="human"), "HumanRendering"),
        (
            lambda: make_model_vec("qgym/Trading-Chain-v0", 2, observation="index", render_mode="rgb_array"),
            "keeps no state index in s",
        ),
        (
            lambda: ModelVectorEnv(gym.make("FrozenLake-v1"), 2, render_mode="rgb_array"),
            "needs an env made with render_mode='rgb_array'",
        ),
    ],
)
def test_a_render_mode_it_cannot_draw_is_refused_in_a_sentence(make: Callable[[], Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_a_model_driven_env_has_the_single_env_spec_with_its_vector_arguments() -> None:
    envs = make_model_vec("FrozenLake-v1", 4, map_name="8x8")
    assert envs.spec is not None
    assert (envs.spec.id, envs.spec.max_episode_steps) == ("FrozenLake-v1", 100)
    assert envs.spec.kwargs["num_envs"] == 4
    assert envs.spec.kwargs["map_name"] == "8x8"
    limited = make_model_vec("CliffWalking-v1", 2, max_episode_steps=50)
    assert limited.spec is not None
    assert limited.spec.max_episode_steps == 50
