"""Processes sharing one file take turns: two tuners writing 150 preset blocks each into one ``--out``
file both land every block, and neither waits while the other writes block after block."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

BLOCKS = 150
_WRITER = """
import sys, time
from pathlib import Path
from qgym.training.tuning import write_preset_block

path, name, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
(folder / f"ready-{name}").touch()
while len(list(folder.glob("ready-*"))) < 2:  # start together: imports take unequal times
    time.sleep(0.01)
for block in range(int(sys.argv[4])):
    write_preset_block(path, f"{name}/{block}", {"n_timesteps": block + 1, "learning_rate": 0.1})
"""


@pytest.mark.slow
def test_two_writers_of_150_blocks_each_land_all_300_taking_turns(tmp_path: Path) -> None:
    out = tmp_path / "tuned.yml"
    env = {**os.environ, "SB3_LOGDIR": str(tmp_path / "sb3")}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(out), name, str(tmp_path), str(BLOCKS)],
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in ("a", "b")
    ]
    errors = [writer.communicate(timeout=600)[1] for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0], errors
    order = list(yaml.safe_load(out.read_text()))  # a block is added at the end of the file
    assert sorted(order) == sorted(f"{name}/{block}" for name in "ab" for block in range(BLOCKS))
    # When the first writer's last block landed, the other's had kept pace (a lock that lets the
    # releaser take it again starved one writer: it landed a handful while the other landed 150).
    first_done = min(order.index(f"{name}/{BLOCKS - 1}") for name in "ab")
    before = order[: first_done + 1]
    assert min(sum(key.startswith(name) for key in before) for name in "ab") >= BLOCKS * 2 // 3
