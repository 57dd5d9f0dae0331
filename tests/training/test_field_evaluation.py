"""Evaluation beyond the return: the family's block of figures beside the optimal policy's, the
look-ahead alarm (firing on a leaking wrapper, silent on the honest optimum over 10 seeds), the seeds
and prices the evaluation episodes come from, and ``qgym eval`` run as a user runs it."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import yaml

from qgym import planning, training
from qgym.envs.trading import BUY, PeekNextMove, generate_prices, peeking_policy
from qgym.training.field_metrics import (
    ALARM_Z,
    EVALUATION_SEED_OFFSET,
    run_context,
    seed_line,
    unseen_prices,
)

CHAIN = "qgym/Trading-Chain-v0"


def _optimal_policy(env_id: str) -> Any:
    """The exact optimal policy of an env whose observation is its model state."""
    env = gym.make(env_id)
    table = planning.backward_induction(planning.model_of(env), env.spec.max_episode_steps).policy
    return lambda observation, step: int(table[step, observation])


def test_the_alarm_fires_on_a_wrapper_that_leaks_the_next_price() -> None:
    policy = peeking_policy(gym.make(CHAIN))
    evaluation = training.evaluate(policy, CHAIN, 60, seed=EVALUATION_SEED_OFFSET, env_wrapper=PeekNextMove)
    check = evaluation.look_ahead
    assert check is not None
    assert check.fires
    assert evaluation.mean_return > 2 * evaluation.optimum  # type: ignore[operator]
    summary = evaluation.summary()
    assert "LOOK-AHEAD ALARM" in summary
    assert (
        "No policy that sees only the past can do this: look for future information in the observation"
        in summary
    )
    assert evaluation.exact_return is None  # a wrapper of the user's own is valued by sampling only
    assert evaluation.as_dict()["look_ahead_alarm"] is True


@pytest.mark.parametrize("env_id", [CHAIN, "qgym/GridFarm-1x1-v0"])
def test_the_alarm_stays_silent_on_the_honest_optimum_over_ten_seeds(env_id: str) -> None:
    policy = _optimal_policy(env_id)
    scores = []
    for seed in range(10):
        evaluation = training.evaluate(policy, env_id, 100, seed=1_000 * seed, field_metrics=False)
        check = evaluation.look_ahead
        assert check is not None
        assert not check.fires, (seed, check.z)
        assert "ALARM" not in evaluation.summary()
        scores.append(check.z)
    # The optimum is the honest policy's own mean: its z-scores scatter around 0, well below the threshold.
    assert max(scores) < ALARM_Z
    assert -2.5 < float(np.mean(scores)) < 2.5


def test_evaluate_reports_the_family_block_beside_the_optimal_policys() -> None:
    evaluation = training.evaluate(
        _optimal_policy("qgym/GridFarm-1x2-v0"), "qgym/GridFarm-1x2-v0", 30, seed=5
    )
    assert evaluation.metrics is not None
    assert evaluation.optimal_metrics is not None
    assert evaluation.metrics.title == "farm accounting"
    summary = evaluation.summary()
    assert "farm accounting over 30 seasons, beside the optimal policy's" in summary
    assert "water-use efficiency" in summary
    assert evaluation.metrics.value("profit") == pytest.approx(evaluation.mean_return)
    recorded = evaluation.as_dict()
    assert recorded["field_metrics"]["harvests"] == evaluation.metrics.value("harvests")
    assert recorded["optimal_field_metrics"]["profit"] == pytest.approx(evaluation.optimum)
    yaml.safe_dump(recorded)  # plain values only
    assert "farm accounting" not in evaluation.summary(field_metrics=False)


def test_the_seed_line_says_whether_any_evaluation_episode_shares_a_training_seed() -> None:
    assert seed_line(20_000, 100, range(0, 8)) == (
        "evaluation episodes reset with seeds 20,000-20,099: draws training never saw "
        "(training's envs started from seeds 0-7, none of these)"
    )
    assert "WARNING: training's envs started from seeds 0-7, and 8 of them are among these" in seed_line(
        0, 100, range(8)
    )
    assert "training's seeds unknown" in seed_line(0, 10, None)


def test_a_run_folder_gives_its_evaluation_seeds_training_seeds_and_env_arguments(tmp_path: Path) -> None:
    (tmp_path / "config.yml").write_text(
        yaml.safe_dump({"seed": 3, "hyperparameters": {"n_envs": 8}, "env_kwargs": {"csv_path": "p.csv"}})
    )
    context = run_context(tmp_path / "model.zip")
    assert context.evaluation_seed == 3 + EVALUATION_SEED_OFFSET
    assert context.training_seeds == tuple(range(3, 11))
    assert context.env_kwargs == {"csv_path": "p.csv"}
    assert run_context(tmp_path / "elsewhere" / "model.zip").training_seeds is None


def test_your_prices_trained_on_train_are_evaluated_on_test() -> None:
    prices = generate_prices(1_500, seed=0)
    kwargs, note = unseen_prices({"prices": prices, "observation": "index"})
    assert kwargs["split"] == "test"
    assert note is not None
    assert "evaluated on split='test' (the rest, never seen in training)" in note
    env = gym.make("qgym/Trading-MarketHidden-v0", **kwargs)
    assert env.unwrapped.source.segment == (1_200, 1_500)
    assert unseen_prices({"prices": prices, "split": "all"})[1] == (
        "your prices: trained on all of them (split='all'), so none are unseen; evaluated on all"
    )
    assert unseen_prices({"prices": prices}, split="train")[0]["split"] == "train"
    assert unseen_prices({"observation": "index"}) == ({"observation": "index"}, None)
    with pytest.raises(ValueError, match="--split chooses a part of your own prices"):
        unseen_prices(None, split="test")


def test_walk_forward_folds_cut_the_out_of_sample_prices_in_order() -> None:
    prices = generate_prices(3_000, seed=1)
    env = gym.make("qgym/Trading-MarketHidden-v0", prices=prices, split="test", episode_length=100)
    folds = env.unwrapped.walk_forward_folds(3)
    assert [label for label, _ in folds] == ["prices 2400-2599", "prices 2600-2799", "prices 2800-2999"]
    for (_, kwargs), start in zip(folds, (2400, 2600, 2800), strict=True):
        # The fold's prices, after the window of earlier ones its features look back on.
        assert np.array_equal(kwargs["prices"], prices[start - 20 : start + 200])
        assert kwargs["split"] == "all"
        assert gym.make("qgym/Trading-MarketHidden-v0", **kwargs).unwrapped.config == env.unwrapped.config
    with pytest.raises(ValueError, match="6 folds of 100 are shorter than an episode"):
        env.unwrapped.walk_forward_folds(6)
    with pytest.raises(ValueError, match="walk-forward folds cut your own prices"):
        gym.make("qgym/Trading-MarketHidden-v0").unwrapped.walk_forward_folds(2)


def test_evaluate_folds_gives_the_figures_fold_by_fold() -> None:
    from qgym.training.walk_forward import evaluate_folds, fold_lines

    prices = generate_prices(3_000, seed=2)
    kwargs = {"prices": prices, "observation": "index", "episode_length": 100}
    folds, note = evaluate_folds(
        lambda observation, step: BUY, "qgym/Trading-MarketHidden-v0", 3, 10, 0, None, kwargs
    )
    assert note is not None
    assert "split='test'" in note
    assert len(folds) == 3
    lines = fold_lines(folds)
    assert lines[0].startswith(
        "walk-forward: 3 consecutive folds of your out-of-sample prices, 10 episodes each"
    )
    assert len(lines) == 2 + 3
    for fold in folds:
        metrics = fold.evaluation.metrics
        assert metrics is not None
        # Always long from the first step: the agent is buy and hold, bar the entry cost it also pays.
        assert metrics.value("time_in_market") == pytest.approx(1.0)
        assert metrics.value("return") == pytest.approx(metrics.value("buy_and_hold_return"))


def _qgym(*args: str, cwd: Path, python_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The installed ``qgym`` in its own process (with ``python_path``, a user's module importable)."""
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SB3_LOGDIR=str(cwd / "sb3"))
    if python_path is None:
        command = [str(Path(sys.executable).parent / "qgym"), *args]
    else:
        env["PYTHONPATH"] = str(python_path)
        command = [
            sys.executable,
            "-c",
            f"import sys, leaky_chain; from qgym.cli import main; sys.exit(main({list(args)!r}))",
        ]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


def test_qgym_eval_of_a_run_folder_repeats_its_own_evaluation_on_unseen_seeds(tmp_path: Path) -> None:
    run = training.train(
        "qlearning", CHAIN, n_timesteps=20_000, seed=2, log_folder=tmp_path, eval_episodes=30
    )
    done = _qgym("eval", str(run.folder), "--episodes", "30", "--plot", str(tmp_path / "plots"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "evaluation episodes reset with seeds 20,002-20,031: draws training never saw" in out
    # The same episodes as train's own evaluation: the same sampled mean.
    assert f"sampled mean return {run.evaluation.mean_return:.2f}" in out
    assert "trading metrics over 30 episodes, beside the optimal policy's" in out
    assert "Sharpe ratio" in out
    assert (tmp_path / "plots" / "episode.png").stat().st_size > 10_000
    assert (tmp_path / "plots" / "figures.png").stat().st_size > 10_000


LEAKY_MODULE = '''
"""A user's env with a look-ahead bug: the chain, whose observation also says which way the price
moves next. Its dynamics are the chain's, so its exact optimum is the chain's."""
import copy
import math

import gymnasium as gym
from gymnasium import spaces

from qgym.envs.trading import ChainTradingEnv


class LeakyChain(ChainTradingEnv):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.observation_space = spaces.Discrete(self.n_states * 3)

    def _observation(self):
        before, after = copy.deepcopy(self.desk.stream).advance_one(0, copy.deepcopy(self.np_random))
        return super()._observation() * 3 + (after > before) - (after < before) + 1


gym.register("LeakyChain-v0", entry_point=LeakyChain, max_episode_steps=100,
             kwargs={"levels": 21, "episode_length": 100, "fixed_cost": 0.5})
'''


class _Spaces(gym.Env[Any, Any]):
    """Only the spaces of the user's env, to build a model file for it here (the env itself is imported
    in the user's process only, never registered in this one)."""

    observation_space = gym.spaces.Discrete(63 * 3)
    action_space = gym.spaces.Discrete(3)


def test_qgym_eval_raises_the_alarm_on_a_users_leaking_env(tmp_path: Path) -> None:
    (tmp_path / "leaky_chain.py").write_text(textwrap.dedent(LEAKY_MODULE))
    from qgym import QLearning

    model = QLearning("TabularPolicy", _Spaces(), seed=0)
    table = np.zeros((63 * 3, 3))
    policy = peeking_policy(gym.make(CHAIN))
    for observation in range(len(table)):
        table[observation, policy(observation, 0)] = 1.0
    model.policy.tables[0] = table  # the agent's own table (q_table is a copy)
    folder = tmp_path / "run"
    folder.mkdir()
    model.save(folder / "model.zip")
    config = {"algo": "qlearning", "env_id": "LeakyChain-v0", "seed": 0, "hyperparameters": {"n_envs": 1}}
    (folder / "config.yml").write_text(yaml.safe_dump(config))
    done = _qgym("eval", str(folder), "--episodes", "40", cwd=tmp_path, python_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "LOOK-AHEAD ALARM: the sampled mean return" in done.stdout
    assert "exceeds the exact optimum 11.37" in done.stdout


@pytest.mark.slow  # 6 s: trains, then evaluates fold by fold in subprocesses
def test_qgym_eval_walks_forward_over_a_run_trained_on_your_csv(tmp_path: Path) -> None:
    from qgym import QLearning

    csv = tmp_path / "prices.csv"
    csv.write_text("close\n" + "\n".join(f"{price:.4f}" for price in generate_prices(2_000, seed=4)) + "\n")
    env_kwargs = {"csv_path": str(csv), "observation": "index", "episode_length": 100}
    env = gym.make("qgym/Trading-MarketHidden-v0", **env_kwargs)
    folder = tmp_path / "run"
    folder.mkdir()
    QLearning("TabularPolicy", env, seed=0).learn(3_000).save(folder / "model.zip")
    config = {
        "algo": "qlearning",
        "env_id": "qgym/Trading-MarketHidden-v0",
        "seed": 0,
        "env_kwargs": env_kwargs,
    }
    (folder / "config.yml").write_text(yaml.safe_dump(config))
    done = _qgym("eval", str(folder), "--folds", "3", "--episodes", "8", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "your prices: trained on split='train' (the first 80%), evaluated on split='test'" in done.stdout
    start = next(i for i, line in enumerate(lines) if line.startswith("walk-forward: 3 consecutive folds"))
    assert lines[start + 1].split()[:3] == ["fold", "return", "Sharpe"]
    folds = lines[start + 2 : start + 5]
    assert [row.split()[:3] for row in folds] == [
        ["1", "prices", "1600-1732"],
        ["2", "prices", "1733-1865"],
        ["3", "prices", "1866-1999"],
    ]
    refused = _qgym("eval", str(folder), "--folds", "9", cwd=tmp_path)
    assert refused.returncode != 0
    assert "9 folds of 44 are shorter than an episode" in refused.stderr


def test_the_alarms_standard_error_is_floored_by_the_optimal_policys_exact_one() -> None:
    from qgym.training.field_metrics import look_ahead_check

    # A sample that happens to spread little cannot inflate the score: 100 returns of s.d. 1 (ddof 0)
    # against an optimal policy whose returns spread 5: the floor 5 / 10 = 0.5 wins over 1 / sqrt(99).
    floored = look_ahead_check(12.0, 1.0, 100, optimum=10.0, optimal_std=5.0)
    assert floored is not None
    assert floored.standard_error == pytest.approx(0.5)
    assert floored.z == pytest.approx(4.0)
    assert not floored.fires
    assert floored.false_alarm_rate == pytest.approx(2.87e-7, rel=0.01)  # the normal tail at 5
    alone = look_ahead_check(12.0, 1.0, 100, optimum=10.0)
    assert alone is not None
    assert alone.z == pytest.approx(2.0 * math.sqrt(99))
    assert alone.fires
    assert alone.false_alarm_rate == pytest.approx(1.2e-6, rel=0.05)  # Student's t at 5, 99 d.f.
    assert look_ahead_check(12.0, 1.0, 1, optimum=10.0) is None  # one episode: no spread to judge by
    assert look_ahead_check(12.0, 1.0, 100, optimum=None) is None


def test_the_floor_is_the_exact_deviation_of_the_optimal_return() -> None:
    from qgym import expectations
    from qgym.training.evaluation import optimal_return_std

    model = planning.model_of(gym.make(CHAIN))
    policy = planning.backward_induction(model, 100).policy
    assert optimal_return_std(CHAIN) == pytest.approx(
        math.sqrt(expectations.return_moments(model, policy, 100)[1])
    )
    assert optimal_return_std("qgym/Trading-Market-v0") is None
    assert optimal_return_std("qgym/GridFarm-2x3-v0") is None  # 705,894 states: above the limit


def test_the_leak_sees_the_real_next_price_and_needs_the_chains_index_observation() -> None:
    env = PeekNextMove(gym.make(CHAIN))
    observation, info = env.reset(seed=3)
    for _ in range(30):
        move = observation % 3 - 1
        price = info["price"]
        observation, _, _, _, info = env.step(0)
        assert move == (info["price"] > price) - (info["price"] < price)
    with pytest.raises(ValueError, match="PeekNextMove needs the chain's index observation"):
        PeekNextMove(gym.make("qgym/Trading-Market-v0"))
