"""Commands that need no model start without torch and Stable-Baselines3 (``python -X importtime``
showed they were nearly all of the 2 s every command paid); ``benchmarks/bench_startup.py`` times them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import sys
from qgym.cli import main
try:
    status = main({argv!r})
except SystemExit as exit:
    status = exit.code
print("HEAVY", sorted(name for name in ("torch", "stable_baselines3") if name in sys.modules))
"""


def heavy_modules(argv: list[str]) -> str:
    """The heavy modules loaded after running ``qgym ARGV`` in a fresh interpreter."""
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "SB3_LOGDIR": os.devnull}
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    line = [line for line in result.stdout.splitlines() if line.startswith("HEAVY")]
    assert line, result.stderr
    return line[0].removeprefix("HEAVY ")


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["list"],
        ["train", "--help"],
        ["train", "--algo", "qlearnin", "--env", "FrozenLake-v1"],  # a typo in a name
        ["train", "--algo", "qlearning", "--env", "FrozenLak-v1"],
        ["train", "--algo", "qlearning"],  # an argparse error
        ["optimal", "qgym/Trading-Chain-v0", "--episodes", "3"],
    ],
    ids=["help", "list", "train-help", "algo-typo", "env-typo", "missing-env", "optimal"],
)
def test_commands_that_need_no_model_leave_torch_unimported(argv: list[str]) -> None:
    assert heavy_modules(argv) == "[]"


def test_playing_without_a_model_hint_leaves_torch_unimported() -> None:
    probe = (
        "import sys, gymnasium as gym\n"
        "from qgym.viewing.play import Command, CommandKind, PlaySession\n"
        "from qgym.viewing.advice import OptimalAdvisor\n"
        "env = gym.make('qgym/Trading-Chain-v0', render_mode='rgb_array')\n"
        "session = PlaySession(env, 'qgym/Trading-Chain-v0', seed=0, optimal_hints=True,\n"
        "    advisor=OptimalAdvisor.where_solvable(env, 'qgym/Trading-Chain-v0', True), show_hint=True)\n"
        "session.apply(Command(CommandKind.ACT, 1))\n"
        "assert session.hint() is not None and session.view.draw() is not None\n"
        "print(sorted(name for name in ('torch', 'stable_baselines3') if name in sys.modules))\n"
    )
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_probe_sees_torch_when_a_command_trains(tmp_path: Path) -> None:
    """The check above can fail: a command that builds a model does import torch."""
    argv = ["train", "--algo", "qlearning", "--env", "qgym/GridFarm-1x1-Det-v0", "-n", "100"]
    argv += ["--eval-episodes", "1", "--log-folder", str(tmp_path)]
    assert "torch" in heavy_modules(argv)
