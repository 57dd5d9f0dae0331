"""``--seeds N`` whose tables would not fit: refused by a memory estimate before anything is allocated or a
run folder made, saying the figure and how to raise the bound (peak RSS measured in a fresh interpreter)."""

from __future__ import annotations

import pathlib

import pytest
from hostile_tools import run_measured

from qgym.cli import main


def test_ten_thousand_seeds_on_the_2x2_farm_are_refused_at_once(tmp_path: pathlib.Path) -> None:
    logs = tmp_path / "logs"
    message, peak_kib = run_measured(
        "from qgym.training.seeds import train_seeds\n"
        "train_seeds('qlearning', 'qgym/GridFarm-2x2-v0', 10_000, log_folder=sys.argv[1])",
        str(logs),
        env={"QGYM_MEMORY_LIMIT_GB": "4"},
    )
    assert message.startswith(
        "MemoryBoundError: 10,000 seeds of qlearning on qgym/GridFarm-2x2-v0 in lockstep would need about "
        "11.4 GiB of memory, more than the 4.0 GiB qgym allows; nothing was allocated (set "
        "QGYM_MEMORY_LIMIT_GB"
    ), message
    assert peak_kib < 600 * 1024  # imports only: 5.7 GiB after 72 s before
    assert not logs.exists()  # no half-made run folder


def test_the_bound_is_the_variable_s_and_a_run_within_it_trains(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--algo", "qlearning", "--env", "FrozenLake8x8-v1", "--seeds", "50", "-n", "500"]
    argv += ["--log-folder", str(tmp_path)]
    monkeypatch.setenv("QGYM_MEMORY_LIMIT_GB", "0.0001")  # 105 kB: fifty 8x8 tables and counts do not fit
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "50 seeds of qlearning on FrozenLake8x8-v1 in lockstep would need about" in err
    assert "set QGYM_MEMORY_LIMIT_GB, now 0.0001, to raise the bound" in err
    assert not any(tmp_path.iterdir())
    monkeypatch.setenv("QGYM_MEMORY_LIMIT_GB", "lots")
    assert main(argv) == 2
    assert "QGYM_MEMORY_LIMIT_GB='lots' must be a positive number of GiB" in capsys.readouterr().err
    monkeypatch.setenv("QGYM_MEMORY_LIMIT_GB", "1")
    assert main(argv) == 0
