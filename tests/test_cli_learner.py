"""The command line a learner expects: knobs on the command line, no silences, run folders as handles,
numbers that say what they are."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
import yaml

from qgym.cli import main
from qgym.training import tuning

DET = "qgym/GridFarm-1x1-Det-v0"


def train(tmp_path: Path, *argv: str) -> list[str]:
    return ["train", "--log-folder", str(tmp_path / "logs"), "--eval-episodes", "5", *argv]


def test_hyperparams_are_read_like_rl_zoos_and_recorded_in_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--algo", "qlearning", "--env", DET, "-n", "3000"]
    argv += ["--hyperparams", "learning_rate:0.05", "gamma:0.9", "policy_kwargs:dict(initial_q_value=1.0)"]
    assert main(train(tmp_path, *argv)) == 0
    out = capsys.readouterr().out
    assert "with --hyperparams learning_rate:0.05 gamma:0.9" in out
    config = yaml.safe_load(
        (tmp_path / "logs" / "qlearning" / "GridFarm-1x1-Det-v0_1" / "config.yml").read_text()
    )
    hyperparameters = config["hyperparameters"]
    assert (hyperparameters["learning_rate"], hyperparameters["gamma"]) == (0.05, 0.9)
    assert hyperparameters["policy_kwargs"] == {"initial_q_value": 1.0}
    assert hyperparameters["n_timesteps"] == 3000


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["gama:0.9"], "--hyperparams gama (did you mean 'gamma'?) is not a setting of qlearning; it takes"),
        (["gamma"], "--hyperparams takes key:value pairs (e.g. learning_rate:0.05), got 'gamma'"),
        (["gamma:__import__('os')"], "--hyperparams gamma: cannot read"),
        (["gamma:2"], "gamma must be a number in [0, 1]"),
        (["buffer_size:10"], "buffer_size"),
    ],
)
def test_bad_hyperparams_name_the_key_and_what_is_allowed(
    pairs: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(train(tmp_path, "--algo", "qlearning", "--env", DET, "--hyperparams", *pairs)) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_an_env_without_a_preset_trains_with_the_defaults_it_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(train(tmp_path, "--algo", "qrdqn", "--env", "FrozenLake-v1", "-n", "300")) == 0
    out = capsys.readouterr().out
    assert "no preset for FrozenLake-v1 in qrdqn.yml" in out
    assert "the defaults, n_timesteps 100000, learning_rate 5e-05, gamma 0.99" in out
    assert "trained for 300 steps" in out


class Corridor(gym.Env[int, int]):
    """A user's own tabular env: walk right along five cells to the goal."""

    observation_space = gym.spaces.Discrete(5)
    action_space = gym.spaces.Discrete(2)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        super().reset(seed=seed)
        self.cell = 0
        return self.cell, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        self.cell = max(0, min(4, self.cell + (1 if action == 1 else -1)))
        return self.cell, float(self.cell == 4), self.cell == 4, False, {}


def test_a_users_own_discrete_env_trains_without_a_preset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gym.register("Corridor-v0", entry_point=Corridor, max_episode_steps=20)
    try:
        assert main(train(tmp_path, "--algo", "qlearning", "--env", "Corridor-v0", "-n", "2000")) == 0
    finally:
        del gym.registry["Corridor-v0"]
    out = capsys.readouterr().out
    assert "no preset for Corridor-v0 in qlearning.yml" in out
    assert "no exact optimum is known for this env" in out
    assert "sampled mean return 1.00" in out  # the corridor is learned: every episode reaches the goal


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    logs = tmp_path_factory.mktemp("runs")
    assert (
        main(
            ["train", "--algo", "qlearning", "--env", DET, "--log-folder", str(logs), "--eval-episodes", "3"]
        )
        == 0
    )
    return logs / "qlearning" / "GridFarm-1x1-Det-v0_1"


@pytest.mark.parametrize("command", ["eval", "enjoy", "record", "plot"])
def test_a_run_folder_is_a_handle_without_env(
    command: str, run_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = {
        "eval": ["eval", str(run_folder), "--episodes", "3"],
        "enjoy": ["enjoy", str(run_folder), "--fps", "1000"],
        "record": ["record", str(run_folder), "--out", str(tmp_path / "a.gif"), "--max-frames", "4"],
        "plot": ["plot", "--model", str(run_folder), "--out", str(tmp_path / "plots")],
    }[command]
    assert main(argv) == 0, capsys.readouterr().err
    if command == "eval":
        out = capsys.readouterr().out
        assert f"{run_folder / 'model.zip'} on {DET}:" in out
        assert "of the exact optimum 96.00" in out


def test_an_env_override_that_does_not_fit_the_run_is_a_sentence(
    run_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", str(run_folder), "--env", "qgym/Trading-Chain-v0"]) == 2
    assert "does not fit qgym/Trading-Chain-v0" in capsys.readouterr().err


@pytest.mark.parametrize(("tty", "shown"), [(True, True), (False, False)])
def test_the_progress_bar_is_on_for_a_terminal_and_off_otherwise(
    tty: bool, shown: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    from qgym import training

    real = training.train

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["progress"])
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "train", spy)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: tty)
    assert main(train(tmp_path, "--algo", "qlearning", "--env", DET, "-n", "500")) == 0
    assert main(train(tmp_path, "--algo", "qlearning", "--env", DET, "-n", "500", "--no-progress")) == 0
    assert seen == [shown, False]


def test_evaluations_during_training_print_a_line_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(train(tmp_path, "--algo", "qlearning", "--env", DET, "-n", "4000", "--eval-freq", "2000")) == 0
    )
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("step ")]
    assert len(lines) == 2
    assert lines[0].startswith("step 2,000: mean return ")
    assert "(standard error " in lines[0]
    assert "% of the exact optimum" in lines[0]


def test_tune_prints_each_trial_and_ctrl_c_writes_the_best_so_far(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tuning.run_trial
    calls: list[int] = []

    def interrupt_the_third(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(tuning, "run_trial", interrupt_the_third)
    out = tmp_path / "tuned.yml"
    argv = ["tune", "--algo", "qlearning", "--env", DET, "--trials", "5", "-n", "1000"]
    assert main([*argv, "--storage", f"sqlite:///{tmp_path / 's.db'}", "--out", str(out)]) == 130
    printed = capsys.readouterr().out
    assert printed.count("best so far") == 2
    assert "trial 0: score " in printed
    assert f"stopped by Ctrl-C after 2 trials; the best preset so far goes to {out}" in printed
    assert DET in yaml.safe_load(out.read_text())
