"""qgym.sampling: the thresholds a uniform is compared with to draw a model's outcome."""

from __future__ import annotations

import numpy as np

from qgym.sampling import OutcomeDraws, outcome_thresholds


def _draw(probs: np.ndarray, uniform: float) -> int:
    return int((outcome_thresholds(probs) <= uniform).sum())


def test_a_uniform_draws_each_outcome_with_its_probability() -> None:
    probs = np.array([0.25, 0.5, 0.25])
    uniforms = (np.arange(100_000) + 0.5) / 100_000  # evenly spread over [0, 1)
    counts = np.bincount([_draw(probs, u) for u in uniforms[::100]], minlength=3)
    np.testing.assert_allclose(counts / counts.sum(), probs, atol=0.002)


def test_rounding_below_one_never_draws_an_impossible_outcome() -> None:
    probs = np.array([0.1] * 10 + [0.0, 0.0])  # sums to 0.9999999999999999
    assert np.cumsum(probs)[-1] < 1.0
    assert _draw(probs, np.nextafter(1.0, 0.0)) == 9  # the last outcome with a probability
    assert _draw(np.array([0.0, 1.0, 0.0]), 0.0) == 1  # zero-probability outcomes are skipped


def test_rows_are_independent() -> None:
    thresholds = outcome_thresholds(np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]))
    np.testing.assert_array_equal(thresholds, [[np.inf], [0.0], [0.5]])


def test_outcome_draws_give_the_same_cells_column_by_column_and_at_once() -> None:
    rng = np.random.default_rng(0)
    for width in (3, OutcomeDraws.COLUMNS + 4):  # the column path, then the 2-D one
        probs = rng.dirichlet(np.ones(width), size=50)
        probs[:, -1] = 0.0  # an impossible last outcome
        probs /= probs.sum(axis=1, keepdims=True)
        rows = rng.integers(50, size=10_000)
        draws = rng.random(10_000)
        cells = OutcomeDraws(probs).cells(rows, draws)
        expected = [row * width + _draw(probs[row], u) for row, u in zip(rows, draws, strict=True)]
        np.testing.assert_array_equal(cells, expected)
        assert not np.any(cells % width == width - 1)
