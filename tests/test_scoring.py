"""Grading moves against Q*: per-step optimal values, the regret of a move, and what a return is made of."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from qgym import planning, scoring
from qgym.envs import known_optimum
from qgym.scoring import percent_of_optimum


def _solved(env_id: str, keep_all: int = planning.KEEP_ALL_VALUES) -> planning.OptimalValues:
    env = gym.make(env_id)
    horizon = env.spec.max_episode_steps if env.spec is not None else None
    assert horizon is not None
    return planning.OptimalValues(planning.model_of(env), horizon, keep_all=keep_all)


@pytest.mark.parametrize("env_id", ["qgym/GridFarm-1x2-v0", "qgym/Trading-ChainRegime-v0"])
def test_per_step_values_are_the_optimum_with_the_steps_left(env_id: str) -> None:
    values = _solved(env_id)
    model, horizon = values.model, values.horizon
    assert values.keep_every == 1, "a small model keeps every step"
    for step in (0, 1, horizon // 2, horizon - 1):
        left = planning.backward_induction(model, horizon - step)
        np.testing.assert_allclose(values.values(step), left.values, rtol=0, atol=1e-9)
        for state in (0, model.n_states // 3, model.n_states - 1):
            np.testing.assert_allclose(values.q(step, state), left.q[state], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(values.values(horizon), np.zeros(model.n_states))
    assert values.optimum == pytest.approx(known_optimum(env_id), abs=1e-4)


def test_checkpointed_values_equal_the_kept_ones_at_every_step() -> None:
    kept = _solved("qgym/Trading-ChainRegime-v0")
    checkpointed = _solved("qgym/Trading-ChainRegime-v0", keep_all=0)
    assert checkpointed.keep_every == 10, "ceil(sqrt(100)) steps between checkpoints"
    assert checkpointed.tables_held == 11, "steps 0, 10, ..., 100"
    assert kept.tables_held == 101
    for step in [*range(kept.horizon + 1), 37, 3, 99, 0]:  # forwards, then jumping back and forth
        np.testing.assert_array_equal(checkpointed.values(step), kept.values(step))
        assert checkpointed.tables_held <= 11 + 9, "and one block of the nine steps between two of them"


def test_an_optimal_move_has_no_regret_and_a_bad_one_costs_the_exact_gap() -> None:
    values = _solved("qgym/GridFarm-1x2-v0")
    model = values.model
    step, state = 10, model.n_states // 2
    exact = planning.backward_induction(model, values.horizon - step).q[state]
    best, worst = int(np.argmax(exact)), int(np.argmin(exact))
    grade = scoring.score_moves(values, [(step, state, best), (step, state, worst)])
    assert grade.moves[0].regret == 0.0
    assert best in grade.moves[0].best_actions
    assert grade.moves[1].regret == pytest.approx(exact.max() - exact.min(), abs=1e-9)
    assert grade.moves[1].regret > 0
    assert grade.total_regret == pytest.approx(sum(move.regret for move in grade.moves))
    assert grade.costliest() == [grade.moves[1]], "optimal moves are never among the costliest"


def _episode(env_id: str, seed: int, rng: np.random.Generator) -> tuple[float, list[tuple[int, int]]]:
    """A random-ish episode: its return and its (state, action) moves."""
    env = gym.make(env_id)
    env.reset(seed=seed)
    total, moves, done = 0.0, [], False
    while not done:
        action = int(rng.integers(env.action_space.n)) if rng.random() < 0.5 else 4 + int(rng.integers(3))
        moves.append((planning.current_state(env), action))
        _, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        done = terminated or truncated
    return total, moves


def test_on_the_deterministic_farm_return_plus_regret_is_the_optimum_whatever_the_moves() -> None:
    values = _solved("qgym/GridFarm-1x1-Det-v0")
    rng = np.random.default_rng(0)
    for seed in range(5):
        total, moves = _episode("qgym/GridFarm-1x1-Det-v0", seed, rng)
        grade = scoring.score_moves(values, moves)
        assert total + grade.total_regret == pytest.approx(values.optimum, abs=1e-9)
        assert grade.total_regret > 0, "random moves lose something"


def test_on_the_stochastic_farm_return_plus_regret_is_the_optimum_on_average() -> None:
    values = _solved("qgym/GridFarm-1x1-v0")
    rng = np.random.default_rng(1)
    totals = []
    for seed in range(300):
        total, moves = _episode("qgym/GridFarm-1x1-v0", seed, rng)
        totals.append(total + scoring.score_moves(values, moves).total_regret)
    error = np.std(totals, ddof=1) / np.sqrt(len(totals))
    assert abs(np.mean(totals) - values.optimum) < 4 * error, "luck averages zero"
    assert np.std(totals) > 0, "but not in every episode"


def test_the_costliest_moves_come_in_order_of_regret_then_day() -> None:
    values = _solved("qgym/GridFarm-1x1-v0")
    moves = [(step, 0, action) for step, action in enumerate([7, 4, 7, 0, 7, 5])]
    grade = scoring.score_moves(values, moves)
    ranked = grade.costliest(3)
    regrets = [move.regret for move in ranked]
    assert regrets == sorted(regrets, reverse=True)
    assert len(ranked) == 3
    assert all(move.regret > 0 for move in ranked)
    assert grade.costliest(0) == []
    assert len(grade.costliest(100)) == sum(move.regret > 0 for move in grade.moves)


def test_bad_moves_and_steps_are_named() -> None:
    values = _solved("qgym/GridFarm-1x1-v0")
    with pytest.raises(ValueError, match=r"step must be in \[0, 99\]"):
        values.q(100, 0)
    with pytest.raises(ValueError, match=r"state must be in \[0, 6\]"):
        values.q(0, 7)
    with pytest.raises(ValueError, match=r"action must be in \[0, 7\]"):
        scoring.score_moves(values, [(0, 8)])
    with pytest.raises(ValueError, match="a move must be"):
        scoring.score_moves(values, [(1, 2, 3, 4)])
    with pytest.raises(ValueError, match="n must be"):
        scoring.score_moves(values, [(0, 1)]).costliest(-1)
    with pytest.raises(ValueError, match="horizon must be a positive"):
        planning.OptimalValues(values.model, 0)


def test_an_env_without_an_exact_model_says_so() -> None:
    with pytest.raises(ValueError, match="4x4 field has no exact model"):
        scoring.optimal_values(gym.make("qgym/GridFarm-4x4-v0"))
    with pytest.raises(ValueError, match="no transition model"):
        scoring.optimal_values(gym.make("qgym/Trading-Market-v0"))


@pytest.mark.parametrize(
    ("value", "optimum", "percent"),
    [(46.92, 47.42, 100 * 46.92 / 47.42), (-13.0, -13.0, 100.0), (-26.0, -13.0, 50.0), (-12.0, -13.0, 108.3)],
)
def test_a_share_of_the_optimum_is_100_at_the_optimum_and_less_for_worse_rewards_or_costs(
    value: float, optimum: float, percent: float
) -> None:
    assert percent_of_optimum(value, optimum) == pytest.approx(percent, abs=0.05)


@pytest.mark.parametrize(("value", "optimum"), [(3.0, 0.0), (0.0, -13.0), (2.0, -13.0)])
def test_a_share_that_means_nothing_is_none(value: float, optimum: float) -> None:
    assert percent_of_optimum(value, optimum) is None


def _move(step: int, action: int, q: list[float]) -> scoring.Move:
    return scoring.Move(step, 0, action, np.array(q))


def test_the_regret_splits_by_the_kind_of_move_made_and_by_the_kind_that_was_best() -> None:
    kinds = ("move", "move", "plant", "wait")
    grade = scoring.Grade(
        (
            _move(0, 0, [1.0, 1.0, 3.0, 0.0]),  # moved when planting was best: 2.0
            _move(1, 1, [5.0, 4.0, 5.0, 0.0]),  # moved, a move was best: 1.0
            _move(2, 3, [0.0, 0.0, 0.5, 0.0]),  # waited when planting was best: 0.5
            _move(3, 2, [0.0, 0.0, 1.0, 0.0]),  # planted, optimal: 0
        ),
        optimum=10.0,
    )
    taken = grade.regret_by_kind(kinds)
    assert taken == pytest.approx({"move": 3.0, "plant": 0.0, "wait": 0.5})
    assert list(taken) == ["move", "plant", "wait"]  # the order of the kinds
    assert grade.regret_by_kind(kinds, by="best") == pytest.approx({"move": 1.0, "plant": 2.5, "wait": 0.0})
    assert sum(taken.values()) == pytest.approx(grade.total_regret)
    with pytest.raises(ValueError, match="by must be 'taken' or 'best'"):
        grade.regret_by_kind(kinds, by="worst")
    with pytest.raises(ValueError, match="kinds names 2 actions; a move took action 3"):
        grade.regret_by_kind(("a", "b"))
