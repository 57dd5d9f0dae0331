"""Malformed models given to ``make_model_vec`` / ``ModelVectorEnv``: each refused when the env is built,
in a sentence naming the state, the action, the outcome and what is wrong; nothing large is read or
allocated first (a lazy P of 10^8 states, num_envs=10**9: peak RSS measured in a subprocess)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from hostile_tools import run_measured

from qgym.envs.model_vector import ModelVectorEnv, make_model_vec
from qgym.planning import TabularModel


class Chain(gym.Env[int, int]):
    """A user's toy-text env: states 0..3 on a line, action 1 moves right with probability 0.8."""

    def __init__(self, P: Any = None, initial: Any = None) -> None:  # noqa: N803 - toy-text name
        self.observation_space = spaces.Discrete(4)
        self.action_space = spaces.Discrete(2)
        self.P = good_p() if P is None else P
        self.initial_state_distrib = np.array([1.0, 0.0, 0.0, 0.0]) if initial is None else initial
        self.s = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[int, dict]:
        super().reset(seed=seed)
        self.s = 0
        return self.s, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict]:
        raise NotImplementedError  # the model-driven env never steps it


def good_p() -> dict[int, dict[int, list[Any]]]:
    table: dict[int, dict[int, list[Any]]] = {
        s: {0: [(1.0, s, 0.0, False)], 1: [(0.8, s + 1, float(s == 2), s == 2), (0.2, s, 0.0, False)]}
        for s in range(3)
    }
    table[3] = {0: [(1.0, 3, 0.0, True)], 1: [(1.0, 3, 0.0, True)]}
    return table


def with_outcomes(state: int, action: int, outcomes: Any) -> dict[int, dict[int, list[Any]]]:
    table = good_p()
    table[state][action] = outcomes
    return table


def build(P: Any = None, initial: Any = None) -> ModelVectorEnv:  # noqa: N803
    return ModelVectorEnv(Chain(P, initial), num_envs=2, max_episode_steps=10)


def test_the_well_formed_chain_is_taken_and_stepped() -> None:
    envs = build()
    assert envs.model.n_states == 4
    assert envs.reset(seed=0)[0].tolist() == [0, 0]


NAN, INF = float("nan"), float("inf")
PAIR = r"P\[1\]\[1\] \(state 1, action 1\)"


@pytest.mark.parametrize(
    ("outcomes", "message"),
    [
        pytest.param(
            [(0.5, 2, 0.0, False), (0.3, 1, 0.0, False)],
            f"{PAIR}: the probabilities sum to 0.8, not 1",
            id="sum",
        ),
        pytest.param(
            [(1.2, 2, 0.0, False), (-0.2, 1, 0.0, False)],
            f"{PAIR}, outcome 0, has the probability 1.2",
            id="above-1",
        ),
        pytest.param(
            [(0.5, 2, 0.0, False), (-0.5, 1, 0.0, False), (1.0, 1, 0.0, False)],
            "outcome 1, has the probability -0.5: it must be a number in",
            id="negative",
        ),
        pytest.param(
            [(NAN, 2, 0.0, False), (1.0, 1, 0.0, False)],
            "outcome 0, has the probability nan",
            id="nan-probability",
        ),
        pytest.param(
            [(1.0, 9, 0.0, False)],
            f"{PAIR}, outcome 0, has the next state 9: it must be from 0 to 3",
            id="state-9",
        ),
        pytest.param(
            [(1.0, -1, 0.0, False)], "has the next state -1: it must be from 0 to 3", id="state-minus-1"
        ),
        pytest.param(
            [(1.0, 2, NAN, False)], "has the reward nan: it must be a finite number", id="nan-reward"
        ),
        pytest.param(
            [(1.0, 2, INF, False)], "has the reward inf: it must be a finite number", id="inf-reward"
        ),
        pytest.param([], f"{PAIR} is an empty list: every state and action needs at least one", id="empty"),
        pytest.param(
            [(1.0, 2, 0.0)], r"outcome 0, is \(1.0, 2, 0.0\), not a tuple \(probability,", id="three-fields"
        ),
        pytest.param("(1.0, 2, 0.0, False)", r"P\[1\]\[1\] must be a list of outcomes", id="a-string"),
        pytest.param(
            [("1.0", 2, 0.0, False)], "has the probability '1.0': it must be a number", id="str-prob"
        ),
        pytest.param(
            [(True, 2, 0.0, False)], "has the probability True: it must be a number", id="bool-prob"
        ),
        pytest.param(
            [(1.0, 1.7, 0.0, False)], "has the next state 1.7: it must be an integer state", id="state-1.7"
        ),
        pytest.param(
            [(1.0, "2", 0.0, False)], "has the next state '2': it must be an integer", id="str-state"
        ),
        pytest.param(
            [(1.0, 2**70, 0.0, False)], "has the next state 1180591620717411303424: it", id="state-2**70"
        ),
        pytest.param(
            [(1.0, 2, "0", False)], "has the reward '0': it must be a finite number", id="str-reward"
        ),
        pytest.param(
            [(1.0, 2, 0.0, "False")], "has the terminated 'False': it must be True or", id="str-False"
        ),
        pytest.param([(1.0, 2, 0.0, 2)], "has the terminated 2: it must be True or False", id="terminated-2"),
        pytest.param([(1.0, 2, 0.0, None)], "has the terminated None: it must be True or False", id="None"),
    ],
)
def test_a_malformed_outcome_is_named_by_state_action_and_outcome(outcomes: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        build(with_outcomes(1, 1, outcomes))
    assert str(raised.value).startswith("env Chain's P[1][1]")


@pytest.mark.parametrize(
    ("P", "message"),
    [
        pytest.param(
            {s + 1: row for s, row in good_p().items()},
            r"P has no state 0 \(its keys begin \[1, 2, 3\]\): "
            "its keys must be the states 0 to 3",
            id="keys-from-1",
        ),
        pytest.param(
            "SFFG", r"P must map each state 0..n-1 to a mapping of each action .* got str", id="str"
        ),
        pytest.param(42, "P must map each state .* got int", id="a-number"),
        pytest.param({}, "P is empty", id="empty"),
        pytest.param(
            {0: {0: [(1.0, 0, 0.0, True)]}, 1: {}, 2: {}, 3: {}},
            r"P\[1\] has 0 actions, P\[0\] has 1",
            id="missing-actions",
        ),
        pytest.param(
            {**good_p(), 2: {1: [(1.0, 2, 0.0, False)], 2: [(1.0, 2, 0.0, False)]}},
            r"P\[2\] has no action 0",
            id="action-keys-from-1",
        ),
    ],
)
def test_a_malformed_table_is_refused_in_a_sentence(P: Any, message: str) -> None:  # noqa: N803
    with pytest.raises(ValueError, match=message):
        build(P)


def test_a_p_given_as_lists_reads_as_the_same_model() -> None:
    as_lists = [[good_p()[s][a] for a in range(2)] for s in range(4)]
    for name in ("next_states", "probs", "rewards", "terminated"):
        np.testing.assert_array_equal(getattr(build(as_lists).model, name), getattr(build().model, name))


@pytest.mark.parametrize(
    ("initial", "message"),
    [
        (np.array([0.5, 0.2, 0.0, 0.0]), "initial_state_distrib must sum to 1, it sums to 0.7"),
        (np.array([1.5, -0.5, 0.0, 0.0]), r"initial_state_distrib\[0\] is 1.5: it must be in \[0, 1\]"),
        (np.array([np.nan, 1.0, 0.0, 0.0]), r"initial_state_distrib\[0\] is nan"),
        (np.array([1.0, 0.0]), "initial_state_distrib must be 4 probabilities, one per state"),
        (["1", "0", "0", "0"], "initial_state_distrib must be 4 probabilities"),
    ],
    ids=["not-summing", "negative", "nan", "short", "strings"],
)
def test_a_malformed_start_distribution_is_refused(initial: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(initial=initial)


class LazyP(Mapping[int, Any]):
    """A P that claims 10^8 states and builds each row when asked (and counts how many were)."""

    def __init__(self) -> None:
        self.read = 0

    def __len__(self) -> int:
        return 10**8

    def __iter__(self) -> Iterator[int]:
        return iter(range(10**8))

    def __getitem__(self, state: int) -> Any:
        self.read += 1
        return {0: [(1.0, state, 0.0, False)], 1: [(1.0, state, 0.0, False)]}


def test_a_lazy_p_of_10_to_the_8_states_is_refused_before_its_rows_are_read() -> None:
    table = LazyP()
    with pytest.raises(ValueError, match=r"P has 100,000,000 states x 2 actions, more than the 16,000,000"):
        build(table)
    assert table.read <= 1  # P[0], for the number of actions; nothing iterated


def test_a_transition_model_with_nan_rewards_is_refused() -> None:
    class Planned(Chain):
        def transition_model(self) -> TabularModel:
            model = build().model
            rewards = model.rewards.copy()
            rewards[2, 1, 0] = np.nan
            return TabularModel(
                model.next_states, model.probs, rewards, model.terminated, model.initial_distribution
            )

    with pytest.raises(
        ValueError, match=r"model\[2\]\[1\] \(state 2, action 1\), outcome 0, has the reward nan"
    ):
        ModelVectorEnv(Planned(), 2, max_episode_steps=5)


def test_cliff_walking_says_it_has_no_time_limit_and_takes_one() -> None:
    with pytest.warns(UserWarning, match="env CliffWalking-v1 has no time limit .* pass max_episode_steps=N"):
        unlimited = make_model_vec("CliffWalking-v1", 2)
    assert unlimited.max_episode_steps is None
    limited = make_model_vec("CliffWalking-v1", 2, max_episode_steps=200)  # no warning: warnings are errors
    limited.reset(seed=0)
    truncated = np.zeros(2, dtype=bool)
    for _ in range(200):
        _, _, _, truncated, _ = limited.step(np.zeros(2, dtype=np.int64))  # up, forever: never the goal
    assert truncated.all()


def test_num_envs_of_a_billion_is_refused_by_its_memory_estimate_before_allocating() -> None:
    """In a fresh interpreter: the refusal names the figure and the variable that raises the bound, and
    the process's peak RSS stays that of its imports."""
    message, peak_kib = run_measured(
        "from qgym.envs.model_vector import make_model_vec\nmake_model_vec('FrozenLake-v1', num_envs=10**9)",
        env={"QGYM_MEMORY_LIMIT_GB": "4"},
    )
    assert (
        "MemoryBoundError: a model-driven vector env of num_envs=1,000,000,000 would need about 298.0 GiB"
        in message
    )
    assert "more than the 4.0 GiB qgym allows; nothing was allocated (set QGYM_MEMORY_LIMIT_GB" in message
    assert peak_kib < 300 * 1024  # imports only (about 40 MB): no array of a billion sub-envs was made
