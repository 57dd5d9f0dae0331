"""K learners in lockstep: each is the one-learner rule applied to its own transitions, bit for bit;
its tables depend on its seed alone; the model is sampled with its own probabilities; the learners
learn, and each comes out as an ordinary model."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from qgym import planning
from qgym.agents import SARSA, DoubleQLearning, ExpectedSARSA, QLearning
from qgym.agents.base import TabularAlgorithm
from qgym.agents.lockstep import Lockstep
from qgym.agents.model_sampler import ModelSampler

ALGORITHMS = [QLearning, SARSA, ExpectedSARSA, DoubleQLearning]


def _setup(
    cls: type[TabularAlgorithm] = QLearning, env_id: str = "FrozenLake-v1", **settings: Any
) -> tuple[TabularAlgorithm, planning.TabularModel]:
    env = gym.make(env_id)
    model = planning.model_of(env)
    assert isinstance(model, planning.TabularModel)
    kwargs = {"learning_rate": 0.2, "gamma": 0.95, "exploration_fraction": 0.5} | settings
    return cls("TabularPolicy", env, seed=0, **kwargs), model


@pytest.mark.parametrize("cls", ALGORITHMS)
@pytest.mark.parametrize("n_envs", [1, 3])
def test_a_learner_depends_on_its_seed_alone_bit_for_bit(cls: type[TabularAlgorithm], n_envs: int) -> None:
    template, model = _setup(cls)
    crowd = Lockstep(template, model, [5, 9, 11], n_envs=n_envs, max_episode_steps=100).learn(3_000)
    alone = Lockstep(template, model, [9], n_envs=n_envs, max_episode_steps=100).learn(3_000)
    again = Lockstep(template, model, [5, 9, 11], n_envs=n_envs, max_episode_steps=100).learn(3_000)
    np.testing.assert_array_equal(crowd.learner_tables(1), alone.learner_tables(0))
    np.testing.assert_array_equal(crowd.tables, again.tables)
    np.testing.assert_array_equal(crowd.visits, again.visits)
    assert not np.array_equal(crowd.learner_tables(0), crowd.learner_tables(2))


def _no_draws() -> float:
    raise AssertionError("a rule with a batch form draws no random number in its update")


class _Recorder:
    """Wraps a sampler and keeps every step's (states, actions, next states, rewards, terminations)."""

    def __init__(self, sampler: ModelSampler) -> None:
        self.sampler, self.steps = sampler, []  # type: ignore[var-annotated]

    def step(self, states: Any, actions: Any, draws: Any) -> Any:
        outcome = self.sampler.step(states, actions, draws)
        self.steps.append((states.copy(), actions.copy(), *(array.copy() for array in outcome)))
        return outcome

    def start(self, draws: Any) -> Any:
        return self.sampler.start(draws)


@pytest.mark.parametrize("cls", [QLearning, ExpectedSARSA])
@pytest.mark.parametrize(("n_envs", "visit_decay"), [(1, None), (4, None), (4, 0.7)])
def test_each_learner_is_the_one_transition_rule_applied_in_env_order(
    cls: type[TabularAlgorithm], n_envs: int, visit_decay: float | None
) -> None:
    """Replay each learner's transitions through the agent's own per-transition update: same bits."""
    template, model = _setup(cls, exploration_fraction=0.0, exploration_initial_eps=0.3,
                             exploration_final_eps=0.3, visit_decay=visit_decay)  # fmt: skip
    limit = 20
    learners = Lockstep(template, model, [1, 2, 3], n_envs=n_envs, max_episode_steps=limit)
    recorder = _Recorder(learners.sampler)
    learners.sampler = recorder  # type: ignore[assignment]
    learners.learn(600 * n_envs)
    for k in range(3):
        replay, _ = _setup(cls, exploration_fraction=0.0, exploration_initial_eps=0.3,
                           exploration_final_eps=0.3, visit_decay=visit_decay)  # fmt: skip
        tables, visits = list(replay.policy.tables), list(replay.policy.visits)
        for states, actions, next_states, rewards, terminated in recorder.steps:
            for i in range(k * n_envs, (k + 1) * n_envs):
                bootstrap = None if terminated[i] else int(next_states[i])
                transition = (int(states[i]), int(actions[i]), float(rewards[i]), bootstrap)
                replay.rule.learn_one(tables, visits, transition, 0.2, 0.3, _no_draws)
        np.testing.assert_array_equal(replay.policy.tables[0], learners.learner_tables(k)[0])


def test_the_model_is_sampled_with_its_own_probabilities() -> None:
    _, model = _setup(env_id="FrozenLake8x8-v1")
    sampler = ModelSampler(model)
    n = 60_000
    state, action = 9, 2  # slippery: three outcomes of a third each
    draws = np.random.default_rng(0).random(n)
    next_states, _, _ = sampler.step(np.full(n, state), np.full(n, action), draws)
    expected = {int(s): 0.0 for s in model.next_states[state, action]}
    for p, s in zip(model.probs[state, action], model.next_states[state, action], strict=True):
        expected[int(s)] += float(p)
    for s, p in expected.items():
        share = float(np.mean(next_states == s))
        assert abs(share - p) < 4 * np.sqrt(p * (1 - p) / n) + 1e-12, (s, share, p)
    starts = sampler.start(draws)
    np.testing.assert_array_equal(np.unique(starts), np.flatnonzero(model.initial_distribution))


def test_twenty_learners_learn_frozenlake_to_the_optimum() -> None:
    template, model = _setup(learning_rate=0.1, gamma=0.99, exploration_fraction=0.5)
    learners = Lockstep(template, model, list(range(20)), n_envs=8, max_episode_steps=100).learn(160_000)
    best = planning.expected_return(model, planning.backward_induction(model, 100).values)
    shares = planning.policy_returns(model, learners.greedy_policies(), 100) / best
    assert np.median(shares) >= 0.95
    assert (shares >= 0.5).all()
    online = learners.online_returns()
    assert (online.episodes > 100).all()
    assert (online.recent_mean > 0.2).all()


def test_finished_episodes_are_kept_in_env_order_whatever_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """One-step episodes on CliffWalking: each episode's return is its one reward, so the last window of
    returns is known; two envs more than the window (one env a learner's loop) and fewer (arrays)."""
    for window, n_envs in ((2, 3), (5, 3)):
        explore = {"exploration_initial_eps": 1.0, "exploration_final_eps": 1.0}
        template, model = _setup(env_id="CliffWalking-v1", stats_window_size=window, **explore)
        learners = Lockstep(template, model, [0, 1], n_envs=n_envs, max_episode_steps=1)
        recorder = _Recorder(learners.sampler)
        learners.sampler = recorder  # type: ignore[assignment]
        learners.learn(7 * n_envs)
        online = learners.online_returns()
        for k in range(2):
            returns = [float(r) for step in recorder.steps for r in step[3][k * n_envs : (k + 1) * n_envs]]
            assert online.episodes[k] == len(returns)
            assert online.recent_mean[k] == pytest.approx(np.mean(returns[-window:]))


@pytest.mark.parametrize("cls", ALGORITHMS)
def test_a_learner_comes_out_as_an_ordinary_model_that_saves_and_predicts(
    cls: type[TabularAlgorithm], tmp_path: Path
) -> None:
    template, model = _setup(cls)
    learners = Lockstep(template, model, [4, 7], n_envs=2, max_episode_steps=100).learn(4_000)
    extracted = learners.model(1)
    assert isinstance(extracted, cls)
    assert extracted.seed == 7
    assert extracted.num_timesteps == learners.num_timesteps
    np.testing.assert_array_equal(extracted.q_table, learners.q_tables()[1])
    extracted.save(tmp_path / "seed7.zip")
    loaded = cls.load(tmp_path / "seed7.zip")
    actions, _ = loaded.predict(np.arange(model.n_states), deterministic=True)
    np.testing.assert_array_equal(actions, learners.greedy_policies()[1])


@pytest.mark.parametrize("cls", ALGORITHMS)
def test_a_learner_saved_without_its_model_is_the_file_its_model_saves(
    cls: type[TabularAlgorithm], tmp_path: Path
) -> None:
    template, model = _setup(cls)
    learners = Lockstep(template, model, [4, 7], n_envs=2, max_episode_steps=100).learn(2_000)
    learners.model(1).save(tmp_path / "built.zip")
    env = template.get_env()
    assert env is not None
    learners.save(1, tmp_path / "direct.zip", (env.observation_space, env.action_space), env.num_envs)
    with zipfile.ZipFile(tmp_path / "built.zip") as built, zipfile.ZipFile(tmp_path / "direct.zip") as direct:
        assert built.namelist() == direct.namelist()
        for name in built.namelist():
            assert built.read(name) == direct.read(name), name


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seeds": []}, "at least one seed"),
        ({"seeds": [1, 1]}, "distinct"),
        ({"seeds": [1], "n_envs": 0}, "n_envs must be a positive integer"),
        ({"seeds": [1], "max_episode_steps": 0}, "max_episode_steps must be"),
    ],
)
def test_bad_arguments_are_refused_in_a_sentence(kwargs: dict[str, Any], message: str) -> None:
    template, model = _setup()
    with pytest.raises(ValueError, match=message):
        Lockstep(template, model, **kwargs)


def test_a_model_of_another_size_than_the_table_is_refused() -> None:
    template, _ = _setup()
    _, other = _setup(env_id="FrozenLake8x8-v1")
    with pytest.raises(ValueError, match="observation must be the model's state index"):
        Lockstep(template, other, [0])
