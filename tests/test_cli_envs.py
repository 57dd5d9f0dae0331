"""Envs the learner brings: their own module (``--gym-packages``, ``module:ID``) run as they run it, in a
separate process with the package on PYTHONPATH; ``--env-kwargs`` kept in config.yml and honoured by the
commands that read a run; Blackjack's Tuple observation in a table; ``eval`` of a multi-seed run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from qgym.cli import main

TOY = '''
import gymnasium as gym


class Corridor(gym.Env):
    """Walk right along the cells to the goal; ``length`` cells."""

    action_space = gym.spaces.Discrete(2)

    def __init__(self, length=5):
        self.length = length
        self.observation_space = gym.spaces.Discrete(length)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.cell = 0
        return self.cell, {}

    def step(self, action):
        self.cell = max(0, min(self.length - 1, self.cell + (1 if action == 1 else -1)))
        done = self.cell == self.length - 1
        return self.cell, float(done), done, False, {}


gym.register("MyToy-v0", entry_point="mytoy:Corridor", max_episode_steps=30)
'''


def qgym_script() -> str:
    """The installed console script beside this interpreter."""
    script = shutil.which("qgym", path=str(Path(sys.executable).parent))
    assert script is not None, "qgym is not installed in this environment (pip install -e .)"
    return script


@pytest.fixture
def user_package(tmp_path: Path) -> Path:
    """A folder holding the person's own package ``mytoy``, for PYTHONPATH."""
    folder = tmp_path / "src"
    (folder / "mytoy").mkdir(parents=True)
    (folder / "mytoy" / "__init__.py").write_text(TOY)
    return folder


def run_qgym(argv: list[str], cwd: Path, pythonpath: Path | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SB3_LOGDIR": str(cwd / "sb3")}
    env.pop("PYTHONPATH", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [qgym_script(), *argv], cwd=cwd, capture_output=True, text=True, timeout=300, env=env, check=False
    )


@pytest.mark.parametrize(
    "how",
    [
        ["--env", "MyToy-v0", "--gym-packages", "mytoy"],
        pytest.param(["--env", "mytoy:MyToy-v0"], marks=pytest.mark.slow),  # 5 s each: one in the quick suite
    ],
    ids=["flag", "prefix"],
)
def test_a_users_own_env_trains_from_its_module(how: list[str], user_package: Path, tmp_path: Path) -> None:
    argv = ["train", "--algo", "qlearning", *how, "-n", "3000", "--env-kwargs", "length:4"]
    result = run_qgym([*argv, "--log-folder", "logs", "--eval-episodes", "5"], tmp_path, user_package)
    assert result.returncode == 0, result.stderr
    assert "qlearning on MyToy-v0: step size (alpha)" in result.stdout
    assert (
        "sampled mean return 1.00" in result.stdout
    )  # the corridor is learned: every episode ends at the goal
    run = tmp_path / "logs" / "qlearning" / "MyToy-v0_1"
    config = yaml.safe_load((run / "config.yml").read_text())
    assert (config["env_id"], config["env_kwargs"], config["gym_packages"]) == (
        "MyToy-v0",
        {"length": 4},
        ["mytoy"],
    )
    # The run names its module: eval imports it only when the person names it again.
    refused = run_qgym(["eval", str(run), "--episodes", "3"], tmp_path, user_package)
    assert refused.returncode == 2
    assert "(key gym_packages) names the module 'mytoy'" in refused.stderr
    assert "--gym-packages mytoy" in refused.stderr
    evaluated = run_qgym(
        ["eval", str(run), "--episodes", "3", "--gym-packages", "mytoy"], tmp_path, user_package
    )
    assert evaluated.returncode == 0, evaluated.stderr
    assert "on MyToy-v0 with env_kwargs {'length': 4}:" in evaluated.stdout


def test_a_module_that_does_not_exist_is_a_sentence(tmp_path: Path) -> None:
    result = run_qgym(["train", "--algo", "qlearning", "--env", "mytoy:MyToy-v0"], tmp_path, None)
    assert result.returncode == 2
    assert "--env mytoy:MyToy-v0: there is no module 'mytoy' to import" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_module_that_registers_another_id_is_a_sentence(user_package: Path, tmp_path: Path) -> None:
    result = run_qgym(["optimal", "mytoy:MyToi-v0"], tmp_path, user_package)
    assert result.returncode == 2
    assert "ID mytoy:MyToi-v0: importing mytoy did not register 'MyToi-v0' (did you mean 'MyToy-v0'" in (
        result.stderr
    )


def test_env_kwargs_go_through_config_yml_into_eval_enjoy_record_and_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--algo", "qlearning", "--env", "FrozenLake-v1", "-n", "4000", "--eval-episodes", "5"]
    assert main([*argv, "--env-kwargs", "is_slippery:False", "--log-folder", str(tmp_path / "logs")]) == 0
    out = capsys.readouterr().out
    assert "of the exact optimum 1.00" in out  # not the slippery lake's 0.74
    run = tmp_path / "logs" / "qlearning" / "FrozenLake-v1_1"
    assert yaml.safe_load((run / "config.yml").read_text())["env_kwargs"] == {"is_slippery": False}
    assert main(["eval", str(run), "--episodes", "5"]) == 0
    out = capsys.readouterr().out
    assert "on FrozenLake-v1 with env_kwargs {'is_slippery': False}:" in out
    assert "valued exactly: 1.00 = 100.0% of the exact optimum 1.00" in out
    # The command line overrides the run's: the slippery lake has another optimum.
    assert main(["eval", str(run), "--episodes", "5", "--env-kwargs", "is_slippery:True"]) == 0
    assert "of the exact optimum 0.74" in capsys.readouterr().out
    assert main(["enjoy", str(run), "--fps", "1000"]) == 0
    assert "the best possible on average is 1.0" in capsys.readouterr().out
    assert main(["record", str(run), "--out", str(tmp_path / "a.gif"), "--max-frames", "20"]) == 0
    assert "returns of finished episodes: 1.0" in capsys.readouterr().out  # the sure path, recorded
    assert main(["plot", "--model", str(run), "--out", str(tmp_path / "plots")]) == 0
    assert (tmp_path / "plots" / "policy.png").is_file()


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["is_slipery:False"], "FrozenLake-v1 with env_kwargs {'is_slipery': False}:"),
        (["render_mode:'human'"], "--env-kwargs: render_mode is set by each command"),
        (["is_slippery"], "--env-kwargs takes key:value pairs (e.g. is_slippery:False)"),
        (["map_name:__import__('os')"], "--env-kwargs map_name: cannot read"),
    ],
)
def test_bad_env_kwargs_are_a_sentence(
    pairs: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--algo", "qlearning", "--env", "FrozenLake-v1", "--log-folder", str(tmp_path)]
    assert main([*argv, "--env-kwargs", *pairs]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_blackjacks_tuple_observation_trains_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--algo", "qlearning", "--env", "Blackjack-v1", "-n", "30000", "--eval-episodes", "300"]
    assert main([*argv, "--log-folder", str(tmp_path / "logs")]) == 0
    out = capsys.readouterr().out
    assert "trained for 30,000 steps" in out
    mean = float(out.split("sampled mean return ")[1].split()[0])
    assert mean > -0.3  # a uniformly random player loses about 0.4 a hand; the table learned to stand
    run = tmp_path / "logs" / "qlearning" / "Blackjack-v1_1"
    assert main(["eval", str(run), "--episodes", "20"]) == 0
    assert "on Blackjack-v1:" in capsys.readouterr().out


def test_eval_of_a_multi_seed_run_judges_every_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--algo", "qlearning", "--env", "FrozenLake-v1", "-n", "3000", "--seeds", "3"]
    assert main([*argv, "--log-folder", str(tmp_path)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(
        "qlearning on FrozenLake-v1: step size (alpha) max(n^-0.6, 0.01) per (state, action)"
    )
    run = tmp_path / "qlearning" / "FrozenLake-v1_1"
    assert main(["eval", str(run), "--episodes", "10"]) == 0
    out = capsys.readouterr().out
    for seed in range(3):
        assert f"seed_{seed}: greedy policy, valued exactly: " in out
    assert f"(one alone: qgym eval {run / 'seed_0'})" in out
    assert "greedy policy valued exactly, % of the exact optimum 0.74: IQM" in out
    assert "(95% bootstrap interval over 3 seeds)" in out
    assert main(["eval", str(run / "seed_1"), "--episodes", "10"]) == 0  # one seed, named
    assert "seed_1/model.zip on FrozenLake-v1:" in capsys.readouterr().out
    assert main(["enjoy", str(run)]) == 2  # one model to watch: the sentence points to a seed's folder
    assert (
        f"is a multi-seed run with a model per seed: give one, e.g. {run / 'seed_0'}"
        in capsys.readouterr().err
    )


def test_a_tuple_of_discretes_is_a_row_index_and_is_saved_as_data() -> None:
    from gymnasium import spaces

    from qgym.agents.spaces import StateIndexer
    from qgym.space_data import space_from_data, space_to_data

    space = spaces.Tuple((spaces.Discrete(32), spaces.Discrete(11), spaces.Discrete(2, start=1)))
    rows = StateIndexer(space)
    assert rows.n_states == 32 * 11 * 2
    assert rows.index((14, 10, 2)) == (14 * 11 + 10) * 2 + 1
    assert not rows.is_batch((14, 10, 2))
    sb3_batch = (np.array([14, 20]), np.array([10, 3]), np.array([2, 1]))  # SB3's VecEnv form
    assert rows.is_batch(sb3_batch)
    assert rows.indices(sb3_batch).tolist() == [rows.index((14, 10, 2)), rows.index((20, 3, 1))]
    assert rows.indices(np.array([[14, 10, 2], [20, 3, 1]])).tolist() == rows.indices(sb3_batch).tolist()
    assert tuple(rows.first(sb3_batch)) == (14, 10, 2)
    assert space_from_data(space_to_data(space)) == space
    with pytest.raises(ValueError, match="a table indexes a Tuple only when every part is Discrete"):
        StateIndexer(spaces.Tuple((spaces.Discrete(2), spaces.Box(0, 1, (2,)))))
    with pytest.raises(ValueError, match="a Tuple space may hold Discrete spaces only"):
        space_from_data({"type": "Tuple", "spaces": [{"type": "Box"}]})
