"""n-step SARSA, the fifth rule (``qgym/agents/rules/n_step.py``): its n-step return computed by hand,
SARSA itself when n = 1 (bit for bit, in every loop and in lockstep), what a larger n buys on a long
corridor, learning the optimum, saving, and the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import yaml
from scripted_envs import ScriptedEnv, on_loop

from qgym import planning
from qgym.agents import SARSA, NStepSARSA, TabularAlgorithm
from qgym.agents.lockstep import LearnerSettings, Lockstep
from qgym.agents.rules.n_step import n_step_return
from qgym.agents.settings import Hyperparameters

LOOPS = ["direct", "vectorized"]


def corridor(length: int) -> ScriptedEnv:
    """States 0 .. length, one action: each step moves right, reward 1 only on reaching the end."""
    transitions = {(s, 0): (s + 1, float(s + 1 == length), s + 1 == length) for s in range(length)}
    return ScriptedEnv(length + 1, 1, transitions)


def greedy(cls: type[TabularAlgorithm], env: Any, loop: str = "direct", **kwargs: Any) -> TabularAlgorithm:
    settings = {"learning_rate": 0.5, "gamma": 0.9, "exploration_fraction": 0.0} | kwargs
    settings |= {"exploration_initial_eps": 0.0, "exploration_final_eps": 0.0}
    return cls("TabularPolicy", on_loop(env, loop), seed=0, **settings)


def test_the_n_step_return_is_the_discounted_rewards_then_the_bootstrap() -> None:
    assert n_step_return([1.0, 2.0, 3.0], 0.5, 8.0) == 1.0 + 0.5 * 2.0 + 0.25 * 3.0 + 0.125 * 8.0
    assert n_step_return([1.0, 2.0], 0.5, None) == 2.0
    assert n_step_return([-0.0], 0.9, None) == -0.0  # a lone reward is the target itself (as SARSA's)
    rows = n_step_return([np.array([1.0, 0.0]), np.array([2.0, 4.0])], 0.5, np.array([0.0, 8.0]))
    np.testing.assert_array_equal(rows, [2.0, 4.0])


@pytest.mark.parametrize("loop", LOOPS)
def test_two_step_sarsa_updates_each_pair_from_two_rewards_and_the_value_two_steps_on(loop: str) -> None:
    """Corridor 0 -> 1 -> 2 -> 3 (reward 1 on arrival), n = 2, alpha 0.5, gamma 0.9, Q(2) = 4 before."""
    model = greedy(NStepSARSA, corridor(3), loop, n_steps=2)
    model.policy.tables[0, 2, 0] = 4.0
    model.learn(3)  # one episode: Q(0) at step 2, then Q(1) and Q(2) at the end
    assert model.q_table[0, 0] == 0.5 * (0.0 + 0.9 * 0.0 + 0.81 * 4.0)
    assert model.q_table[1, 0] == 0.5 * (0.0 + 0.9 * 1.0)  # the rewards to the end, no bootstrap
    assert model.q_table[2, 0] == 4.0 + 0.5 * (1.0 - 4.0)
    assert model.visit_counts[:3, 0].tolist() == [1, 1, 1]


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("env_id", ["FrozenLake-v1", "CliffWalking-v1"])
def test_with_one_step_it_is_sarsa_bit_for_bit(loop: str, env_id: str) -> None:
    tables = []
    for cls, extra in ((SARSA, {}), (NStepSARSA, {"n_steps": 1})):
        env = gym.make(env_id, max_episode_steps=50)
        model = cls("TabularPolicy", on_loop(env, loop), seed=4, visit_decay=0.7, **extra)
        tables.append((model.learn(30_000).policy.tables.tobytes(), model.visit_counts.tobytes()))
    assert tables[0] == tables[1]


def test_with_one_step_in_lockstep_it_is_sarsa_in_lockstep_bit_for_bit() -> None:
    env = gym.make("FrozenLake-v1")
    model = planning.model_of(env)
    assert isinstance(model, planning.TabularModel)
    runs = []
    for algo, own in (("sarsa", {}), ("nstep_sarsa", {"n_steps": 1})):
        settings = Hyperparameters(visit_decay=0.7, rule_parameters=own)
        learners = Lockstep(LearnerSettings(algo, settings), model, [1, 2, 3], n_envs=4, max_episode_steps=50)
        runs.append(learners.learn(20_000))
    assert runs[0].tables.tobytes() == runs[1].tables.tobytes()
    assert np.array_equal(runs[0].visits, runs[1].visits)


@pytest.mark.parametrize("n", [1, 4, 16])
def test_one_episode_carries_the_goal_back_n_states(n: int) -> None:
    """What n buys: after the first episode of a 30-state corridor, SARSA (n = 1) knows of the goal
    in the last state only; n-step SARSA in the last n."""
    model = greedy(NStepSARSA, corridor(30), n_steps=n, learning_rate=1.0, gamma=1.0)
    model.learn(30)
    knows = np.flatnonzero(model.q_table[:30, 0] > 0).tolist()
    assert knows == list(range(30 - n, 30))


@pytest.mark.slow  # 57 s: 8 learners x 200,000 steps, twice
@pytest.mark.parametrize("n_envs", [1, 8])
def test_learners_in_lockstep_learn_frozen_lake_to_the_optimum(n_envs: int) -> None:
    env = gym.make("FrozenLake-v1")
    model = planning.model_of(env)
    assert isinstance(model, planning.TabularModel)
    settings = Hyperparameters(
        learning_rate=0.05, gamma=0.99, exploration_fraction=0.5, rule_parameters={"n_steps": 3}
    )
    learners = Lockstep(
        LearnerSettings("nstep_sarsa", settings), model, list(range(8)), n_envs, max_episode_steps=100
    ).learn(200_000)
    best = planning.expected_return(model, planning.backward_induction(model, 100).values)
    shares = planning.policy_returns(model, learners.greedy_policies(), 100) / best
    assert np.median(shares) >= 0.9
    assert learners.visits.sum() > 0.95 * 8 * 200_000  # every step reached a pair (the last few wait)


def test_a_saved_model_keeps_its_n_and_a_bad_n_is_refused_in_a_sentence(tmp_path: Path) -> None:
    model = NStepSARSA("TabularPolicy", gym.make("FrozenLake-v1"), seed=0, n_steps=5).learn(2_000)
    model.save(tmp_path / "n5.zip")
    loaded = TabularAlgorithm.load(tmp_path / "n5.zip")
    assert type(loaded).__name__ == "NStepSARSA"
    assert loaded.rule_parameters == {"n_steps": 5}
    np.testing.assert_array_equal(loaded.q_table, model.q_table)
    for bad in (0, 1.5, "3", 101):
        with pytest.raises(ValueError, match="n_steps must be a whole number from 1 to 100"):
            NStepSARSA("TabularPolicy", gym.make("FrozenLake-v1"), n_steps=bad)
    with pytest.raises(
        ValueError, match=r"NStepSARSA takes only \['n_steps'\] of its own, got \['lambda_'\]"
    ):
        NStepSARSA("TabularPolicy", gym.make("FrozenLake-v1"), lambda_=0.9)


def test_the_command_line_trains_it_from_its_preset_and_records_n(tmp_path: Path) -> None:
    qgym = Path(sys.executable).with_name("qgym")
    arguments = ["train", "--algo", "nstep_sarsa", "--env", "FrozenLake-v1", "--log-folder", str(tmp_path)]
    done = subprocess.run(
        [str(qgym), *arguments, "-n", "20000", "--hyperparams", "n_steps:4"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "% of the exact optimum" in done.stdout
    config = yaml.safe_load((tmp_path / "nstep_sarsa" / "FrozenLake-v1_1" / "config.yml").read_text())
    assert config["hyperparameters"]["n_steps"] == 4
    assert "nstep_sarsa.yml" in config["preset_source"]
