"""Nothing written is lost or half-written: preset files shared by tuners, full disks, read-only
folders, leftovers of killed writers, Ctrl-C."""

from __future__ import annotations

import multiprocessing
import os
import pathlib
import time
from typing import Any

import pytest
import yaml

from qgym import files
from qgym.cli import main
from qgym.training import tuning

WRITERS, BLOCKS = 3, 40


def _write_blocks(path: str, writer: int) -> None:
    for block in range(BLOCKS):
        tuning.write_preset_block(path, f"qgym/env-{writer}-{block}", {"n_timesteps": block + 1})


@pytest.mark.slow  # 10 s: two processes writing 300 blocks
def test_concurrent_preset_writers_lose_no_block(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "tuned.yml"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_blocks, args=(str(out), w)) for w in range(WRITERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert [worker.exitcode for worker in workers] == [0] * WRITERS
    document = yaml.safe_load(out.read_text())
    assert len(document) == WRITERS * BLOCKS
    assert document["qgym/env-2-39"] == {"n_timesteps": 40}


def test_a_full_disk_leaves_the_old_preset_file_whole(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "tuned.yml"
    tuning.write_preset_block(out, "qgym/a", {"n_timesteps": 1})
    before = out.read_bytes()

    def disk_full(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        tuning.write_preset_block(out, "qgym/b", {"n_timesteps": 2})
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["tuned.yml"]


def test_leftovers_of_a_killed_writer_are_removed_by_the_next_write(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "model.zip"
    stale = tmp_path / ".model.zip.0123456789ab.tmp"
    fresh = tmp_path / ".model.zip.ba9876543210.tmp"  # perhaps a writer at work right now
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    files.write_atomically(target, b"whole")
    assert target.read_bytes() == b"whole"
    assert not stale.exists()
    assert fresh.exists()


def test_tune_refuses_an_unwritable_out_before_running_any_trial(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["tune", "--algo", "qlearning", "--env", "qgym/GridFarm-1x1-Det-v0", "--trials", "1"]
    argv += ["--storage", f"sqlite:///{tmp_path / 's.db'}", "--out", str(tmp_path / "missing" / "t.yml")]
    assert main(argv) == 2
    assert f"--out {tmp_path / 'missing' / 't.yml'}: the folder {tmp_path / 'missing'} does not exist" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "s.db").exists(), "no study was opened, no trial ran"


def test_an_os_error_is_a_sentence_naming_the_file(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_only(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied", str(tmp_path / "logs"))

    monkeypatch.setattr(pathlib.Path, "mkdir", read_only)
    argv = [
        "train",
        "--algo",
        "qlearning",
        "--env",
        "qgym/GridFarm-1x1-Det-v0",
        "--log-folder",
        str(tmp_path / "logs"),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"cannot use {tmp_path / 'logs'}: Permission denied" in err
    assert "Traceback" not in err


def test_ctrl_c_before_training_starts_ends_with_a_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from qgym import training

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "train", interrupted)
    assert main(["train", "--algo", "qlearning", "--env", "qgym/GridFarm-1x1-Det-v0"]) == 130
    assert "qgym train: stopped by Ctrl-C" in capsys.readouterr().err


def _write_forever(path: str) -> None:
    payload = bytes(50_000_000)
    while True:
        files.write_atomically(pathlib.Path(path), payload)


def test_a_writer_killed_by_sigkill_leaves_a_temp_file_the_next_write_removes_at_once(
    tmp_path: pathlib.Path,
) -> None:
    target = tmp_path / "model.zip"
    writer = multiprocessing.get_context("spawn").Process(target=_write_forever, args=(str(target),))
    writer.start()
    deadline = time.time() + 120
    while not list(tmp_path.glob(".model.zip.*.tmp")) and time.time() < deadline:
        time.sleep(0.001)
    writer.kill()  # SIGKILL: no finally, no cleanup
    writer.join()
    leftovers = list(tmp_path.glob(".model.zip.*.tmp"))
    assert leftovers, "the writer was killed while writing"
    assert all(f"-{writer.pid}-" in path.name for path in leftovers)
    live = tmp_path / f".model.zip.{files.writer_tag()}-0123456789ab.tmp"  # this process: still writing
    live.write_bytes(b"half")
    files.write_atomically(target, b"whole")
    assert target.read_bytes() == b"whole"
    assert sorted(tmp_path.glob(".model.zip.*.tmp")) == [live]  # the dead writer's is gone, not in an hour
