"""qgym train --seeds N, qgym compare and the seeds' curves: one folder with every seed, figures that
agree with qgym eval, the same seeds giving the same folder, Sutton & Barto's cliff, clear refusals."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import yaml

from qgym.agents.lockstep import Lockstep
from qgym.cli import main
from qgym.training.seed_results import read_seed_run
from qgym.training.stats import iqm

FROZEN = "FrozenLake-v1"
CLIFF = ["--hyperparams", "n_envs:1", "learning_rate:0.5", "exploration_initial_eps:0.1"]
CLIFF += ["exploration_final_eps:0.1", "gamma:1.0", "visit_decay:None"]


def _csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))


def _train(tmp_path: Path, *argv: str, folder: str = "logs") -> list[str]:
    return ["train", *argv, "--log-folder", str(tmp_path / folder), "--no-progress"]


@pytest.fixture(scope="module")
def frozen_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("seeds")
    assert main(_train(tmp, "--algo", "qlearning", "--env", FROZEN, "--seeds", "4", "-n", "20000")) == 0
    return tmp / "logs" / "qlearning" / "FrozenLake-v1_1"


def test_a_seeds_run_keeps_every_seed_and_its_statistics(frozen_run: Path) -> None:
    config = yaml.safe_load((frozen_run / "config.yml").read_text())
    assert config["seeds"] == [0, 1, 2, 3]
    assert config["method"] == "lockstep"
    rows = _csv(frozen_run / "seeds.csv")
    assert [int(row["seed"]) for row in rows] == [0, 1, 2, 3]
    summary = yaml.safe_load((frozen_run / "summary.yml").read_text())
    percents = [float(row["percent"]) for row in rows]
    assert summary["percent"]["iqm"] == pytest.approx(float(iqm(percents)))
    assert summary["percent"]["worst"] == pytest.approx(min(percents))
    curves = _csv(frozen_run / "curves.csv")
    assert {row["exact"] for row in curves} == {"1"}
    assert {int(row["step"]) for row in curves} >= {0}
    for seed in range(4):
        assert (frozen_run / f"seed_{seed}" / "model.zip").is_file()


def test_each_seed_folder_evaluates_to_the_figure_the_run_wrote(
    frozen_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = read_seed_run(frozen_run)
    for result in run.results[:2]:
        assert main(["eval", str(frozen_run / f"seed_{result.seed}"), "--episodes", "2"]) == 0
        printed = capsys.readouterr().out
        assert (
            f"valued exactly: {result.exact_return:.2f} = {result.percent:.1f}% of the exact optimum"
            in printed
        )


def test_the_same_seeds_give_the_same_run(frozen_run: Path, tmp_path: Path) -> None:
    assert main(_train(tmp_path, "--algo", "qlearning", "--env", FROZEN, "--seeds", "4", "-n", "20000")) == 0
    again = tmp_path / "logs" / "qlearning" / "FrozenLake-v1_1"
    assert (again / "seeds.csv").read_bytes() == (frozen_run / "seeds.csv").read_bytes()
    assert (again / "curves.csv").read_bytes() == (frozen_run / "curves.csv").read_bytes()


def test_the_summary_says_what_each_figure_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_train(tmp_path, "--algo", "sarsa", "--env", FROZEN, "--seeds", "3", "-n", "6000")) == 0
    printed = capsys.readouterr().out
    assert "3 seeds (0-2)" in printed
    assert "trained in lockstep in this process" in printed
    assert "(95% bootstrap interval over 3 seeds), median" in printed
    assert "steps until the greedy policy first reached 95% of the optimum" in printed
    assert "online return (last training episodes, exploring): IQM" in printed


def test_plot_draws_the_seeds_curves_with_their_figures_beside(
    frozen_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plot", "--run", str(frozen_run), "--out", str(tmp_path / "plots")]) == 0
    assert (tmp_path / "plots" / "seed_curves.png").stat().st_size > 10_000
    rows = _csv(tmp_path / "plots" / "seed_curves.csv")
    run = read_seed_run(frozen_run)
    last = max(point.step for point in run.curves)
    final = [point.percent for point in run.curves if point.step == last]
    greedy = [row for row in rows if row["figure"] == "greedy policy" and int(row["step"]) == last]
    assert float(greedy[0]["iqm"]) == pytest.approx(float(iqm(final)))
    assert float(greedy[0]["iqm_low_95"]) <= float(greedy[0]["iqm"]) <= float(greedy[0]["iqm_high_95"])
    assert "seed_curves.png" in capsys.readouterr().out


@pytest.mark.slow
def test_sutton_and_barto_cliff_sarsa_is_safer_online_and_q_learning_greedy_is_optimal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Example 6.6 over 50 seeds: constant epsilon 0.1, alpha 0.5."""
    for algo in ("qlearning", "sarsa"):
        argv = _train(tmp_path, "--algo", algo, "--env", "CliffWalking-v1", "--seeds", "50", "-n", "20000")
        assert main([*argv, *CLIFF]) == 0
    q_run = tmp_path / "logs" / "qlearning" / "CliffWalking-v1_1"
    sarsa_run = tmp_path / "logs" / "sarsa" / "CliffWalking-v1_1"
    q, sarsa = read_seed_run(q_run), read_seed_run(sarsa_run)
    assert np.median(q.column("exact_return")) == -13.0
    assert np.median(sarsa.column("exact_return")) < -13.0  # the safe path, further from the cliff
    assert np.median(sarsa.column("online_return")) > np.median(q.column("online_return"))
    capsys.readouterr()
    assert main(["compare", str(q_run), str(sarsa_run)]) == 0
    lines = capsys.readouterr().out.splitlines()
    greedy = next(line for line in lines if line.startswith("greedy policy's exact expected return"))
    online = next(line for line in lines if line.startswith("online return"))
    assert greedy.endswith("-> A better")
    assert online.endswith("-> B better")


class _Corridor(gym.Env[np.int64, np.int64]):
    """A user's own env without a model: walk right along 4 cells to the end."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Discrete(4)
        self.action_space = gym.spaces.Discrete(2)
        self._cell = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        self._cell = 0
        return np.int64(0), {}

    def step(self, action: np.int64) -> Any:
        self._cell = min(3, self._cell + 1) if int(action) == 1 else max(0, self._cell - 1)
        return np.int64(self._cell), float(self._cell == 3), self._cell == 3, False, {}


@pytest.mark.slow
def test_an_env_without_a_model_trains_one_seed_a_process_and_says_what_its_curves_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gym.register("TestCorridor-v0", entry_point=_Corridor, max_episode_steps=20)
    try:
        argv = _train(
            tmp_path, "--algo", "qlearning", "--env", "TestCorridor-v0", "--seeds", "2", "-n", "400"
        )
        assert main([*argv, "--jobs", "4"]) == 0
    finally:
        del gym.registry["TestCorridor-v0"]
    printed = capsys.readouterr().out
    assert "(not in lockstep: TestCorridor-v0 exposes no exact model)" in printed
    assert "sampled mean over 10 episodes" in printed
    run = read_seed_run(tmp_path / "logs" / "qlearning" / "TestCorridor-v0_1")
    assert run.config["method"] == "processes"
    assert not any(point.exact for point in run.curves)
    assert all(result.sampled_return is not None for result in run.results)


@pytest.mark.slow
def test_dqn_seeds_run_in_processes_and_are_valued_exactly(tmp_path: Path) -> None:
    argv = _train(
        tmp_path, "--algo", "dqn", "--env", FROZEN, "--seeds", "2", "-n", "1500", "--eval-freq", "500"
    )
    assert main([*argv, "--jobs", "2"]) == 0
    run = read_seed_run(tmp_path / "logs" / "dqn" / "FrozenLake-v1_1")
    assert sorted(result.seed for result in run.results) == [0, 1]
    assert all(point.exact for point in run.curves)
    assert sorted({point.step for point in run.curves if point.seed == 0}) == [0, 500, 1000, 1500]


def test_ctrl_c_keeps_every_seed_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real, calls = Lockstep._step, []

    def interrupt(self: Lockstep, *args: Any) -> None:
        calls.append(1)
        if len(calls) == 30:
            raise KeyboardInterrupt
        real(self, *args)

    monkeypatch.setattr(Lockstep, "_step", interrupt)
    argv = _train(tmp_path, "--algo", "qlearning", "--env", FROZEN, "--seeds", "3", "-n", "100000")
    assert main(argv) == 130
    printed = capsys.readouterr().out
    assert "stopping: saving the 3 seeds as they are" in printed
    assert "stopped by Ctrl-C: 3 of 3 seeds kept" in printed
    run = read_seed_run(tmp_path / "logs" / "qlearning" / "FrozenLake-v1_1")
    assert len(run.results) == 3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--seeds", "0"], "--seeds takes a whole number of at least 1, got 0"),
        (["--seeds", "-3"], "--seeds takes a whole number of at least 1, got -3"),
        (["--seeds", "2.5"], "--seeds takes a whole number of at least 1, got '2.5'"),
        (["--seeds", "20000"], "--seeds must be a whole number of seeds from 1 to 10,000"),
        (["--seeds", "2", "--jobs", "0"], "--jobs takes a whole number of at least 1"),
        (["--jobs", "2"], "--jobs goes with --seeds N"),
    ],
)
def test_bad_seed_counts_are_refused_in_a_sentence(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main(_train(tmp_path, "--algo", "qlearning", "--env", FROZEN, *extra))
    except SystemExit as error:  # argparse's own refusal of a flag's value
        code = int(error.code or 0)
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "logs").exists()


def test_more_jobs_than_seeds_is_fine(tmp_path: Path) -> None:
    argv = _train(
        tmp_path, "--algo", "qlearning", "--env", FROZEN, "--seeds", "1", "--jobs", "8", "-n", "2000"
    )
    assert main(argv) == 0


def test_compare_refuses_runs_of_two_envs_and_single_runs(
    frozen_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = _train(tmp_path, "--algo", "qlearning", "--env", "FrozenLake8x8-v1", "--seeds", "2", "-n", "2000")
    assert main(argv) == 0
    other = tmp_path / "logs" / "qlearning" / "FrozenLake8x8-v1_1"
    capsys.readouterr()
    assert main(["compare", str(frozen_run), str(other)]) == 2
    assert "returns of two envs do not compare" in capsys.readouterr().err
    assert main(["compare", str(frozen_run), str(frozen_run / "seed_0")]) == 2
    assert "is not a multi-seed run folder (no seeds.csv)" in capsys.readouterr().err


def test_several_runs_are_drawn_together_and_a_single_run_among_them_is_refused(
    frozen_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = _train(tmp_path, "--algo", "expected_sarsa", "--env", FROZEN, "--seeds", "2", "-n", "3000")
    assert main(argv) == 0
    other = tmp_path / "logs" / "expected_sarsa" / "FrozenLake-v1_1"
    out = tmp_path / "plots"
    assert main(["plot", "--run", str(frozen_run), "--run", str(other), "--out", str(out)]) == 0
    runs = {row["run"] for row in _csv(out / "seed_curves.csv")}
    assert runs == {"qlearning (4 seeds)", "expected_sarsa (2 seeds)"}
    assert main(["plot", "--run", str(frozen_run), "--run", str(other / "seed_0"), "--out", str(out)]) == 2
    assert "is not a multi-seed run folder" in capsys.readouterr().err
