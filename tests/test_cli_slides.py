"""The command line speaks the slides' words: alpha, gamma and epsilon on ``--hyperparams``, recorded under
the algorithm's own names, and the learning rule a run really uses as the first line ``train`` prints."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from qgym.cli import main
from qgym.training.presets import parse_hyperparams
from qgym.training.vocabulary import describe_learning

DET = "qgym/GridFarm-1x1-Det-v0"


def train(tmp_path: Path, *argv: str) -> list[str]:
    return ["train", "--log-folder", str(tmp_path / "logs"), "--eval-episodes", "2", *argv]


def config_of(tmp_path: Path, algo: str, name: str) -> dict[str, object]:
    document = yaml.safe_load((tmp_path / "logs" / algo / f"{name}_1" / "config.yml").read_text())
    assert isinstance(document, dict)
    return document


def test_the_slides_names_are_recorded_under_the_algorithms_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--algo", "qlearning", "--env", "FrozenLake-v1", "-n", "2000"]
    assert main(train(tmp_path, *argv, "--hyperparams", "alpha:0.1", "gamma:0.9", "epsilon:0.2")) == 0
    first = capsys.readouterr().out.splitlines()[0]
    # The preset's visit_decay (0.6) is off: alpha is the slides' constant step size.
    assert (
        first
        == "qlearning on FrozenLake-v1: step size (alpha) 0.1, constant; gamma 0.9; epsilon 0.2 throughout"
    )
    hyperparameters = config_of(tmp_path, "qlearning", "FrozenLake-v1")["hyperparameters"]
    assert isinstance(hyperparameters, dict)
    assert hyperparameters["learning_rate"] == 0.1
    assert hyperparameters["visit_decay"] is None
    assert hyperparameters["gamma"] == 0.9
    assert hyperparameters["exploration_initial_eps"] == hyperparameters["exploration_final_eps"] == 0.2
    assert not {"alpha", "epsilon"} & set(hyperparameters)


def test_the_first_line_states_the_presets_step_size_rule_and_schedule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "--algo",
        "qlearning",
        "--env",
        "FrozenLake-v1",
        "-n",
        "1000",
        "--hyperparams",
        "learning_rate:0.5",
    ]
    assert main(train(tmp_path, *argv)) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        "qlearning on FrozenLake-v1: step size (alpha) max(n^-0.6, 0.5) per (state, action), n its visits "
        "so far; gamma 0.99; epsilon 1.0 -> 0.05 over the first 10% of the steps"
    )


def test_the_first_line_of_a_dqn_run_names_its_own_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "--algo",
        "dqn",
        "--env",
        DET,
        "-n",
        "200",
        "--hyperparams",
        "epsilon_start:0.5",
        "epsilon_end:0.1",
    ]
    assert main(train(tmp_path, *argv, "epsilon_fraction:0.2", "alpha:0.0005")) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"dqn on {DET}: DQN: Adam step size 0.0005 on the network's weights; gamma ")
    assert "epsilon 0.5 -> 0.1 over the first 20% of the steps; target network copied every " in first
    hyperparameters = config_of(tmp_path, "dqn", "GridFarm-1x1-Det-v0")["hyperparameters"]
    assert isinstance(hyperparameters, dict)
    assert hyperparameters["learning_rate"] == 0.0005
    assert "visit_decay" not in hyperparameters  # a network has no per-(state, action) step size


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["alpah:0.1"], "--hyperparams alpah (did you mean 'alpha'?) is not a setting of qlearning"),
        (["lambda:0.9"], "the slides' formula writes the discount as lambda; the algorithms call it gamma"),
        (["epsilon_decay:0.99"], "epsilon falls linearly here, not by a factor a step"),
        (["epsilon_min:0.01"], "write epsilon_end"),
        (["alpha:0.1", "learning_rate:0.2"], "alpha and learning_rate both set learning_rate: give one"),
        (["epsilon:0.1", "epsilon_end:0.2"], "both set exploration_final_eps: give one of them"),
        (["alpha:2"], "learning_rate must be in [0, 1], got 2"),
    ],
)
def test_an_unknown_or_clashing_alias_gets_a_sentence(
    pairs: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(train(tmp_path, "--algo", "qlearning", "--env", DET, "--hyperparams", *pairs)) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "logs").exists()


def test_an_unknown_name_lists_the_slides_names_too() -> None:
    with pytest.raises(ValueError, match="or the slides' names alpha, epsilon, epsilon_start, epsilon_end"):
        parse_hyperparams(["beta:0.1"], "sarsa")


@pytest.mark.parametrize(
    ("block", "words"),
    [
        (
            {},
            "step size (alpha) 0.1, constant; gamma 0.99; epsilon 1.0 -> 0.05 over the first 10% of the "
            "steps",
        ),
        ({"learning_rate": "lin_0.5"}, "step size (alpha) 0.5 falling linearly to 0; gamma 0.99"),
        ({"exploration_fraction": 0.0}, "epsilon 0.05 throughout"),
        ({"policy_kwargs": {"initial_q_value": 100.0}}, "; Q starts at 100.0 (optimistic)"),
    ],
)
def test_the_learning_rule_in_words(block: dict[str, object], words: str) -> None:
    assert words in describe_learning("expected_sarsa", block)


@pytest.mark.parametrize(
    ("block", "words"),
    [
        ({"train_freq": 1, "gradient_steps": 1}, "learns after every step from step"),
        ({"train_freq": 16, "gradient_steps": 8}, "learns every 16 steps, 8 Adam steps each time, from step"),
        ({"train_freq": 4, "gradient_steps": -1}, "learns every 4 steps, 4 Adam steps each time, from"),
        ({"n_envs": 16, "train_freq": 1}, "learns every 16 steps (one step of each of its 16 envs) from"),
        (
            {"n_envs": 8, "train_freq": 2, "gradient_steps": -1},
            "(2 steps of each of its 8 envs), 16 Adam steps",
        ),
    ],
)
def test_a_network_says_how_often_it_learns_in_env_steps(block: dict[str, object], words: str) -> None:
    # SB3's train_freq counts steps of the whole vector env: 16 envs and train_freq 1 learn once
    # every 16 env steps, not after every step
    assert words in describe_learning("dqn", block)


def test_a_network_with_n_step_returns_says_so_in_the_tables_words() -> None:
    looks_ahead = "each target 3 real rewards, then gamma^3 the target network's Q (n-step)"
    assert looks_ahead in describe_learning("dqn", {"n_steps": 3})
    assert "(n-step)" not in describe_learning("qrdqn", {"n_steps": 1})
    table = describe_learning("nstep_sarsa", {"n_steps": 3})
    assert "each target 3 real rewards, then gamma^3 Q (n-step)" in table
