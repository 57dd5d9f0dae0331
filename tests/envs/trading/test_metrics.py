"""The trading figures against values computed by hand on small fixed series, the env's final info, and
the optimal policy's exact figures against its sampled episodes."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from qgym import planning
from qgym.envs.trading.metrics import TRADING_FIGURES, path_figures, trading_report
from qgym.envs.trading.reference import positions_of, sample_episodes

CHAINS = ("qgym/Trading-Chain-v0", "qgym/Trading-ChainRegime-v0", "qgym/Trading-ChainCostly-v0")


def _one(
    equity: list[float], positions: list[int], costs: float = 0.0, baseline: Any = None
) -> dict[str, Any]:
    """The figures of one episode as plain floats, None where undefined (as the env's info holds them)."""
    figures = path_figures(
        np.array([equity]),
        np.array([positions]),
        np.array([costs]),
        None if baseline is None else np.array([baseline]),
    )
    return {key: (float(v[0]) if np.isfinite(v[0]) else None) for key, v in figures.items()}


def test_a_flat_series_has_no_return_no_drawdown_and_undefined_ratios_never_nan() -> None:
    figures = _one([100.0] * 5, [0] * 5)
    assert figures["return"] == 0.0
    assert figures["max_drawdown"] == 0.0
    assert figures["max_drawdown_pct"] == 0.0
    assert figures["drawdown_duration"] == 0.0
    assert figures["turnover"] == 0.0
    assert figures["time_in_market"] == 0.0
    for undefined in ("sharpe", "sortino", "calmar", "hit_rate"):
        assert figures[undefined] is None, undefined
    report = trading_report([figures])
    assert report.get("sharpe") is not None
    assert report.get("sharpe").text() == "n/a"  # type: ignore[union-attr]
    assert not any(isinstance(v, float) and math.isnan(v) for v in figures.values())


def test_a_single_winning_step() -> None:
    figures = _one([100.0, 101.0], [0, 1], costs=0.0)
    assert figures["return"] == 1.0
    assert figures["sharpe"] is None  # one change: no variation
    assert figures["sortino"] is None  # no losing step
    assert figures["max_drawdown"] == 0.0
    assert figures["calmar"] is None
    assert figures["turnover"] == 1.0
    assert figures["hit_rate"] == 1.0
    assert figures["time_in_market"] == 1.0


def test_an_all_losing_episode() -> None:
    # Changes -1, -2, -1: mean -4/3, population variance 2 - 16/9 = 2/9, downside deviation sqrt(2).
    figures = _one([100.0, 99.0, 97.0, 96.0], [0, 1, 1, 1], costs=0.5)
    assert figures["return"] == -4.0
    assert figures["sharpe"] == pytest.approx((-4 / 3) / math.sqrt(2 / 9))
    assert figures["sortino"] == pytest.approx((-4 / 3) / math.sqrt(2))
    assert figures["max_drawdown"] == 4.0
    assert figures["max_drawdown_pct"] == pytest.approx(0.04)
    assert figures["drawdown_duration"] == 3.0
    assert figures["calmar"] == pytest.approx(-1.0)
    assert figures["hit_rate"] == 0.0
    assert figures["time_in_market"] == 1.0
    assert figures["costs"] == 0.5


def test_an_all_winning_episode_has_no_downside_and_no_drawdown() -> None:
    figures = _one([100.0, 101.0, 103.0, 104.0], [0, -1, -1, -1])
    assert figures["sharpe"] == pytest.approx((4 / 3) / math.sqrt(2 / 9))
    assert figures["sortino"] is None
    assert figures["max_drawdown"] == 0.0
    assert figures["drawdown_duration"] == 0.0
    assert figures["calmar"] is None
    assert figures["hit_rate"] == 1.0
    assert figures["turnover"] == 1.0


def test_a_mixed_episode_by_hand() -> None:
    # Equity 100 102 101 99 103 102 104: changes 2 -1 -2 4 -1 2; peaks 100 102 102 102 103 103 104;
    # falls 0 0 1 3 0 1 0. Positions held 1 1 0 1 1 -1: 5 steps in the market, 3 of them winning.
    figures = _one(
        [100.0, 102.0, 101.0, 99.0, 103.0, 102.0, 104.0],
        [0, 1, 1, 0, 1, 1, -1],
        costs=2.5,
        baseline=[99.0, 100.0, 98.0, 97.0, 99.0, 100.0, 101.0],
    )
    mean, square = 4 / 6, 30 / 6
    assert figures["sharpe"] == pytest.approx(mean / math.sqrt(square - mean**2))
    assert figures["sortino"] == pytest.approx(mean / math.sqrt(6 / 6))
    assert figures["max_drawdown"] == 3.0
    assert figures["max_drawdown_pct"] == pytest.approx(3 / 102)
    assert figures["drawdown_duration"] == 2.0
    assert figures["calmar"] == pytest.approx(4 / 3)
    assert figures["turnover"] == 5.0  # 1 + 0 + 1 + 1 + 0 + 2
    assert figures["hit_rate"] == pytest.approx(3 / 5)
    assert figures["time_in_market"] == pytest.approx(5 / 6)
    assert figures["buy_and_hold_return"] == 1.0  # measured from the initial equity, its entry cost paid
    assert figures["buy_and_hold_max_drawdown"] == 3.0  # 100 down to 97


def test_over_many_episodes_the_ratios_pool_every_step() -> None:
    losing = _one([100.0, 99.0, 97.0, 96.0], [0, 1, 1, 1])
    winning = _one([100.0, 101.0, 103.0, 104.0], [0, 1, 1, 1])
    report = trading_report([losing, winning])
    # Pooled changes -1 -2 -1 1 2 1: mean 0, so Sharpe and Sortino are 0 (not the mean of +-2.83).
    assert report.value("sharpe") == pytest.approx(0.0)
    assert report.value("sortino") == pytest.approx(0.0)
    assert report.value("hit_rate") == pytest.approx(0.5)
    assert report.value("max_drawdown") == pytest.approx(2.0)  # the mean of 4 and 0
    assert report.value("calmar") == pytest.approx(0.0)  # mean return 0 over mean drawdown 2
    interval = report.get("max_drawdown").interval  # type: ignore[union-attr]
    assert interval is not None
    assert 0.0 <= interval[0] <= 2.0 <= interval[1] <= 4.0


def test_flat_episodes_over_many_stay_undefined_without_nan() -> None:
    flat = _one([100.0] * 4, [0] * 4)
    report = trading_report([flat] * 20)
    assert report.value("sharpe") is None
    assert report.get("sharpe").interval is None  # type: ignore[union-attr]
    assert report.value("hit_rate") is None
    assert all(not (f.value is not None and math.isnan(f.value)) for f in report.figures)
    assert "nan" not in str(report.as_dict()).lower()


def test_a_policy_that_rarely_trades_gets_no_interval_rather_than_a_nan_one() -> None:
    flat = _one([100.0] * 4, [0] * 4)
    traded = _one([100.0, 101.0, 100.5, 102.0], [0, 1, 1, 1])
    report = trading_report([traded] + [flat] * 99)
    sharpe = report.get("sharpe")
    assert sharpe is not None
    assert sharpe.value is not None
    assert sharpe.interval is None  # most resamples hold no trade: the ratio is undefined there


@pytest.mark.parametrize("env_id", [*CHAINS, "qgym/Trading-Market-v0"])
def test_the_final_step_info_holds_the_episode_figures_and_they_match_its_steps(env_id: str) -> None:
    env = gym.make(env_id)
    _, info = env.reset(seed=3)
    rng = np.random.default_rng(3)
    rewards, positions, done = [], [0], False
    while not done:
        _, reward, terminated, truncated, info = env.step(int(rng.integers(3)))
        done = terminated or truncated
        if not done:
            assert "episode_metrics" not in info
        rewards.append(float(reward))
        positions.append(info["position"])
    record = info["episode_metrics"]
    assert dict(record) == env.unwrapped.episode_metrics()
    assert record["return"] == pytest.approx(sum(rewards))
    assert record["costs"] == pytest.approx(info["total_cost"])
    assert record["turnover"] == float(np.abs(np.diff(positions)).sum())
    assert record["steps"] == len(rewards)
    changes = np.array(rewards)
    assert record["sharpe"] == pytest.approx(changes.mean() / changes.std())
    held = np.array(positions[1:]) != 0
    assert record["time_in_market"] == pytest.approx(held.mean())
    assert record["buy_and_hold_return"] == pytest.approx(info["buy_and_hold_equity"] - 100.0)
    assert all(value is None or math.isfinite(value) for value in record.values())


def test_the_same_seed_gives_the_same_figures() -> None:
    def figures(seed: int) -> dict[str, Any]:
        env = gym.make("qgym/Trading-ChainRegime-v0")
        env.reset(seed=seed)
        info: dict[str, Any] = {}
        for action in np.random.default_rng(0).integers(3, size=100).tolist():
            info = env.step(action)[4]
        return dict(info["episode_metrics"])

    assert figures(5) == figures(5)


@pytest.mark.parametrize("env_id", CHAINS)
def test_the_exact_figures_of_the_optimal_policy_match_its_sampled_episodes(env_id: str) -> None:
    env = gym.make(env_id)
    base = env.unwrapped
    report = base.optimal_report(100)
    assert report is not None
    assert report.value("return") == pytest.approx(
        planning.expected_return(
            planning.model_of(env), planning.backward_induction(planning.model_of(env), 100).values
        )
    )
    model = planning.model_of(env)
    policy = planning.backward_induction(model, 100).policy
    _, new = positions_of(model, base.config, base.n_regimes)
    sampled = trading_report(sample_episodes(model, policy, new, 100.0, 3000, seed=11))
    for key in ("return", "sharpe", "sortino", "turnover", "hit_rate", "time_in_market"):
        exact, figure = report.get(key), sampled.get(key)
        assert exact is not None
        assert figure is not None
        assert figure.interval is not None
        assert exact.how == "exact"
        low, high = figure.interval
        spread = (high - low) / 2
        assert abs(exact.value - figure.value) < 1.5 * spread, (key, exact.value, figure.value, spread)  # type: ignore[operator]


def test_the_optimal_policy_played_through_the_env_reads_as_its_report() -> None:
    env = gym.make("qgym/Trading-ChainCostly-v0")
    base = env.unwrapped
    model = planning.model_of(env)
    policy = planning.backward_induction(model, 100).policy
    records = []
    for seed in range(300):
        observation, _ = env.reset(seed=seed)
        for step in range(100):
            observation, _, _, _, info = env.step(int(policy[step, observation]))
        records.append(dict(info["episode_metrics"]))
    played, reference = trading_report(records), base.optimal_report(100)
    for key in ("return", "turnover", "costs", "time_in_market", "max_drawdown", "drawdown_duration"):
        mine, theirs = played.get(key), reference.get(key)
        assert mine is not None
        assert theirs is not None
        assert mine.interval is not None
        low, high = mine.interval
        width = high - low
        assert low - 0.5 * width <= theirs.value <= high + 0.5 * width, (key, mine.text(), theirs.text())  # type: ignore[operator]
    # The README's figure: the costly rung's optimal policy trades 2.8 units an episode.
    assert reference.value("turnover") == pytest.approx(2.8, abs=0.05)


def test_every_figure_has_a_definition_and_a_unique_key() -> None:
    keys = [spec.key for spec in TRADING_FIGURES]
    assert len(set(keys)) == len(keys)
    assert all(len(spec.definition) > 20 for spec in TRADING_FIGURES)


def test_the_market_rungs_have_no_exact_reference() -> None:
    assert gym.make("qgym/Trading-Market-v0").unwrapped.optimal_report(250) is None
