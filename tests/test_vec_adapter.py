"""The SB3 adapter: same-step autoreset, terminal observations, and SB3 / qgym agents training on it."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecMonitor

from qgym import planning
from qgym.vec_adapter import BatchMonitor, SB3VecEnv, UnravelObservations, make_sb3_vec_env


def _trace(venv: VecEnv, steps: int, seed: int) -> list[Any]:
    venv.seed(seed)
    trace: list[Any] = [venv.reset()]
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        obs, rewards, dones, infos = venv.step(rng.integers(venv.action_space.n, size=venv.num_envs))  # type: ignore[attr-defined]
        ends = [
            (i, info["terminal_observation"], info["TimeLimit.truncated"])
            for i, info in enumerate(infos)
            if dones[i]
        ]
        trace += [obs, rewards, dones, ends]
    return trace


def _assert_same_traces(first: list[Any], second: list[Any]) -> None:
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        if isinstance(a, list):
            assert len(a) == len(b)
            for (i, obs, truncated), (j, obs2, truncated2) in zip(a, b, strict=True):
                assert (i, truncated) == (j, truncated2)
                np.testing.assert_array_equal(obs, obs2)
        else:
            np.testing.assert_array_equal(a, b)
            assert np.asarray(a).dtype == np.asarray(b).dtype


@pytest.mark.parametrize(
    "env_id", ["qgym/GridFarm-1x2-v0", "qgym/Trading-ChainRegime-v0", "qgym/Trading-Market-v0"]
)
def test_the_adapted_native_env_of_one_matches_sb3_dummy_vec_env(env_id: str) -> None:
    """Same seed and actions: the same observations, rewards (float32), dones and terminal observations."""
    native = SB3VecEnv(gym.make_vec(env_id, num_envs=1))
    dummy = DummyVecEnv([lambda: gym.make(env_id)])
    _assert_same_traces(_trace(native, 320, seed=3), _trace(dummy, 320, seed=3))


def test_unravelled_observations_of_the_native_env_match_the_wrapped_single_env() -> None:
    """The 2x2 DQN preset's UnravelObservation on the whole batch (the native path) gives the
    single-env wrapper's observations, terminal ones included, so the preset no longer needs Python envs."""
    from qgym.wrappers import UnravelObservation

    dims = [7, 7, 7, 7, 4]
    env_id = "qgym/GridFarm-2x2-v0"
    native = UnravelObservations(SB3VecEnv(gym.make_vec(env_id, num_envs=1, max_episode_steps=30)), dims)
    dummy = DummyVecEnv([lambda: UnravelObservation(gym.make(env_id, max_episode_steps=30), dims)])
    assert native.observation_space == dummy.observation_space
    _assert_same_traces(_trace(native, 100, seed=5), _trace(dummy, 100, seed=5))
    with pytest.raises(ValueError, match=r"dims \[7, 7\] must multiply to the states of Discrete\(9604\)"):
        UnravelObservations(SB3VecEnv(gym.make_vec(env_id, num_envs=1)), [7, 7])


def test_the_2x2_dqn_preset_trains_on_the_native_vector_env() -> None:
    from qgym import training
    from qgym.training.envs import make_env
    from qgym.vec_adapter import ScaleRewards

    preset = training.load_preset("dqn", "qgym/GridFarm-2x2-v0")
    venv = make_env("qgym/GridFarm-2x2-v0", 4, preset["env_wrapper"], 0)
    assert isinstance(venv, ScaleRewards)
    assert venv.scale == pytest.approx(0.25)
    assert isinstance(venv.venv, UnravelObservations)
    assert venv.reset().shape == (4, 5)
    assert venv.step_arrays(np.zeros(4, dtype=np.int64)).observations.shape == (4, 5)


def test_the_adapted_sync_vector_env_matches_dummy_vec_env() -> None:
    """Any NEXT_STEP Gymnasium vector env works, not only the native ones."""
    env_id = "qgym/Trading-Chain-v0"
    sync = SB3VecEnv(gym.make_vec(env_id, num_envs=3, vectorization_mode="sync", max_episode_steps=40))
    dummy = DummyVecEnv([lambda: gym.make(env_id, max_episode_steps=40) for _ in range(3)])
    _assert_same_traces(_trace(sync, 130, seed=8), _trace(dummy, 130, seed=8))


def test_a_finished_sub_env_restarts_in_the_same_step_keeping_its_last_observation() -> None:
    venv = SB3VecEnv(gym.make_vec("qgym/GridFarm-1x1-Det-v0", num_envs=2, max_episode_steps=2))
    venv.reset()
    obs, _, dones, _ = venv.step(np.array([4, 7]))  # plant, wait
    assert not dones.any()
    planted = obs.copy()
    obs, rewards, dones, infos = venv.step(np.array([7, 7]))
    assert dones.all()
    np.testing.assert_array_equal(obs, 0)  # both restarted: an empty 1x1 farm is state 0
    np.testing.assert_array_equal(rewards, 0.0)
    assert infos[0]["TimeLimit.truncated"] is True
    assert infos[0]["terminal_observation"] != 0
    assert infos[1]["terminal_observation"] == 0
    assert planted[0] == infos[0]["terminal_observation"]  # a dry seed needs water to grow
    _, rewards, dones, _ = venv.step(np.array([4, 4]))  # the action of the new episode is not lost
    np.testing.assert_array_equal(rewards, -1.0)
    assert not dones.any()


def test_make_sb3_vec_env_records_episodes_for_sb3_logs() -> None:
    venv = make_sb3_vec_env("qgym/Trading-Chain-v0", num_envs=4, seed=0, episode_length=5)
    venv.reset()
    infos: list[dict[str, Any]] = []
    for _ in range(5):
        _, _, _, infos = venv.step(np.zeros(4, dtype=np.int64))
    assert all(info["episode"]["l"] == 5 for info in infos)


def _episodes(infos: list[dict[str, Any]]) -> list[tuple[int, Any, Any]]:
    return [
        (i, info["episode"]["r"], info["episode"]["l"]) for i, info in enumerate(infos) if "episode" in info
    ]


@pytest.mark.parametrize("keep_info", [False, True])
def test_batch_monitor_records_what_sb3_vec_monitor_records(keep_info: bool) -> None:
    """Same episode returns (float32), lengths and counts, in ``step`` and in ``step_arrays``; the same
    terminal observations; the array step's info list is the ``step`` one."""

    def adapted() -> SB3VecEnv:
        venv = SB3VecEnv(gym.make_vec("qgym/GridFarm-1x2-v0", num_envs=16, max_episode_steps=30), keep_info)
        venv.seed(2)
        return venv

    sb3, ours, arrays = VecMonitor(adapted()), BatchMonitor(adapted()), BatchMonitor(adapted())
    for monitor in (sb3, ours, arrays):
        monitor.reset()
    rng = np.random.default_rng(0)
    finished = 0
    for _ in range(200):
        actions = rng.integers(8, size=16)
        expected, got = sb3.step(actions), ours.step(actions)
        step = arrays.step_arrays(actions)
        for obs, rewards, dones, infos in (got, (step.observations, step.rewards, step.dones, step.infos())):
            np.testing.assert_array_equal(obs, expected[0])
            np.testing.assert_array_equal(rewards, expected[1])
            np.testing.assert_array_equal(dones, expected[2])
            assert _episodes(infos) == _episodes(expected[3])
            assert [sorted(info) for info in infos] == [sorted(info) for info in expected[3]]
            for info, sb3_info in zip(infos, expected[3], strict=True):
                if "terminal_observation" in info:
                    np.testing.assert_array_equal(
                        info["terminal_observation"], sb3_info["terminal_observation"]
                    )
        assert [info["episode"]["l"] for info in step.finished_infos] == [
            expected[3][i]["episode"]["l"] for i in step.finished.tolist()
        ]
        finished += len(step.finished)
    assert sb3.episode_count == ours.episode_count == arrays.episode_count == finished > 16


def test_batch_monitor_takes_any_vec_env_sb3_vec_monitor_takes() -> None:
    """Tuple observations (Blackjack) through a DummyVecEnv: the same episodes as VecMonitor."""

    def blackjack() -> DummyVecEnv:
        venv = DummyVecEnv([lambda: gym.make("Blackjack-v1")] * 3)
        venv.seed(4)
        return venv

    sb3, ours = VecMonitor(blackjack()), BatchMonitor(blackjack())
    sb3.reset()
    ours.reset()
    rng = np.random.default_rng(1)
    for _ in range(40):
        actions = rng.integers(2, size=3)
        expected, got = sb3.step(actions), ours.step(actions)
        assert _episodes(got[3]) == _episodes(expected[3])
    assert ours.episode_count == sb3.episode_count > 10


def test_keep_info_copies_the_vector_infos_per_env_and_env_method_splits_batches() -> None:
    venv = SB3VecEnv(gym.make_vec("qgym/Trading-Chain-v0", num_envs=3), keep_info=True)
    venv.reset()
    _, _, _, infos = venv.step(np.array([1, 0, 2]))
    assert [info["position"] for info in infos] == [1, 0, -1]
    masks = venv.env_method("action_masks")
    assert len(masks) == 3
    np.testing.assert_array_equal(masks[0], [1, 0, 1])
    assert venv.get_attr("num_envs", indices=[0, 2]) == [3, 3]
    assert venv.env_is_wrapped(gym.Wrapper) == [False, False, False]


def test_the_adapter_refuses_what_it_cannot_adapt() -> None:
    with pytest.raises(TypeError, match=r"venv must be a gymnasium\.vector\.VectorEnv"):
        SB3VecEnv(gym.make("qgym/Trading-Chain-v0"))  # type: ignore[arg-type]
    same_step = gym.make_vec(
        "qgym/Trading-Chain-v0",
        num_envs=2,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
    )
    with pytest.raises(ValueError, match="NEXT_STEP"):
        SB3VecEnv(same_step)
    venv = SB3VecEnv(gym.make_vec("qgym/Trading-Chain-v0", num_envs=2))
    with pytest.raises(ValueError, match="indices must be None"):
        venv.set_attr("levels", 5, indices=[0])


def test_dqn_trains_on_the_adapted_native_env() -> None:
    torch = pytest.importorskip("torch")
    from stable_baselines3 import DQN

    torch.set_num_threads(1)
    venv = make_sb3_vec_env("qgym/GridFarm-3x3-v0", num_envs=4, seed=0, max_episode_steps=25)
    model = DQN("MlpPolicy", venv, learning_starts=100, buffer_size=2_000, train_freq=4, seed=0)
    model.learn(800)
    assert model.num_timesteps >= 800
    assert len(model.ep_info_buffer) >= 4 * 800 // 4 // 25 - 4
    actions, _ = model.predict(venv.reset(), deterministic=True)
    assert actions.shape == (4,)


def _greedy_return(env_id: str, q_table: np.ndarray) -> float:
    model = planning.model_of(gym.make(env_id))
    horizon = gym.spec(env_id).max_episode_steps
    return planning.policy_return(model, planning.greedy_policy(q_table), horizon=horizon)


def test_q_learning_on_many_native_envs_reaches_the_optimum_reproducibly() -> None:
    from qgym.agents import QLearning

    env_id = "qgym/GridFarm-1x1-Det-v0"

    def train(seed: int) -> np.ndarray:
        venv = make_sb3_vec_env(env_id, num_envs=16, seed=seed)
        return QLearning("TabularPolicy", venv, gamma=1.0, seed=seed).learn(20_000).q_table.copy()

    first = train(0)
    np.testing.assert_array_equal(first, train(0))
    assert _greedy_return(env_id, first) >= 0.95 * 96.0
