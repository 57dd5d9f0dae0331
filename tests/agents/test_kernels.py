"""The compiled kernels (numba, ``qgym[fast]``) against the one rule each compiles.

Generated from the rule registry: every rule that names a compiled target is checked, on random
inputs (3 and 5 actions, sparse and crowded batches, constant and decaying step sizes, several
epsilons), against the same updates applied by the rule itself one after the other and by the numpy
batch path; the compiled epsilon-greedy against :func:`~qgym.agents.exploration.choose_for_states`. An
altered compiled formula fails these checks (tested). Whole training runs agree too."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest
from stable_baselines3.common.logger import Logger

from qgym.agents import ExpectedSARSA, QLearning, TabularAlgorithm, batch, kernels
from qgym.agents.exploration import choose_for_states
from qgym.agents.rules import RULES, Form, Rule
from qgym.agents.rules.one_step import QLearningRule
from qgym.agents.step_sizes import StepSizes
from qgym.vec_adapter import make_sb3_vec_env

numba = pytest.importorskip("numba", reason="the compiled kernels need numba: pip install 'qgym[fast]'")

COMPILED_RULES = [rule for rule in RULES.values() if rule.compiled_target() is not None]
Batch = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def random_batch(rng: np.random.Generator, n_states: int, n_actions: int, crowded: bool) -> Batch:
    """300 transitions: on four states (crowded: the in-order path) or spread over all (sparse: long
    conflict-free runs, the numpy path's vectorized pass); some terminations."""
    reach = 4 if crowded else n_states
    states = rng.integers(reach, size=300)
    next_states = np.where(rng.random(300) < 0.1, -1, rng.integers(reach, size=300))
    return states, rng.integers(n_actions, size=300), rng.normal(size=300).astype(np.float32), next_states


def check_compiled_learning(
    compiled: kernels.Kernels,
    rule_class: type[Rule],
    n_actions: int,
    crowded: bool,
    visit_decay: float | None,
    epsilon: float,
) -> None:
    """The compiled updates, the numpy batch path and the rule one update after the other: same bits."""
    rng = np.random.default_rng(n_actions * 100 + crowded * 10 + int(epsilon * 10))
    n_states = 2_000
    start = rng.normal(size=(n_states, n_actions))
    awkward = [1e16, 1.0, -1e16, 1.0, 1.0]  # left to right sums differ from pairwise or compensated ones
    start[1] = awkward[:n_actions]
    start[2] = 0.0  # ties
    q = {path: start.copy() for path in ("compiled", "numpy", "one")}
    visits = {path: np.zeros((n_states, n_actions), dtype=np.int64) for path in q}
    rules = {path: rule_class(0.95, StepSizes(visit_decay)) for path in q}
    formula = rule_class.compiled_target()
    assert formula is not None
    for _ in range(8):
        transitions = random_batch(rng, n_states, n_actions, crowded)
        step_sizes = rules["compiled"].step_sizes
        powers = None if visit_decay is None else step_sizes.powers
        compiled.learn(q["compiled"], visits["compiled"], transitions, (0.1, epsilon, 0.95, formula), powers)
        batch.learn_from_batch(q["numpy"], visits["numpy"], transitions, 0.1, epsilon, rules["numpy"])
        for s, a, r, n in zip(*(array.tolist() for array in transitions), strict=True):
            one = (s, a, r, None if n < 0 else n)
            rules["one"].learn_one([q["one"]], [visits["one"]], one, 0.1, epsilon, _no_draws)
    for path in ("numpy", "one"):
        assert q["compiled"].tobytes() == q[path].tobytes(), f"compiled table differs from the {path} path"
        assert np.array_equal(visits["compiled"], visits[path]), f"visit counts differ from the {path} path"


def _no_draws() -> float:
    raise AssertionError("a rule with a compiled form draws no random number in its update")


@pytest.fixture(scope="module")
def compiled() -> kernels.Kernels:
    loaded = kernels.load()
    assert loaded is not None
    return loaded


@pytest.mark.parametrize("rule_class", COMPILED_RULES, ids=lambda rule: rule.__name__)
@pytest.mark.parametrize("n_actions", [3, 5])
@pytest.mark.parametrize("crowded", [False, True], ids=["sparse", "crowded"])
@pytest.mark.parametrize("visit_decay", [None, 0.6], ids=["constant-alpha", "visit-decay"])
@pytest.mark.parametrize("epsilon", [0.0, 0.3, 1.0])
def test_each_compiled_target_is_its_rule_bit_for_bit(
    compiled: kernels.Kernels,
    rule_class: type[Rule],
    n_actions: int,
    crowded: bool,
    visit_decay: float | None,
    epsilon: float,
) -> None:
    check_compiled_learning(compiled, rule_class, n_actions, crowded, visit_decay, epsilon)


def test_every_compiled_formula_has_a_rule_that_is_checked() -> None:
    assert sorted(rule.compiled_target() for rule in COMPILED_RULES) == sorted(kernels.FORMULAS)


def test_an_altered_compiled_formula_fails_the_check() -> None:
    """Expected SARSA's explore term computed as ``epsilon * (total / n)`` rounds differently from the
    rule's ``epsilon * total / n``: the generated check must catch it (dividing by 4 would hide it)."""
    source = inspect.getsource(kernels.learn_in_order)
    altered = source.replace("epsilon * total / n_actions", "epsilon * (total / n_actions)")
    assert altered != source, "the compiled Expected SARSA formula moved: update this test"
    namespace = dict(vars(kernels))
    exec(compile(altered, "<altered kernel>", "exec"), namespace)  # our own source, altered
    jit = numba.njit(nogil=True, fastmath=False, error_model="numpy")
    wrong = kernels.Kernels(jit(namespace["learn_in_order"]), jit(kernels.epsilon_greedy))
    expected_sarsa = RULES["expected_sarsa"]
    for n_actions in (3, 5):
        with pytest.raises(AssertionError, match="compiled table differs"):
            check_compiled_learning(wrong, expected_sarsa, n_actions, False, None, 0.3)


@pytest.mark.parametrize("n_actions", [3, 5])
@pytest.mark.parametrize("epsilon", [0.0, 0.05, 0.5, 1.0])
def test_the_compiled_epsilon_greedy_is_the_rows_choice(
    compiled: kernels.Kernels, n_actions: int, epsilon: float
) -> None:
    rng = np.random.default_rng(int(epsilon * 100) + n_actions)
    # Integer values: many ties among the greedy actions, the case with the most arithmetic.
    table = rng.integers(3, size=(40, n_actions)).astype(np.float64)
    table[0] = [(-1.0) ** k * 0.0 for k in range(n_actions)]  # -0.0 and 0.0 tie
    for n in (20, 5_000):  # fewer states than the table has rows, and more
        states, draws = rng.integers(40, size=n), rng.random(n)
        assert np.array_equal(
            compiled.epsilon_greedy(table, states, epsilon, draws),
            choose_for_states(table, states, epsilon, draws),
        )


@pytest.mark.parametrize("cls", [QLearning, ExpectedSARSA])
def test_a_training_run_on_the_native_vector_env_is_the_same_with_and_without_kernels(
    cls: type[TabularAlgorithm], monkeypatch: pytest.MonkeyPatch
) -> None:
    def train(switch: str) -> TabularAlgorithm:
        monkeypatch.setenv("QGYM_KERNELS", switch)
        env = make_sb3_vec_env("qgym/Trading-Chain-v0", 256, seed=5)
        model = cls("TabularPolicy", env, seed=5, visit_decay=0.6)
        model.set_logger(Logger(folder=None, output_formats=[]))
        return model.learn(60_000)

    compiled, numpy_path = train("on"), train("off")
    assert compiled.q_table.tobytes() == numpy_path.q_table.tobytes()
    assert np.array_equal(compiled.visit_counts, numpy_path.visit_counts)
    episodes = [[(e["r"], e["l"]) for e in m.ep_info_buffer] for m in (compiled, numpy_path)]
    assert episodes[0] == episodes[1]
    assert len(episodes[0]) == 100


class ShiftedQLearningRule(QLearningRule):
    """A user's rule: Q-learning's bootstrap plus one. It names no compiled form: the numpy path."""

    name = None

    def bootstrap(self, next_values: Any, epsilon: float, form: Form, chosen: Any) -> Any:
        return super().bootstrap(next_values, epsilon, form, chosen) + 1.0


def test_a_rule_that_changes_the_bootstrap_is_not_given_its_parents_kernel() -> None:
    assert RULES["qlearning"].compiled_target() == kernels.GREATEST
    assert RULES["expected_sarsa"].compiled_target() == kernels.EXPECTED
    assert ShiftedQLearningRule.compiled_target() is None
    shifted = type("ShiftedQLearning", (TabularAlgorithm,), {"rule_class": ShiftedQLearningRule})
    env = make_sb3_vec_env("qgym/Trading-Chain-v0", 8, seed=0)
    model = shifted("TabularPolicy", env, seed=0, gamma=0.5, learning_rate=1.0)
    model.learn(8)
    visited = model.visit_counts > 0
    # Each first update with alpha 1: Q = r + 0.5 * (0 + 1), never Q-learning's r + 0.5 * 0.
    assert np.all(model.q_table[visited] != 0.0)


@pytest.mark.parametrize("algo", ["qlearning", "expected_sarsa"])
def test_learners_in_lockstep_are_the_same_with_and_without_kernels(
    algo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--seeds``: K learners on an exact model, compiled or not, give the same tables and returns."""
    import gymnasium as gym

    from qgym import planning
    from qgym.agents.lockstep import LearnerSettings, Lockstep
    from qgym.agents.settings import Hyperparameters

    env = gym.make("FrozenLake8x8-v1")
    model = planning.model_of(env)
    assert isinstance(model, planning.TabularModel)
    settings = LearnerSettings(algo, Hyperparameters(visit_decay=0.6, exploration_fraction=0.3))

    def learn(switch: str) -> Lockstep:
        monkeypatch.setenv("QGYM_KERNELS", switch)
        learners = Lockstep(settings, model, [3, 1, 4], n_envs=8, max_episode_steps=200)
        return learners.learn(40_000)

    compiled, numpy_path = learn("on"), learn("off")
    assert compiled.tables.tobytes() == numpy_path.tables.tobytes()
    assert np.array_equal(compiled.visits, numpy_path.visits)
    assert compiled.visits.sum() == 3 * 40_000
    online = compiled.online_returns(), numpy_path.online_returns()
    assert np.array_equal(online[0].episodes, online[1].episodes)
    assert np.array_equal(online[0].recent_mean, online[1].recent_mean, equal_nan=True)
