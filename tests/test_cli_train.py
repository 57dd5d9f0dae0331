"""``qgym train`` and ``qgym eval`` in-process, their errors, and one run of the console script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qgym.cli import main

FAST_PRESET = "qgym/GridFarm-1x1-Det-v0:\n  n_timesteps: 2000\nFrozenLake-v1:\n  n_timesteps: 1000\n"


@pytest.fixture
def preset(tmp_path: Path) -> Path:
    path = tmp_path / "fast.yml"
    path.write_text(FAST_PRESET, encoding="utf-8")
    return path


def train(tmp_path: Path, preset: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--algo",
        "qlearning",
        "--env",
        "qgym/GridFarm-1x1-Det-v0",
        "--preset",
        str(preset),
        "--log-folder",
        str(tmp_path / "logs"),
        *extra,
    ]


def test_train_prints_the_greedy_policy_against_the_exact_optimum(
    tmp_path: Path, preset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(train(tmp_path, preset, "--seed", "1", "--eval-episodes", "5")) == 0
    out = capsys.readouterr().out
    assert "trained for 2,000 steps" in out
    assert "% of the exact optimum 96.00" in out
    assert (tmp_path / "logs" / "qlearning" / "GridFarm-1x1-Det-v0_1" / "model.zip").is_file()


def test_n_overrides_the_presets_steps(
    tmp_path: Path, preset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(train(tmp_path, preset, "-n", "700", "--eval-episodes", "2")) == 0
    assert "trained for 700 steps" in capsys.readouterr().out


def test_eval_reads_a_trained_model_and_compares_with_the_optimum(
    tmp_path: Path, preset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(train(tmp_path, preset, "--eval-episodes", "2"))
    model = tmp_path / "logs" / "qlearning" / "GridFarm-1x1-Det-v0_1" / "model.zip"
    capsys.readouterr()
    assert main(["eval", str(model), "--env", "qgym/GridFarm-1x1-Det-v0", "--episodes", "3"]) == 0
    out = capsys.readouterr().out
    assert "(standard error 0.00, 3 episodes" in out
    assert "of the exact optimum 96.00" in out


def train_briefly(tmp_path: Path, algo: str, env_id: str) -> Path:
    """``qgym train`` for 300 steps (learning from step 100) and 3 evaluation episodes; the model file."""
    path = tmp_path / "brief.yml"
    path.write_text(f"{env_id}:\n  n_timesteps: 300\n  learning_starts: 100\n", encoding="utf-8")
    argv = ["train", "--algo", algo, "--env", env_id, "--preset", str(path), "--eval-episodes", "3"]
    assert main([*argv, "--log-folder", str(tmp_path / "logs")]) == 0
    return tmp_path / "logs" / algo / f"{env_id.split('/')[-1]}_1" / "model.zip"


def test_train_and_eval_a_qrdqn_on_a_rung_with_an_exact_optimum(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = train_briefly(tmp_path, "qrdqn", "qgym/GridFarm-1x1-v0")
    assert "of the exact optimum" in capsys.readouterr().out
    assert main(["eval", str(model), "--env", "qgym/GridFarm-1x1-v0", "--episodes", "2"]) == 0
    assert "of the exact optimum" in capsys.readouterr().out
    assert main(["eval", str(model), "--env", "FrozenLake-v1"]) == 2
    assert "does not fit FrozenLake-v1" in capsys.readouterr().err


def test_on_a_rung_without_an_optimum_train_and_eval_print_the_paired_heuristic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = train_briefly(tmp_path, "dqn", "qgym/Trading-Market-v0")
    out = capsys.readouterr().out
    assert "no exact optimum is known for this env" in out
    assert "heuristic (TrendFollower) on the same episodes:" in out
    assert main(["eval", str(model), "--env", "qgym/Trading-Market-v0", "--episodes", "2"]) == 0
    assert "agent minus heuristic:" in capsys.readouterr().out


def test_eval_and_enjoy_replay_a_model_through_the_observation_wrapper_it_was_trained_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import gymnasium as gym

    from qgym.viewing.trained_model import load_agent

    wrapped = tmp_path / "wrapped.yml"
    wrapped.write_text(
        "FrozenLake-v1:\n  n_timesteps: 3000\n  env_wrapper:\n"
        "    - qgym.wrappers.UnravelObservation:\n        dims: [4, 4]\n"
        "    - qgym.wrappers.ScaleReward:\n        scale: 0.5\n",
        encoding="utf-8",
    )
    argv = ["train", "--algo", "qlearning", "--env", "FrozenLake-v1", "--preset", str(wrapped)]
    assert main([*argv, "--log-folder", str(tmp_path / "logs"), "--eval-episodes", "2"]) == 0
    model = tmp_path / "logs" / "qlearning" / "FrozenLake-v1_1" / "model.zip"
    trained = capsys.readouterr().out.splitlines()[-1]
    assert main(["eval", str(model), "--env", "FrozenLake-v1", "--episodes", "3"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == trained  # same exact value, in the env's own units
    agent = load_agent(model, gym.make("FrozenLake-v1"), "FrozenLake-v1")
    for state in range(16):
        assert agent.act(state) == agent.model.predict([state // 4, state % 4], deterministic=True)[0]
    assert agent.q_values(5) is not None


def test_eval_of_a_model_for_another_env_says_it_does_not_fit(
    tmp_path: Path, preset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(train(tmp_path, preset, "--eval-episodes", "2"))
    model = tmp_path / "logs" / "qlearning" / "GridFarm-1x1-Det-v0_1" / "model.zip"
    assert main(["eval", str(model), "--env", "FrozenLake-v1"]) == 2
    assert "does not fit FrozenLake-v1" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--algo", "qlerning", "--env", "FrozenLake-v1"],
            "unknown algorithm 'qlerning' (did you mean 'qlearning'",
        ),
        (
            ["--algo", "dqn", "--env", "FrozenLake-v2"],
            "unknown env ID 'FrozenLake-v2' (did you mean 'FrozenLake-v1'",
        ),
        (["--algo", "qlearning", "--env", "Taxi-v4"], "has no key 'Taxi-v4'"),
    ],
)
def test_train_errors_name_the_problem_and_the_nearest_choice(
    preset: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", *argv, "--preset", str(preset)]) == 2
    assert message in capsys.readouterr().err


def test_a_malformed_preset_file_is_an_error_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("FrozenLake-v1: {n_timesteps: [1,\n", encoding="utf-8")
    assert main(["train", "--algo", "qlearning", "--env", "FrozenLake-v1", "--preset", str(bad)]) == 2
    assert f"the preset file {bad} is not valid YAML" in capsys.readouterr().err


def test_eval_of_a_file_that_is_no_model_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    assert main(["eval", str(junk), "--env", "FrozenLake-v1"]) == 2
    assert "not a model file" in capsys.readouterr().err


def test_the_console_script_trains_from_the_shipped_presets(tmp_path: Path) -> None:
    script = shutil.which("qgym", path=str(Path(sys.executable).parent))
    assert script is not None, "the qgym console script is not installed next to this Python"
    env = {**os.environ, "SB3_LOGDIR": str(tmp_path / "sb3")}
    argv = ["train", "--algo", "qlearning", "--env", "qgym/GridFarm-1x1-Det-v0", "-n", "3000"]
    argv += ["--log-folder", str(tmp_path / "logs"), "--eval-episodes", "2"]
    result = subprocess.run(
        [script, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "of the exact optimum 96.00" in result.stdout


def test_the_readme_shows_what_its_main_job_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    command = "qgym train --algo qlearning --env qgym/GridFarm-1x1-v0"
    assert command in readme
    shown = readme.split("It prints:\n\n```\n", 1)[1].split("```", 1)[0].splitlines()
    assert main([*command.split()[1:], "--log-folder", str(tmp_path)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == len(shown)
    for mine, readme in zip(printed, shown, strict=True):  # two lines name the run folder
        assert (
            mine.split("; run folder")[0].split(": qgym eval ")[0]
            == (readme.split("; run folder")[0].split(": qgym eval ")[0])
        )
