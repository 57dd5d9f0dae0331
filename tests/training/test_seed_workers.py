"""Seeds trained one a worker process: the workers die with their parent, Ctrl-C ends everything at
once, each seed lands whole, and a stopped run resumes with the seeds it finished (none trained twice).

The signal tests send real signals to the installed ``qgym`` in a subprocess, as a terminal would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qgym.cli import main
from qgym.training.seed_results import CurvePoint, SeedResult
from qgym.training.seed_store import RECORD, store_seed
from qgym.training.seed_tasks import SeedOutcome

DQN = ["--algo", "dqn", "--env", "qgym/GridFarm-1x1-Det-v0"]
LONG = [*DQN, "--seeds", "4", "--jobs", "2", "-n", "500000", "--no-progress"]


def _qgym(tmp_path: Path, *argv: str) -> subprocess.Popen[str]:
    """The installed ``qgym`` in its own session (a terminal's process group), scratch under tmp_path."""
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(scratch)}
    command = [shutil.which("qgym") or "qgym", "train", *argv, "--log-folder", str(tmp_path / "logs")]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )


def _children(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _workers_training(process: subprocess.Popen[str], scratch: Path, count: int) -> set[int]:
    """The worker processes of ``process`` once ``count`` of them train (their scratch folders exist)."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        workers = {pid for pid in _children(process.pid) if b"spawn_main" in _cmdline(pid)}
        if len(workers) >= count and len(list(scratch.glob("qgym-seed-*"))) >= count:
            return workers
        time.sleep(0.2)
    raise AssertionError(f"{count} workers did not start training within 240 s")


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _gone(pids: set[int], seconds: float) -> set[int]:
    """Those of ``pids`` still alive after up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.1)
    return {pid for pid in pids if _alive(pid)}


@pytest.fixture
def cleanup() -> list[subprocess.Popen[str]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()


@pytest.mark.slow  # 7 s
def test_a_killed_driver_takes_its_workers_with_it_and_leaves_no_seed_half_written(
    tmp_path: Path, cleanup: list[subprocess.Popen[str]]
) -> None:
    process = _qgym(tmp_path, *LONG)
    cleanup.append(process)
    workers = _workers_training(process, tmp_path / "scratch", 2)
    process.kill()  # SIGKILL: no handler runs in the driver
    process.communicate()
    assert _gone(workers, 15) == set(), "workers outlived their driver"
    run = next((tmp_path / "logs" / "dqn").iterdir())
    time.sleep(1)
    assert sorted(path.name for path in run.iterdir() if path.name != ".training.lock") == ["config.yml"]
    assert list((tmp_path / "scratch").glob("qgym-seed-*")) == []  # the workers' scratch removed


@pytest.mark.slow
def test_ctrl_c_stops_the_workers_at_once_and_keeps_the_finished_seeds(
    tmp_path: Path, cleanup: list[subprocess.Popen[str]]
) -> None:
    process = _qgym(tmp_path, *LONG)
    cleanup.append(process)
    workers = _workers_training(process, tmp_path / "scratch", 2)
    os.killpg(process.pid, signal.SIGINT)  # as a terminal does: the whole foreground group
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert _gone(workers, 10) == set()
    assert "stopping: the workers are stopped; the seeds already trained are kept" in out
    assert "stopped by Ctrl-C: 0 of 4 seeds kept" in out
    assert "--resume" in out


@pytest.mark.slow
def test_a_second_ctrl_c_ends_everything_at_once(
    tmp_path: Path, cleanup: list[subprocess.Popen[str]]
) -> None:
    process = _qgym(tmp_path, *LONG)
    cleanup.append(process)
    workers = _workers_training(process, tmp_path / "scratch", 2)
    os.killpg(process.pid, signal.SIGINT)
    time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode == 130
    assert _gone(workers, 10) == set()
    assert _children(process.pid) == set()


@pytest.mark.slow
def test_a_resumed_run_trains_only_the_missing_seeds_and_ends_as_an_uninterrupted_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", *DQN, "--seeds", "3", "--jobs", "2", "-n", "1500", "--no-progress"]
    assert main([*argv, "--log-folder", str(tmp_path / "whole")]) == 0
    whole = tmp_path / "whole" / "dqn" / "GridFarm-1x1-Det-v0_1"
    # The same run as a killed driver leaves it: seed 0 finished, seed 1 half-staged, seed 2 not begun.
    stopped = tmp_path / "stopped"
    shutil.copytree(whole, stopped)
    for name in ("seeds.csv", "curves.csv", "summary.yml"):
        (stopped / name).unlink()
    shutil.rmtree(stopped / "seed_2")
    (stopped / "seed_1").rename(stopped / ".seed_1.abc123.partial")
    (stopped / ".seed_1.abc123.partial" / RECORD).unlink()
    kept = (stopped / "seed_0" / "model.zip").stat()
    capsys.readouterr()
    assert main([*argv, "--resume", str(stopped)]) == 0
    printed = capsys.readouterr().out
    assert "resuming: seed 0 already trained; training seeds 1, 2" in printed
    assert "seed 0:" not in printed.split("resuming:")[1]  # seed 0 is not trained again
    assert (stopped / "seed_0" / "model.zip").stat().st_mtime_ns == kept.st_mtime_ns
    assert not list(stopped.glob(".seed_*"))
    for name in ("seeds.csv", "curves.csv", "summary.yml"):
        assert (stopped / name).read_bytes() == (whole / name).read_bytes(), name


def test_resume_refuses_another_command_naming_what_differs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from qgym.training.run_spec import RunSpec
    from qgym.training.runs import write_yaml

    run = tmp_path / "run"
    run.mkdir()
    spec = RunSpec.resolve("dqn", "qgym/GridFarm-1x1-Det-v0", n_timesteps=1500)
    write_yaml(run / "config.yml", spec.config({"seeds": [0, 1]}, method="processes", eval_freq=75))
    assert main(["train", *DQN, "--seeds", "2", "-n", "1000", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert f"--resume {run}: that run has n_timesteps 1500, this command 1000" in err
    assert main(["train", *DQN, "--seeds", "3", "-n", "1500", "--resume", str(run)]) == 2
    assert "that run has seeds [0, 1], this command [0, 1, 2]" in capsys.readouterr().err
    table = ["train", "--algo", "qlearning", "--env", "CliffWalking-v1", "--seeds", "2"]
    assert main([*table, "--resume", str(run)]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert main(["train", *DQN, "--resume", str(run)]) == 2
    assert "--resume goes with --seeds N" in capsys.readouterr().err
    assert not (run / "seed_0").exists()


def test_a_second_driver_resuming_a_folder_in_training_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import filelock

    from qgym.training.run_spec import RunSpec
    from qgym.training.runs import write_yaml

    spec = RunSpec.resolve("dqn", "qgym/GridFarm-1x1-Det-v0", n_timesteps=1000)
    write_yaml(tmp_path / "config.yml", spec.config({"seeds": [0, 1]}, method="processes", eval_freq=50))
    with filelock.FileLock(str(tmp_path / ".training.lock")):  # the driver training into it
        code = main(["train", *DQN, "--seeds", "2", "-n", "1000", "--resume", str(tmp_path)])
    assert code == 2
    assert f"another qgym process is training into {tmp_path}" in capsys.readouterr().err
    assert not list(tmp_path.glob("seed_*"))


def test_a_seed_lands_whole_with_its_record_and_a_file_outside_its_folder_is_refused(tmp_path: Path) -> None:
    result = SeedResult(3, 1.5, 2.0, 50.0, 100.0)
    curve = [CurvePoint(3, 0, 0.0, 0.0, float("nan"), True), CurvePoint(3, 100, 2.0, 50.0, 1.5, True)]
    folder = store_seed(tmp_path, SeedOutcome(result, curve, {"model.zip": b"z", "sub/a.csv": b"a"}, "0"))
    assert folder == tmp_path / "seed_3"
    assert (folder / "sub" / "a.csv").read_bytes() == b"a"
    assert (folder / RECORD).is_file()
    from qgym.training.seed_store import finished_seeds

    [(read, points)] = finished_seeds(tmp_path, [3, 4]).values()
    assert read == result
    assert points[1] == curve[1]
    for name in ("../evil", "/etc/evil", "a/../../evil"):
        with pytest.raises(ValueError, match="outside its folder"):
            store_seed(tmp_path, SeedOutcome(SeedResult(5, 0.0), [], {name: b"x"}, "0"))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["seed_3"]


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("localhost", "--ray-address takes auto (the cluster this machine belongs to), ray://HOST:PORT"),
        ("http://head:6379", "got 'http://head:6379'"),
    ],
)
def test_a_ray_address_ray_cannot_read_is_refused_before_any_folder(
    address: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", *DQN, "--seeds", "2", "-n", "500", "--log-folder", str(tmp_path)]
    argv += ["--ray-address", address]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_without_ray_installed_the_message_names_the_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError, as when not installed
    argv = ["train", *DQN, "--seeds", "2", "-n", "500", "--log-folder", str(tmp_path)]
    argv += ["--ray-address", "auto"]
    assert main(argv) == 2
    assert "--ray-address needs Ray: pip install 'qgym[ray]'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_seeds_and_tuning_import_ray_only_when_asked_for() -> None:
    code = "import sys, qgym.cli, qgym.training.seeds, qgym.training.tuning; print('ray' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr
