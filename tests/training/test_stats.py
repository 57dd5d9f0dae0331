"""Statistics over seeds: the IQM, bootstrap intervals that cover what they claim, the probability of
improvement as Mann-Whitney's, and clear refusals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from qgym.training.stats import compare, describe, iqm, probability_of_improvement, summarize


def test_the_iqm_is_the_mean_of_the_middle_half_whatever_the_outliers() -> None:
    assert iqm([0, 1, 2, 3, 4, 5, 6, 7]) == pytest.approx(3.5)
    assert iqm([-1e9, 2, 3, 4, 5, 6, 7, 1e9]) == pytest.approx(4.5)


def test_the_probability_of_improvement_counts_ties_half_as_mann_whitney_does() -> None:
    assert probability_of_improvement([3, 4], [1, 2]) == 1.0
    assert probability_of_improvement([1, 2], [3, 4]) == 0.0
    assert probability_of_improvement([1, 2], [1, 2]) == 0.5
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 5, 40), rng.integers(0, 5, 30)
    u = scipy_stats.mannwhitneyu(a, b).statistic
    assert probability_of_improvement(a, b) == pytest.approx(u / (40 * 30))


def test_the_iqm_interval_covers_the_centre_about_as_often_as_it_claims() -> None:
    rng = np.random.default_rng(0)
    covered = [summarize(rng.normal(10.0, 2.0, 30), seed=i).iqm_interval for i in range(150)]
    share = np.mean([interval.low <= 10.0 <= interval.high for interval in covered])  # type: ignore[operator]
    assert 0.85 <= share <= 0.995


def test_compare_separates_distinct_runs_and_not_identical_ones() -> None:
    rng = np.random.default_rng(1)
    better, worse = rng.normal(1.0, 1.0, 50), rng.normal(0.0, 1.0, 50)
    clear = compare(better, worse)
    assert clear.probability_interval.excludes(0.5)
    assert clear.probability > 0.6
    assert clear.iqm_difference_interval.excludes(0.0)
    same = compare(rng.normal(0.0, 1.0, 50), rng.normal(0.0, 1.0, 50))
    assert not same.probability_interval.excludes(0.5)


def test_the_same_runs_give_the_same_intervals_and_one_run_gives_none() -> None:
    values = np.random.default_rng(2).normal(size=20)
    assert summarize(values) == summarize(values)
    single = summarize([4.0])
    assert single.iqm_interval.low is None
    assert "no interval from one run" in describe("share", single)
    constant = summarize([7.0, 7.0, 7.0])
    assert (constant.iqm_interval.low, constant.iqm_interval.high) == (7.0, 7.0)


def test_a_target_never_reached_is_the_worst_and_named_never() -> None:
    steps = summarize([1e5, np.inf, 2e5, 3e5, np.inf], lower_is_better=True)
    assert steps.worst == np.inf
    assert steps.median == 3e5
    assert "worst seed never" in describe("steps", steps, ",.0f")


@pytest.mark.parametrize(
    ("values", "message"),
    [([], "values must be a non-empty list"), ([[1, 2]], "one per run"), ([1.0, float("nan")], "NaN")],
)
def test_bad_runs_are_refused_in_a_sentence(values: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        summarize(values)
