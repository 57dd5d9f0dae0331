"""Hostile ``--hyperparams`` (and preset keys): each refused before a model, an env or a run folder is
built, in a sentence naming the key; none a traceback, none silently ignored, none an allocation."""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess

import pytest

from qgym.cli import main


@pytest.mark.parametrize(
    ("algo", "pairs", "message"),
    [
        pytest.param(
            "qlearning",
            ["seed:5"],
            "seed 5 in a preset or --hyperparams: the seed is the command's --seed",
            id="seed",
        ),
        pytest.param(
            "dqn",
            ["device:toaster"],
            "device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got 'toaster'",
            id="device",
        ),
        pytest.param("dqn", ["policy:CnnPolicy"], "policy must be 'MlpPolicy' for dqn", id="cnn-policy"),
        pytest.param(
            "qlearning",
            ["policy:CnnPolicy"],
            "policy must be 'TabularPolicy' or 'MlpPolicy' for qlearning",
            id="table-policy",
        ),
        pytest.param(
            "dqn",
            ["replay_buffer_class:os.system"],
            "replay_buffer_class: 'os.system' names a class",
            id="buffer-class",
        ),
        pytest.param(
            "dqn",
            ["policy_kwargs:dict(optimizer_class='SGD')"],
            "optimizer_class: 'SGD' names a class",
            id="optimizer",
        ),
        pytest.param(
            "qlearning",
            ["n_envs:1000000000"],
            "n_envs must be a whole number from 1 to 65,536",
            id="n_envs-1e9",
        ),
        pytest.param(
            "qlearning",
            ["n_envs:5000"],
            "n_envs=5,000 copies of FrozenLake-v1 as Python envs",
            id="python-envs",
        ),
        pytest.param(
            "dqn",
            ["policy_kwargs:dict(net_arch=[65536, 65536, 65536])"],
            "has 8,589,934,592 weights between",
            id="net_arch-total",
        ),
        pytest.param(
            "dqn",
            ["policy_kwargs:dict(net_arch=[8192, 8192])"],
            "has 67,108,864 weights between its layers",
            id="net_arch-8192",
        ),
        pytest.param(
            "dqn",
            ["env_wrapper:[{'gymnasium.wrappers.FrameStackObservation': {'stack_size': 1000000000}}]"],
            "stack_size must be a whole number from 1 to 1,024, got 1000000000",
            id="framestack",
        ),
        pytest.param(
            "dqn",
            ["normalize:True"],
            "normalize: True is RL Zoo's VecNormalize, which qgym does not apply",
            id="normalize",
        ),
        pytest.param(
            "dqn",
            ["frame_stack:4"],
            "frame_stack: 4 is RL Zoo's VecFrameStack, which qgym does not apply",
            id="frame_stack",
        ),
        pytest.param(
            "qlearning",
            ["learning_rate:0", "visit_decay:None"],
            "learning_rate 0 never changes the table",
            id="rate-0",
        ),
        pytest.param(
            "dqn", ["learning_rate:0"], r"learning_rate must be a number in \(0, 1\)", id="dqn-rate-0"
        ),
    ],
)
def test_a_hyperparameter_qgym_cannot_honour_is_refused_before_any_folder(
    algo: str, pairs: list[str], message: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = tmp_path / "logs"
    argv = ["train", "--algo", algo, "--env", "FrozenLake-v1", "-n", "100", "--log-folder", str(logs)]
    assert main([*argv, "--hyperparams", *pairs]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qgym train: error: ")
    assert re.search(message, err), err
    assert not logs.exists()  # no half-made run folder


def test_normalize_false_and_frame_stack_1_mean_what_they_say_and_train(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "train",
        "--algo",
        "qlearning",
        "--env",
        "FrozenLake-v1",
        "-n",
        "200",
        "--log-folder",
        str(tmp_path),
    ]
    assert main([*argv, "--hyperparams", "normalize:False", "frame_stack:1"]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(("value", "message"), [("-5", "--eval-freq must be a number of steps, 0 for none")])
def test_a_negative_eval_freq_is_refused_not_ignored(
    value: str, message: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "train",
        "--algo",
        "qlearning",
        "--env",
        "FrozenLake-v1",
        "-n",
        "100",
        "--log-folder",
        str(tmp_path),
    ]
    assert main([*argv, "--eval-freq", value]) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_the_installed_command_refuses_a_seed_in_hyperparams(tmp_path: pathlib.Path) -> None:
    qgym = shutil.which("qgym")
    assert qgym is not None
    argv = [qgym, "train", "--algo", "qlearning", "--env", "FrozenLake-v1", "-n", "100"]
    done = subprocess.run(
        [*argv, "--hyperparams", "seed:5", "--log-folder", str(tmp_path / "logs")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert "seed 5 in a preset or --hyperparams" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "logs").exists()
