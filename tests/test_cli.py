"""The command line, run in-process through ``main(argv)``, and once as the installed console script."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import pytest

from qgym import planning
from qgym.cli import main
from qgym.envs import qgym_env_ids


def test_list_prints_every_id_with_its_optimum(capsys: pytest.CaptureFixture[str]) -> None:
    """The printed optimum of every rung small enough to solve here (up to 10,000 states) is the one
    backward induction finds on its model; the larger solved rung prints a figure, the DQN rungs none."""
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert set(lines) == set(qgym_env_ids())
    for env_id in qgym_env_ids():
        spec = gym.spec(env_id)
        env = gym.make(env_id)
        try:
            model = planning.model_of(env)
        except ValueError:
            assert lines[env_id].endswith("-"), env_id
            continue
        finally:
            env.close()
        if model.n_states > 10_000:
            assert float(lines[env_id].split()[-1]) > 0, env_id
            continue
        assert spec.max_episode_steps is not None
        exact = planning.expected_return(
            model, planning.backward_induction(model, spec.max_episode_steps).values
        )
        assert lines[env_id].endswith(f"{exact:.4f}"), (env_id, exact)


def test_optimal_policy_on_the_deterministic_farm_earns_exactly_the_optimum(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["optimal", "qgym/GridFarm-1x1-Det-v0", "--episodes", "3"]) == 0
    out = capsys.readouterr().out
    assert "mean return          96.000 +- 0.000" in out
    assert "exact optimum        96.000" in out


def test_optimal_policy_on_a_stochastic_farm_lands_near_the_optimum(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["optimal", "qgym/GridFarm-1x2-v0", "--episodes", "300"]) == 0
    out = capsys.readouterr().out
    ratio = float(out.split("sampled mean ")[1].split("=")[1].split("%")[0])
    assert 93.0 < ratio < 107.0
    assert "the policy is exactly optimal (100% valued exactly)" in out
    assert "by luck of the draw" in out


def test_an_env_without_a_model_gives_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["optimal", "qgym/GridFarm-3x3-v0", "--episodes", "1"]) == 2
    assert "3x3 field has no exact model" in capsys.readouterr().err


def test_an_unknown_env_id_gives_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["optimal", "qgym/GridFarm-9x9-v0"]) == 2
    assert "GridFarm-9x9" in capsys.readouterr().err


def test_a_bad_episode_count_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["optimal", "qgym/GridFarm-1x1-v0", "--episodes", "0"])
    assert "must be a positive integer" in capsys.readouterr().err


def test_console_script_runs() -> None:
    script = shutil.which("qgym", path=str(Path(sys.executable).parent))
    assert script is not None, "the qgym console script is not installed next to this Python"
    result = subprocess.run([script, "list"], capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "qgym/GridFarm-2x2-v0" in result.stdout


def test_help_of_the_command_and_of_every_subcommand_prints(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    commands = ["list", "optimal", "train", "eval", "tune", "play", "enjoy", "plot", "record"]
    out = capsys.readouterr().out
    for command in commands:
        assert command in out
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert f"usage: qgym {command}" in capsys.readouterr().out


def test_python_dash_m_qgym_runs_through_the_console_scripts_launcher() -> None:
    """``python -m qgym`` and the installed ``qgym`` share one launcher (its Ctrl-C handling, its exit)."""
    import qgym.__main__
    import qgym_cli

    assert qgym.__main__.main is qgym_cli.main
    done = subprocess.run(
        [sys.executable, "-m", "qgym", "list"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "qgym/GridFarm-1x1-v0" in done.stdout


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.5])
def test_a_ctrl_c_while_the_command_line_imports_ends_in_a_sentence(delay: float) -> None:
    """The console script imports qgym inside a handler: a SIGINT during the imports (or just after)
    never prints a traceback, and the exit status says Ctrl-C (130) or the listing finished (0)."""
    qgym = Path(sys.executable).with_name("qgym")
    process = subprocess.Popen([str(qgym), "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert "Traceback" not in stderr
    assert process.returncode in (0, 130, -signal.SIGINT), (process.returncode, stderr)
    if process.returncode == 130:
        assert "stopped by Ctrl-C" in stderr
