"""One meaning per figure: every share of the optimum says which policy it values and how; where two
commands print different shares for one run, the output says why; a cost and a policy that never ends
an episode are said in words a learner reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from qgym.cli import main
from qgym.scoring import share_of_optimum
from qgym.training.evaluation import Evaluation

CHAIN = "qgym/Trading-Chain-v0"


def test_train_enjoy_record_and_optimal_on_one_run_say_which_policy_they_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("minari", reason="enjoy --record writes a Minari dataset (qgym[minari])")
    argv = ["train", "--algo", "qlearning", "--env", CHAIN, "-n", "100000", "--log-folder", str(tmp_path)]
    assert main(argv) == 0
    trained = capsys.readouterr().out
    greedy = trained.split("greedy policy (the agent's best action in every state), valued exactly: ")[1]
    greedy = greedy.splitlines()[0]  # e.g. "11.02 = 96.9% of the exact optimum 11.37"
    run = tmp_path / "qlearning" / "Trading-Chain-v0_1"
    assert (
        main(["enjoy", str(run), "--episodes", "1", "--fps", "1000", "--record", str(tmp_path / "plays")])
        == 0
    )
    out = capsys.readouterr().out
    assert "the recorded policy (the action frequencies in the " in out
    assert "uniform random in every other state), valued exactly: " in out
    # The greedy share enjoy prints is train's, word for word, and the lower recorded share is explained.
    assert f"(its own choice in every state, as qgym train and eval value it): {greedy}" in out
    assert "they differ because the recording knows the agent only in the states it met" in out
    assert main(["optimal", CHAIN, "--episodes", "50"]) == 0
    out = capsys.readouterr().out
    assert "the policy is exactly optimal (100% valued exactly); its sampled mean lands " in out
    assert "by luck of the draw" in out


def test_a_policy_that_never_ends_an_episode_is_said_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 64 steps leave the table at zero: its greedy action everywhere is 'up', which never reaches the goal.
    argv = ["train", "--algo", "qlearning", "--env", "CliffWalking-v1", "-n", "64", "--eval-episodes", "2"]
    assert main([*argv, "--hyperparams", "n_envs:1", "--log-folder", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (
        "valued exactly: -1000.00 against the exact optimum -13.00: a cost 76.92 times the least possible"
        in out
    )
    assert "the greedy policy never ends an episode (no goal, no hole) within the 1,000-step limit" in out


def test_a_cost_policy_that_ends_some_episodes_says_how_often() -> None:
    evaluation = Evaluation(
        "CliffWalking-v1", 10, -400.0, 1.0, -390.0, -13.0, finish_probability=0.62, horizon=1000
    )
    assert (
        "the greedy policy ends an episode within the 1,000-step limit with probability 0.62; the other "
        "episodes pay every step up to the limit" in evaluation.summary()
    )
    reaching = Evaluation(
        "CliffWalking-v1", 10, -17.0, 1.0, -17.0, -13.0, finish_probability=1.0, horizon=1000
    )
    assert "ends an episode" not in reaching.summary()


@pytest.mark.parametrize(
    ("value", "optimum", "words"),
    [
        (46.92, 47.42, "46.92 = 98.9% of the exact optimum 47.42"),
        (
            -17.0,
            -13.0,
            "-17.00 against the exact optimum -13.00: a cost 1.31 times the least possible (76.5%",
        ),
        (-13.0, -13.0, "-13.00, the exact optimum (the least cost possible)"),
        (2.0, -13.0, "2.00 against the exact optimum -13.00"),
    ],
)
def test_a_share_of_the_optimum_in_words(value: float, optimum: float, words: str) -> None:
    assert share_of_optimum(value, optimum).startswith(words)
