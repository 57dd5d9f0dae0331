"""The model-driven vector env: it samples the exact model, replays the single env, autoresets on the next
step, truncates at the spec's limit, is seeded, refuses what it cannot step, and trains a table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env import DummyVecEnv

from qgym import planning
from qgym.envs import model_vector
from qgym.envs.model_vector import ModelVectorEnv, make_model_vec
from qgym.vec_adapter import SB3VecEnv

TOY_TEXT = ["FrozenLake-v1", "FrozenLake8x8-v1", "Taxi-v4", "CliffWalking-v1"]
# qgym rungs whose observation is their model's state index and whose model is small.
QGYM = ["qgym/GridFarm-1x1-Det-v0", "qgym/GridFarm-1x1-v0", "qgym/GridFarm-1x2-v0", "qgym/Trading-Chain-v0"]
QGYM += ["qgym/Trading-ChainRegime-v0", "qgym/Trading-ChainCostly-v0"]
LEFT, DOWN, RIGHT, UP = range(4)


@pytest.mark.parametrize("env_id", TOY_TEXT + QGYM)
def test_it_batches_the_single_env_spaces_and_keeps_the_spec_time_limit(env_id: str) -> None:
    if gym.spec(env_id).max_episode_steps is None:  # CliffWalking: no limit, and a warning saying so
        with pytest.warns(UserWarning, match=f"env {env_id} has no time limit.*pass max_episode_steps=N"):
            envs = make_model_vec(env_id, num_envs=5)
    else:
        envs = make_model_vec(env_id, num_envs=5)
    single = gym.make(env_id)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert envs.single_observation_space == single.observation_space
    assert envs.observation_space == spaces.MultiDiscrete([single.observation_space.n] * 5)  # type: ignore[attr-defined]
    assert envs.action_space == spaces.MultiDiscrete([single.action_space.n] * 5)  # type: ignore[attr-defined]
    assert envs.max_episode_steps == gym.spec(env_id).max_episode_steps
    obs, info = envs.reset(seed=0)
    assert envs.observation_space.contains(obs)
    assert obs.dtype == np.int64
    assert info == {}
    obs2, _, _, _, info2 = envs.step(envs.action_space.sample())
    assert info2 == {}
    assert info2 is not info
    assert obs2 is not obs
    assert envs.render() is None
    envs.close()


@pytest.mark.parametrize("env_id", QGYM)
def test_the_qgym_rungs_it_takes_observe_their_model_state_index(env_id: str) -> None:
    """Why these rungs qualify: with their registered observation (the farm's default obs_mode, the
    chain's index) every observation along an episode is ``planning.current_state``."""
    env = gym.make(env_id)
    obs, _ = env.reset(seed=1)
    assert obs == planning.current_state(env)
    for action in np.random.default_rng(1).integers(env.action_space.n, size=60).tolist():  # type: ignore[attr-defined]
        obs, _, _, _, _ = env.step(action)
        assert obs == planning.current_state(env)


# CliffWalking has no registered limit: 60 steps here, so that truncation is replayed too.
REPLAY = [(env_id, {}) for env_id in TOY_TEXT[:3]] + [
    ("CliffWalking-v1", {"max_episode_steps": 60}),
    ("CliffWalking-v1", {"max_episode_steps": 60, "is_slippery": True}),
    ("FrozenLake-v1", {"is_slippery": False, "max_episode_steps": 12}),
]


@pytest.mark.parametrize(("env_id", "kwargs"), REPLAY, ids=lambda case: str(case))
def test_a_vector_of_one_replays_the_toy_text_env_exactly(env_id: str, kwargs: dict[str, Any]) -> None:
    """Same seed and actions: the same observations, rewards, ends, across autoresets (the draws
    are the toy-text env's own: one uniform per reset and per step)."""
    single = gym.make(env_id, **kwargs)
    rules = {key: value for key, value in kwargs.items() if key != "max_episode_steps"}
    vector = make_model_vec(env_id, num_envs=1, max_episode_steps=kwargs.get("max_episode_steps"), **rules)
    obs, _ = single.reset(seed=7)
    vec_obs, _ = vector.reset(seed=7)
    assert vec_obs[0] == obs
    done, ends = False, 0
    for action in np.random.default_rng(1).integers(single.action_space.n, size=1500).tolist():  # type: ignore[attr-defined]
        if done:
            obs, _ = single.reset()
            reward, terminated, truncated = 0.0, False, False
            ends += 1
        else:
            obs, reward, terminated, truncated, _ = single.step(action)
        vec_obs, rewards, vec_terminated, vec_truncated, _ = vector.step(np.array([action]))
        assert (vec_obs[0], rewards[0], vec_terminated[0], vec_truncated[0]) == (
            obs,
            reward,
            terminated,
            truncated,
        )
        done = terminated or truncated
    assert ends >= 5


# (env, state, action): slippery moves, a deterministic one, the farm's nature, the chain's regimes.
ONE_STEP = [
    ("FrozenLake-v1", 6, DOWN),
    ("FrozenLake8x8-v1", 18, RIGHT),  # a slip may end in the hole at 19
    ("CliffWalking-v1", 25, DOWN),
    ("Taxi-v4", 328, 1),
    ("qgym/GridFarm-1x2-v0", 52, 5),
    ("qgym/Trading-ChainRegime-v0", 40, 1),
]


@pytest.mark.parametrize(("env_id", "state", "action"), ONE_STEP)
def test_one_step_of_many_sub_envs_follows_the_exact_model(env_id: str, state: int, action: int) -> None:
    """20,000 sub-envs in one state, one step: every (next state, reward, terminated) seen is an
    outcome of the model, and each outcome's frequency is within 5 sigma of its probability."""
    n = 20_000
    kwargs: dict[str, Any] = (
        {"is_slippery": True, "max_episode_steps": 10} if env_id == "CliffWalking-v1" else {}
    )
    envs = make_model_vec(env_id, num_envs=n, **kwargs)
    envs.reset(seed=3)
    envs.set_state_indices(state)
    obs, rewards, terminated, _, _ = envs.step(np.full(n, action))
    expected: dict[tuple[int, float, bool], float] = {}
    for prob, next_state, reward, done in envs.model.outcomes(state, action):
        key = (next_state, reward, done)
        expected[key] = expected.get(key, 0.0) + prob
    seen = list(zip(obs.tolist(), rewards.tolist(), terminated.tolist(), strict=True))
    assert set(seen) <= set(expected)
    counts = dict.fromkeys(expected, 0)
    for key in seen:
        counts[key] += 1
    assert len(expected) >= (1 if env_id == "Taxi-v4" else 2)
    for key, prob in expected.items():
        sigma = np.sqrt(prob * (1 - prob) / n)
        assert abs(counts[key] / n - prob) <= 5 * sigma + 1e-12, (key, prob, counts[key] / n)


def test_the_frequency_check_would_catch_a_wrong_model() -> None:
    """The bound above has power: FrozenLake's three slips (1/3 each) are told from 0.4 / 0.3 / 0.3."""
    n = 20_000
    envs = make_model_vec("FrozenLake-v1", num_envs=n)
    envs.reset(seed=3)
    envs.set_state_indices(6)
    obs, _, _, _, _ = envs.step(np.full(n, DOWN))
    reached = [float(np.mean(obs == state)) for _, state, _, _ in envs.model.outcomes(6, DOWN)]
    wrong = [0.4, 0.3, 0.3]
    assert any(abs(f - p) > 5 * np.sqrt(p * (1 - p) / n) for f, p in zip(reached, wrong, strict=True))


def _first_episode_returns(envs: ModelVectorEnv, policy: np.ndarray, seed: int) -> np.ndarray:
    """Each sub-env's first episode under the stochastic ``policy`` (S, A): no bias towards short ones."""
    n = envs.num_envs
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(policy, axis=1)
    states, _ = envs.reset(seed=seed)
    returns, running = np.full(n, np.nan), np.zeros(n)
    while np.isnan(returns).any():
        actions = (cumulative[states] <= rng.random(n)[:, None]).sum(axis=1)
        states, rewards, terminated, truncated, _ = envs.step(np.minimum(actions, policy.shape[1] - 1))
        running += rewards
        ended = (terminated | truncated) & np.isnan(returns)
        returns[ended] = running[ended]
    return returns


def _single_env_returns(env: gym.Env[Any, Any], policy: np.ndarray, episodes: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    returns = np.zeros(episodes)
    for episode in range(episodes):
        state, _ = env.reset(seed=seed + episode)
        done = False
        while not done:
            action = int(rng.choice(policy.shape[1], p=policy[state]))
            state, reward, terminated, truncated, _ = env.step(action)
            returns[episode] += float(reward)
            done = terminated or truncated
    return returns


@pytest.mark.parametrize(
    ("env_id", "kwargs", "epsilon"),
    [("FrozenLake-v1", {}, 0.0), ("CliffWalking-v1", {"max_episode_steps": 100}, 0.1)],
)
def test_returns_match_the_single_env_and_the_exact_expected_return(
    env_id: str, kwargs: dict[str, Any], epsilon: float
) -> None:
    """The optimal policy (epsilon-greedy on the cliff, where the greedy one never varies): mean
    returns of 4,000 vector episodes and 600 single-env episodes agree with each other and with
    the policy's exact expected return (planning), within 4 standard errors."""
    single = gym.make(env_id, **kwargs)
    envs = make_model_vec(env_id, num_envs=4000, max_episode_steps=kwargs.get("max_episode_steps"))
    horizon = envs.max_episode_steps
    greedy = planning.value_iteration(envs.model, gamma=0.999).policy
    n_actions = envs.model.n_actions
    policy = np.full((envs.model.n_states, n_actions), epsilon / n_actions)
    policy[np.arange(envs.model.n_states), greedy] += 1.0 - epsilon
    exact = planning.policy_return(envs.model, policy, horizon=horizon)
    vector = _first_episode_returns(envs, policy, seed=0)
    lone = _single_env_returns(single, policy, 600, seed=0)
    se_vector = vector.std(ddof=1) / np.sqrt(len(vector))
    se_lone = lone.std(ddof=1) / np.sqrt(len(lone))
    assert se_vector > 0
    assert abs(vector.mean() - exact) <= 4 * se_vector
    assert abs(lone.mean() - exact) <= 4 * se_lone
    assert abs(vector.mean() - lone.mean()) <= 4 * np.hypot(se_vector, se_lone)


def test_a_finished_sub_env_restarts_on_the_next_step_ignoring_its_action() -> None:
    """On the 4x4 lake without slips: sub-env 0 walks into the hole at 5, sub-env 1 to the goal."""
    envs = make_model_vec("FrozenLake-v1", num_envs=2, is_slippery=False)
    obs, _ = envs.reset(seed=0)
    np.testing.assert_array_equal(obs, [0, 0])
    path = [(RIGHT, DOWN), (DOWN, DOWN), (UP, RIGHT), (UP, DOWN), (UP, RIGHT), (UP, RIGHT)]
    seen = []
    for actions in path:
        obs, rewards, terminated, truncated, _ = envs.step(np.array(actions))
        seen.append((obs.tolist(), rewards.tolist(), terminated.tolist(), truncated.tolist()))
    assert seen[1] == ([5, 8], [0.0, 0.0], [True, False], [False, False])  # the hole ends sub-env 0
    assert seen[2] == ([0, 9], [0.0, 0.0], [False, False], [False, False])  # restarted, UP ignored
    assert seen[3] == ([0, 13], [0.0, 0.0], [False, False], [False, False])  # UP at the start stays
    assert seen[5] == ([0, 15], [0.0, 1.0], [False, True], [False, False])  # the goal pays 1
    obs, rewards, terminated, _, _ = envs.step(np.array([DOWN, UP]))
    assert (obs.tolist(), rewards.tolist(), terminated.tolist()) == ([4, 0], [0.0, 0.0], [False, False])


def test_placing_sub_envs_in_a_state_cancels_a_pending_autoreset() -> None:
    envs = make_model_vec("FrozenLake-v1", num_envs=1, is_slippery=False)
    envs.reset(seed=0)
    envs.set_state_indices(14)
    _, rewards, terminated, _, _ = envs.step(np.array([RIGHT]))
    assert (rewards[0], terminated[0]) == (1.0, True)
    envs.set_state_indices(14)
    obs, rewards, terminated, _, _ = envs.step(np.array([RIGHT]))  # not a reset step: it moves
    assert (obs[0], rewards[0], terminated[0]) == (15, 1.0, True)


def test_episodes_are_truncated_at_the_spec_limit_and_restart_the_step_after() -> None:
    envs = make_model_vec("FrozenLake-v1", num_envs=3, is_slippery=False)
    assert envs.max_episode_steps == 100
    envs.reset(seed=0)
    for step in range(1, 101):
        obs, _, terminated, truncated, _ = envs.step(np.full(3, LEFT))  # against the wall: stays at 0
        assert not terminated.any()
        assert truncated.all() == (step == 100)
    obs, rewards, terminated, truncated, _ = envs.step(np.full(3, DOWN))  # the reset step
    np.testing.assert_array_equal(obs, 0)
    np.testing.assert_array_equal(rewards, 0.0)
    assert not (terminated | truncated).any()
    np.testing.assert_array_equal(envs.elapsed_steps, 0)
    obs, _, _, _, _ = envs.step(np.full(3, DOWN))
    np.testing.assert_array_equal(obs, 4)
    assert make_model_vec("FrozenLake-v1", num_envs=1, max_episode_steps=7).max_episode_steps == 7


def _rollout(env_id: str, seed: int) -> list[np.ndarray]:
    envs = make_model_vec(env_id, num_envs=16)
    trace = [envs.reset(seed=seed)[0]]
    n_actions = int(envs.single_action_space.n)  # type: ignore[attr-defined]
    for actions in np.random.default_rng(0).integers(n_actions, size=(150, 16)):
        obs, rewards, terminated, truncated, _ = envs.step(actions)
        trace += [obs, rewards, terminated, truncated]
    return trace


@pytest.mark.parametrize("env_id", ["FrozenLake8x8-v1", "Taxi-v4", "qgym/GridFarm-1x2-v0"])
def test_the_same_seed_gives_the_same_batches_and_another_seed_others(env_id: str) -> None:
    first = _rollout(env_id, 11)
    for a, b in zip(first, _rollout(env_id, 11), strict=True):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    assert any(not np.array_equal(a, b) for a, b in zip(first, _rollout(env_id, 12), strict=True))


class TinyChain(gym.Env[int, int]):
    """A user's toy-text-style env: states 0..3 on a line, action 1 moves right with probability 0.8,
    action 0 stays; reaching 3 pays 1 and ends the episode."""

    def __init__(self) -> None:
        self.observation_space = spaces.Discrete(4)
        self.action_space = spaces.Discrete(2)
        self.P = {
            s: {0: [(1.0, s, 0.0, False)], 1: [(0.8, s + 1, float(s == 2), s == 2), (0.2, s, 0.0, False)]}
            for s in range(3)
        }
        self.P[3] = {0: [(1.0, 3, 0.0, True)], 1: [(1.0, 3, 0.0, True)]}
        self.initial_state_distrib = np.array([0.5, 0.5, 0.0, 0.0])
        self.s = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[int, dict]:
        super().reset(seed=seed)
        self.s = int(self.np_random.choice(4, p=self.initial_state_distrib))
        return self.s, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict]:
        outcomes = self.P[self.s][action]
        k = int(self.np_random.choice(len(outcomes), p=[o[0] for o in outcomes]))
        _, self.s, reward, terminated = outcomes[k]
        return self.s, reward, terminated, False, {}


class MirroredChain(TinyChain):
    """The same chain observed from the other end: Discrete(4), but not the state index."""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[int, dict]:
        state, info = super().reset(seed=seed, options=options)
        return 3 - state, info


@pytest.fixture
def tiny_chain_id() -> Iterator[str]:
    env_id = "qgym-test/TinyChain-v0"
    gym.register(env_id, entry_point=TinyChain, max_episode_steps=6)
    try:
        yield env_id
    finally:
        del gym.registry[env_id]


def test_a_user_registered_env_with_p_works_by_id_and_as_an_env(tiny_chain_id: str) -> None:
    envs = make_model_vec(tiny_chain_id, num_envs=2000)
    assert envs.max_episode_steps == 6
    obs, _ = envs.reset(seed=0)
    assert set(obs.tolist()) == {0, 1}
    total, running = np.zeros(2000), np.ones(2000, dtype=bool)
    for _ in range(6):  # the first episode of each: it ends by step 6, at the goal or the limit
        _, rewards, terminated, truncated, _ = envs.step(np.ones(2000, dtype=np.int64))
        total += np.where(running, rewards, 0.0)
        running &= ~(terminated | truncated)
    assert not running.any()
    exact = planning.policy_return(envs.model, np.ones(4, dtype=np.int64), horizon=6)
    assert abs(total.mean() - exact) <= 4 * total.std() / np.sqrt(2000)
    with pytest.warns(UserWarning, match="env TinyChain has no time limit"):
        by_instance = ModelVectorEnv(TinyChain(), num_envs=3)
    assert by_instance.max_episode_steps is None
    assert by_instance.reset(seed=0)[0].shape == (3,)


def _broken_chain(**changes: Any) -> TinyChain:
    env = TinyChain()
    for name, value in changes.items():
        setattr(env, name, value)
    return env


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: ModelVectorEnv("FrozenLake-v1", 0), "num_envs must be a positive integer, got 0"),
        (lambda: ModelVectorEnv("FrozenLake-v1", -3), "num_envs must be a positive integer, got -3"),
        (lambda: ModelVectorEnv("FrozenLake-v1", 2.0), "num_envs must be a positive integer, got 2.0"),
        (lambda: ModelVectorEnv("FrozenLake-v1", True), "num_envs must be a positive integer, got True"),
        (lambda: make_model_vec("FrozenLake-v1", "8"), "num_envs must be a positive integer, got '8'"),
        (lambda: make_model_vec("FrozenLake-v1", 2, max_episode_steps=0), "max_episode_steps must be"),
        (lambda: ModelVectorEnv("FrozenLake-v1", 2, render_mode="human"), "render_mode must be None or"),
        (lambda: ModelVectorEnv(TinyChain(), 2, map_name="8x8"), r"env arguments \['map_name'\] go with"),
        (lambda: ModelVectorEnv(3, 2), "env must be a Gymnasium ID or a gymnasium.Env, got int"),  # type: ignore[arg-type]
        (lambda: make_model_vec(None, 2), "env_id must be a Gymnasium ID"),  # type: ignore[arg-type]
        (lambda: make_model_vec("CartPole-v1", 2), "env CartPole-v1 has no exact model: .* P and"),
        (lambda: make_model_vec("qgym/Trading-Market-v0", 2), "env qgym/Trading-Market-v0 has no exact"),
        (lambda: make_model_vec("qgym/GridFarm-3x3-v0", 2), "GridFarm-3x3-v0: a 3x3 field has no exact"),
        (lambda: make_model_vec("qgym/GridFarm-2x2-v0", 2), r"9,604 states x 8 actions.*gym.make_vec"),
        (
            lambda: make_model_vec("qgym/GridFarm-1x1-v0", 2, obs_mode="factored"),
            r"observes MultiDiscrete\(\[7 1 1\]\).*state index, Discrete\(7\).*obs_mode='index'",
        ),
        (
            lambda: make_model_vec("qgym/Trading-Chain-v0", 2, observation="features"),
            r"Trading-Chain-v0 observes Box.*observation='index'",
        ),
        (lambda: make_model_vec("Taxi-v4", 2, fickle_passenger=True), "fickle_passenger=True"),
        (
            lambda: ModelVectorEnv(_broken_chain(observation_space=spaces.Discrete(5)), 2),
            r"observes Discrete\(5\)",
        ),
        (lambda: ModelVectorEnv(MirroredChain(), 2), r"observed 2 in its model's state 1"),
        (
            lambda: ModelVectorEnv(_broken_chain(initial_state_distrib=np.array([0.5, 0.2, 0, 0])), 2),
            "initial_state_distrib must sum to 1",
        ),
    ],
)
def test_bad_arguments_and_envs_raise_sentences_that_name_them(make: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


# One test per malformed model: tests/hostile/test_model_vector_inputs.py.


def test_a_model_above_the_memory_bound_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_vector, "MAX_TABLE_ENTRIES", 2_999)
    with pytest.raises(ValueError, match=r"env Taxi-v4's P has 500 states x 6 actions, more than the 2,999"):
        make_model_vec("Taxi-v4", 2)


def test_states_and_actions_outside_the_spaces_are_refused() -> None:
    envs = make_model_vec("FrozenLake-v1", num_envs=2)
    with pytest.raises(RuntimeError, match="reset"):
        envs.step(np.zeros(2, dtype=np.int64))
    envs.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions must be integers in \[0, 3\]"):
        envs.step(np.array([0, 4]))
    with pytest.raises(ValueError, match=r"indices must be state indices in \[0, 15\]"):
        envs.set_state_indices(16)
    with pytest.raises(ValueError, match="indices must be state indices"):
        envs.set_state_indices([True, False])


def test_through_the_sb3_adapter_it_matches_dummy_vec_env_of_the_single_env() -> None:
    """Same seed and actions: same observations, rewards, dones and terminal observations."""
    env_id = "FrozenLake8x8-v1"
    adapted = SB3VecEnv(make_model_vec(env_id, num_envs=1))
    dummy = DummyVecEnv([lambda: gym.make(env_id)])
    actions = np.random.default_rng(2).integers(4, size=(600, 1))
    traces = []
    for venv in (adapted, dummy):
        venv.seed(4)
        trace: list[Any] = [venv.reset()]
        for action in actions:
            obs, rewards, dones, infos = venv.step(action)
            ends = [
                (info["terminal_observation"], info["TimeLimit.truncated"])
                for info in infos
                if "terminal_observation" in info
            ]
            trace += [obs, rewards, dones, ends]
        traces.append(trace)
    assert sum(np.sum(d) for d in traces[0][3::4]) >= 5
    for a, b in zip(*traces, strict=True):
        if isinstance(a, list):
            assert [(int(o), t) for o, t in a] == [(int(o), t) for o, t in b]
        else:
            np.testing.assert_array_equal(a, b)


def test_q_learning_on_the_adapted_env_learns_frozenlake_to_90_percent_of_the_optimum() -> None:
    from qgym.agents import QLearning

    envs = make_model_vec("FrozenLake-v1", num_envs=64)
    model, horizon = envs.model, envs.max_episode_steps
    assert horizon == 100
    optimum = planning.expected_return(model, planning.backward_induction(model, horizon).values)
    agent = QLearning(
        "TabularPolicy", SB3VecEnv(envs), learning_rate=0.01, visit_decay=0.6, gamma=0.99, seed=0
    )
    agent.learn(200_000)
    greedy = planning.greedy_policy(agent.q_table)
    assert planning.policy_return(model, greedy, horizon=horizon) >= 0.9 * optimum
