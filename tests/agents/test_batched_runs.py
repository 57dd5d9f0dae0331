"""How the numpy path applies a batch (the path without numba; :mod:`test_kernels` compares the two):
conflict-free runs in one numpy pass each, the rest one update after the other; either way the bits of
one env after the other (the rule's one target, in both forms)."""

from __future__ import annotations

import copy
import sys
from typing import Any

import numpy as np
import pytest
from scripted_envs import ScriptedEnv
from stable_baselines3.common.vec_env import DummyVecEnv

from qgym.agents import ExpectedSARSA, QLearning, TabularAlgorithm, batch
from qgym.agents.next_values import ONE_ROW, ROWS

Batch = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def make(cls: type[TabularAlgorithm], n_states: int, **kwargs: Any) -> TabularAlgorithm:
    env = DummyVecEnv([lambda: ScriptedEnv(n_states, 4, {})] * 2)
    model = cls("TabularPolicy", env, gamma=0.95, seed=0, **kwargs)
    model.policy.tables[...] = np.random.default_rng(3).normal(size=model.policy.tables.shape)
    return model


def _no_draws() -> float:
    raise AssertionError("a rule with a batch form draws no random number in its update")


def learn_batch(model: TabularAlgorithm, transitions: Batch, alpha: float, epsilon: float) -> None:
    """The numpy path of the batched loop (:func:`batch.learn_from_batch`) on the model's table."""
    q, visits = model.policy.tables[0], model.policy.visits[0]
    batch.learn_from_batch(q, visits, transitions, alpha, epsilon, model.rule)


def spread_batch(rng: np.random.Generator, n_states: int, size: int) -> Batch:
    """Transitions over many states: long conflict-free runs, a few conflicts, some terminations."""
    states = rng.integers(n_states, size=size)
    next_states = np.where(rng.random(size) < 0.05, -1, rng.integers(n_states, size=size))
    return states, rng.integers(4, size=size), rng.normal(size=size).astype(np.float32), next_states


def crowded_batch(rng: np.random.Generator, n_states: int, size: int) -> Batch:
    """Transitions on four states, as 1,024 envs in lockstep make: conflicts everywhere."""
    states, actions, rewards, next_states = spread_batch(rng, 4, size)
    return (
        states + n_states // 2,
        actions,
        rewards,
        np.where(next_states < 0, -1, next_states + n_states // 2),
    )


def assert_batched_equals_sequential(model: TabularAlgorithm, batches: list[Batch], epsilon: float) -> None:
    sequential = copy.deepcopy(model)
    tables, visits = list(sequential.policy.tables), list(sequential.policy.visits)
    for states, actions, rewards, next_states in batches:
        learn_batch(model, (states, actions, rewards, next_states), 0.1, epsilon)
        for s, a, r, n in zip(
            states.tolist(), actions.tolist(), rewards.tolist(), next_states.tolist(), strict=True
        ):
            transition = (s, a, r, None if n < 0 else n)
            sequential.rule.learn_one(tables, visits, transition, 0.1, epsilon, _no_draws)
    assert model.policy.tables.tobytes() == sequential.policy.tables.tobytes()
    assert np.array_equal(model.visit_counts, sequential.visit_counts)


@pytest.mark.parametrize("cls", [QLearning, ExpectedSARSA])
@pytest.mark.parametrize("visit_decay", [None, 0.7])
@pytest.mark.parametrize("min_run", [1, batch.MIN_RUN, 10**9], ids=["all-numpy", "default", "all-in-order"])
@pytest.mark.parametrize("shape", ["spread", "crowded", "mixed"])
def test_every_way_of_cutting_a_batch_gives_the_sequential_bits(
    cls: type[TabularAlgorithm],
    visit_decay: float | None,
    min_run: int,
    shape: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(batch, "MIN_RUN", min_run)
    model = make(cls, 2_000, visit_decay=visit_decay)
    rng = np.random.default_rng(min_run % 97)
    batches = []
    for i in range(12):
        crowded = shape == "crowded" or (shape == "mixed" and i % 2 == 1)
        batches.append((crowded_batch if crowded else spread_batch)(rng, 2_000, 300))
    assert_batched_equals_sequential(model, batches, epsilon=0.2)


def test_a_batch_without_conflicts_takes_one_numpy_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    passes: list[int] = []
    in_order: list[int] = []
    original = batch._apply_at_once
    monkeypatch.setattr(
        batch,
        "_apply_at_once",
        lambda q, part, *rest: (passes.append(len(part.states)), original(q, part, *rest)),
    )
    monkeypatch.setattr(batch, "_apply_in_order", lambda q, part, *rest: in_order.append(len(part.states)))
    model = make(QLearning, 5_000)
    states = np.arange(0, 2_000, 2)
    next_states = np.where(np.arange(1_000) % 10 == 0, -1, states + 1)  # rows nobody in the batch writes
    learn_batch(model, (states, states % 4, np.ones(1_000, dtype=np.float32), next_states), 0.1, 0.0)
    assert passes == [1_000]
    assert in_order == []


def test_each_update_waits_for_the_last_earlier_one_on_its_pair_or_on_the_row_it_reads() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        states, actions, _, next_states = spread_batch(rng, 6, 40)
        cells = states * 4 + actions
        got = batch._waits_for(states, next_states, cells)
        for i in range(40):
            earlier = [
                j
                for j in range(i)
                if cells[j] == cells[i] or (next_states[i] >= 0 and states[j] == next_states[i])
            ]
            assert got[i] == (earlier[-1] if earlier else -1)


def test_the_reductions_of_one_row_and_of_a_batch_of_rows_are_the_same_floats() -> None:
    awkward = [1e16, 1.0, -1e16, 1.0]  # left to right: 1.0; pairwise or compensated sums: 2.0
    rows = np.array([awkward, [0.1, 0.2, 0.3, -0.6], [-0.0, 0.0, -3.5, 2.25], [2.0, -1.0, 2.0, 0.5]])
    assert ONE_ROW.total(awkward) == 1.0
    for i, row in enumerate(rows.tolist()):
        for reduction in ("greatest", "total", "count", "first_greatest"):
            one, many = getattr(ONE_ROW, reduction)(row), getattr(ROWS, reduction)(rows)
            assert one == (many if reduction == "count" else many[i]), reduction
        picks = np.arange(len(rows)) % 4
        assert ONE_ROW.pick(row, int(picks[i])) == ROWS.pick(rows, picks)[i]
    if sys.version_info >= (3, 12):
        assert sum(awkward) == 2.0  # why total() does not call sum()
