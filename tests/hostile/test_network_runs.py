"""A DQN run trained by ``qgym train`` is evaluated, watched, recorded, plotted and used as a hint with
pickle.loads and cloudpickle.loads made to fail: nothing is unpickled."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from qgym.cli import main
from qgym.viewing import play as play_module
from qgym.viewing.play import PlaySession

CHAIN = "qgym/Trading-Chain-v0"


@pytest.fixture(scope="module")
def dqn_run(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    logs = tmp_path_factory.mktemp("logs")
    assert main(["train", "--algo", "dqn", "--env", CHAIN, "-n", "2000", "--log-folder", str(logs)]) == 0
    (run,) = (logs / "dqn").iterdir()
    return run


@pytest.mark.parametrize("command", ["eval", "enjoy", "record", "plot"])
def test_a_qgym_dqn_run_is_used_without_unpickling(
    command: str, dqn_run: pathlib.Path, tmp_path: pathlib.Path, no_unpickling: None,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    model = str(dqn_run / "model.zip")
    argv = {
        "eval": ["eval", model, "--env", CHAIN, "--episodes", "3"],
        "enjoy": ["enjoy", model, "--env", CHAIN, "--fps", "1000"],
        "record": ["record", model, "--env", CHAIN, "--out", str(tmp_path / "a.gif"), "--max-frames", "5"],
        "plot": [
            "plot",
            "--run",
            str(dqn_run),
            "--model",
            model,
            "--env",
            CHAIN,
            "--out",
            str(tmp_path / "p"),
        ],
    }[command]
    assert main(argv) == 0, capsys.readouterr().err
    if command == "record":
        assert (tmp_path / "a.gif").stat().st_size > 0
    if command == "plot":
        assert (tmp_path / "p" / "learning_curve.png").stat().st_size > 0


def test_a_qgym_dqn_run_gives_hints_without_unpickling(
    dqn_run: pathlib.Path, monkeypatch: pytest.MonkeyPatch, no_unpickling: None
) -> None:
    hints: list[Any] = []

    def one_look(session: PlaySession, screen: Any, idle_timeout: float | None = None) -> None:
        hints.append(session.hint())  # --hint switches the hint and the Q-values on

    monkeypatch.setattr(play_module, "run_loop", one_look)
    assert main(["play", CHAIN, "--hint", str(dqn_run / "model.zip")]) == 0
    (hint,) = hints
    assert hint is not None
    assert hint.q_values is not None
    assert hint.q_values.shape == (3,)
