"""Recording where it cannot be kept: ``play --record`` and ``enjoy --record`` into a file, ``/dev/null``, a
read-only folder or a nearly full disk are refused before the first move; a disk that fills during the
write (h5py segfaults or hangs there) ends in a sentence and leaves nothing; ``--fps nan`` is refused."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import pytest

from qgym.cli import main
from qgym.viewing import datasets, enjoy, play
from qgym.viewing.datasets import EpisodeRecorder

FARM = "qgym/GridFarm-1x1-v0"


def _mount(path: pathlib.Path, options: str) -> bool:
    if os.geteuid() != 0:
        return False
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


@pytest.fixture
def read_only_folder(tmp_path: pathlib.Path) -> Iterator[pathlib.Path]:
    """A folder nobody may write in: a read-only tmpfs (as root, whom chmod does not stop), else chmod."""
    folder = tmp_path / "read-only"
    if _mount(folder, "ro,size=64k"):
        yield folder
        subprocess.run(["umount", str(folder)], check=True)
    else:
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)


@pytest.fixture
def small_disk(tmp_path: pathlib.Path) -> Iterator[pathlib.Path]:
    """A 1.5 MB file system (tmpfs): filled up, it stands for a full disk."""
    disk = tmp_path / "disk"
    if not _mount(disk, "size=1536k"):
        pytest.skip("a full disk is simulated with a small tmpfs, which needs root and mount")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def fill(disk: pathlib.Path, leave: int) -> None:
    """Fill ``disk`` until ``leave`` bytes are free."""
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    (disk / "filler").write_bytes(bytes(max(0, free - leave)))


@pytest.fixture(scope="module")
def farm_run(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    logs = tmp_path_factory.mktemp("logs")
    argv = ["train", "--algo", "qlearning", "--env", FARM, "-n", "3000", "--log-folder", str(logs)]
    assert main(argv) == 0
    return logs / "qlearning" / "GridFarm-1x1-v0_1"


@pytest.fixture
def no_play(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any window opened for play or enjoy fails the test: a refusal must come before the first move."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("play started")

    monkeypatch.setattr(play, "Screen", refuse)
    monkeypatch.setattr(enjoy, "Screen", refuse)


DESTINATIONS = {
    "a-file": (lambda tmp, ro: tmp / "file.txt", r"--record .*file\.txt is not a folder \(it is a file\)"),
    "dev-null": (
        lambda tmp, ro: pathlib.Path("/dev/null"),
        r"--record /dev/null is not a folder \(it is a device\)",
    ),
    "under-a-file": (lambda tmp, ro: tmp / "file.txt" / "plays", r"--record .*plays: cannot write in"),
    "read-only": (
        lambda tmp, ro: ro / "plays",
        r"--record .*plays: cannot write in .* \((Read-only file system|Permission denied)\)",
    ),
}


@pytest.mark.parametrize("where", sorted(DESTINATIONS))
@pytest.mark.parametrize("command", ["play", "enjoy"])
def test_a_record_destination_that_cannot_be_written_is_refused_before_the_first_move(
    command: str,
    where: str,
    farm_run: pathlib.Path,
    read_only_folder: pathlib.Path,
    tmp_path: pathlib.Path,
    no_play: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "file.txt").write_text("not a folder")
    destination, message = DESTINATIONS[where]
    target = destination(tmp_path, read_only_folder)
    argv = ["play", FARM] if command == "play" else ["enjoy", str(farm_run), "--fps", "1000"]
    assert main([*argv, "--record", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"qgym {command}: error: --record "), err
    assert re.search(message, err), err
    assert (tmp_path / "file.txt").read_text() == "not a folder"


def test_a_nearly_full_disk_is_refused_before_play(
    small_disk: pathlib.Path, no_play: None, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(small_disk, 200_000)
    assert main(["play", FARM, "--record", str(small_disk / "plays")]) == 2
    assert "its disk has" in capsys.readouterr().err


def _recorder_with(episodes: int, directory: pathlib.Path | None = None) -> EpisodeRecorder:
    env = gym.make(FARM)
    recorder = EpisodeRecorder(env, FARM, directory)
    for episode in range(episodes):
        observation, info = env.reset(seed=episode)
        recorder.start(episode, observation, info)
        done = False
        while not done:
            action = int(env.action_space.sample())
            observation, reward, terminated, truncated, info = env.step(action)
            recorder.step(action, observation, float(reward), terminated, truncated, info)
            done = terminated or truncated
    return recorder


def test_a_disk_too_small_for_the_dataset_is_said_before_writing(small_disk: pathlib.Path) -> None:
    recorder = _recorder_with(60, small_disk)  # about 1.7 MB estimated, the disk has 1.5 MB
    with pytest.raises(
        ValueError, match=r"--record .*: its disk has [\d,]+ bytes free, and writing there needs"
    ):
        recorder.save(small_disk, "human", "test")
    assert sorted(path.name for path in small_disk.iterdir()) == []


def test_a_disk_that_fills_during_the_write_ends_in_a_sentence_and_leaves_nothing(
    small_disk: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The size check is bypassed, so h5py itself meets the full disk (it segfaulted the process, or
    hung in its cleanup): the writer is a child, and the player's process says what happened."""
    recorder = _recorder_with(60, small_disk)
    monkeypatch.setattr(datasets, "_estimated_bytes", lambda env, steps, episodes: 0)
    monkeypatch.setattr(datasets, "WRITE_TIMEOUT", 30.0)
    with pytest.raises(
        ValueError,
        match=r"--record .*: the dataset could not be written \(its disk filled up: No space left on device",
    ):
        recorder.save(small_disk, "human", "test")
    assert sorted(path.name for path in small_disk.iterdir()) == []  # no half dataset, no staging folder


def test_a_recording_that_fits_is_written_whole_and_loads(tmp_path: pathlib.Path) -> None:
    dataset_id = _recorder_with(3, tmp_path).save(tmp_path, "human", "test")
    assert dataset_id == "qgym/GridFarm-1x1-v0/human-v0"
    assert datasets.load_recording(tmp_path, dataset_id).total_episodes == 3
    assert not list(tmp_path.glob(".qgym-recording-*"))


@pytest.mark.parametrize("fps", ["nan", "inf", "0", "-2"])
def test_enjoy_and_record_refuse_an_fps_that_is_not_a_positive_number(
    fps: str,
    farm_run: pathlib.Path,
    tmp_path: pathlib.Path,
    no_play: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["enjoy", str(farm_run), "--fps", fps]) == 2
    assert f"--fps must be a positive number of steps a second, got {float(fps)}" in capsys.readouterr().err
    assert main(["record", str(farm_run), "--out", str(tmp_path / "a.gif"), "--fps", fps]) == 2
    assert "--fps must be a positive number of frames a second" in capsys.readouterr().err
    assert not (tmp_path / "a.gif").exists()


def test_record_refuses_an_out_it_cannot_write_before_playing(
    farm_run: pathlib.Path,
    read_only_folder: pathlib.Path,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from qgym.viewing import record

    monkeypatch.setattr(record, "collect_frames", lambda *a, **k: pytest.fail("played before the check"))
    (tmp_path / "video.gif").mkdir()
    assert main(["record", str(farm_run), "--out", str(tmp_path / "video.gif")]) == 2
    assert (
        "--out " + str(tmp_path / "video.gif") + " is not a file (it is a folder)" in capsys.readouterr().err
    )
    assert main(["record", str(farm_run), "--out", str(read_only_folder / "a.gif")]) == 2
    assert re.search(r"--out .*a\.gif: cannot write in", capsys.readouterr().err)


def test_the_installed_command_refuses_fps_nan_at_once() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "qgym", "enjoy", "no-such-run", "--fps", "nan"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "--fps must be a positive number of steps a second, got nan" in done.stderr


def test_a_writer_that_crashes_or_hangs_is_named_for_what_it_did(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crashed = subprocess.CompletedProcess(["writer"], -11, "", "")
    assert datasets._why(crashed) == "the writer was stopped by signal 11"
    monkeypatch.setattr(datasets, "WRITE_TIMEOUT", 0.0)  # the writer cannot start in no time
    with pytest.raises(ValueError, match=r"the writer did not finish within 0 s\); nothing of it was kept"):
        _recorder_with(1, tmp_path).save(tmp_path, "human", "test")
    assert list(tmp_path.iterdir()) == []
