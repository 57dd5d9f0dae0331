"""``--ray-address``: seeds and tuning trials as Ray tasks on a real two-node cluster on this machine.

A worker killed mid-seed is retried by Ray, a driver killed mid-run resumes with ``--resume``, and in
both cases the run folder holds every seed with figures identical, bit for bit, to a local run of the
same seeds (DQN on the CPU with one torch thread gives the same bits for a seed). The nodes share the
machine's disk, but nothing reaches the run folder except through the driver: each seed comes back as
bytes. Tuning trials report their curves to the driver, which keeps the study in a file the tasks never
open and prunes from there. Slow (a cluster and three DQN runs): ``.ci/run`` runs them with the ``ray``
extra installed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ray_nodes import DRIVER_ENV, LocalCluster, start_cluster

pytest.importorskip("ray", reason="the ray extra: pip install -e '.[ray]' (.ci/run installs it)")

pytestmark = pytest.mark.slow

RUN = ["--algo", "dqn", "--env", "qgym/GridFarm-1x1-Det-v0", "--seeds", "4", "-n", "4000", "--no-progress"]
FILES = ("seeds.csv", "curves.csv", "summary.yml")


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    started = start_cluster(cpus_per_node=1)
    try:
        yield started
    finally:
        started.stop()
        left = started.processes()
        shutil.rmtree(started.temp_dir, ignore_errors=True)
        assert not left, f"processes of the test cluster outlived it: {left}"


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same 4 seeds trained by local worker processes: the figures every Ray run must equal."""
    logs = tmp_path_factory.mktemp("local")
    done = subprocess.run(
        _command(logs, "--jobs", "2"), capture_output=True, text=True, timeout=900, env=_env(logs)
    )
    assert done.returncode == 0, done.stderr
    return logs / "logs" / "dqn" / "GridFarm-1x1-Det-v0_1"


def _command(tmp: Path, *extra: str) -> list[str]:
    return [shutil.which("qgym") or "qgym", "train", *RUN, "--log-folder", str(tmp / "logs"), *extra]


def _env(tmp: Path) -> dict[str, str]:
    scratch = tmp / "scratch"
    scratch.mkdir(exist_ok=True)
    return {**os.environ, **DRIVER_ENV, "TMPDIR": str(scratch)}


def _wait_for(
    condition: Callable[[], object], what: str, process: subprocess.Popen[str] | None, seconds: float = 600
) -> object:
    """``condition()`` once it is true; an AssertionError if ``process`` ends or time runs out first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if process is not None and process.poll() is not None:
            raise AssertionError(f"qgym ended before {what}: {process.communicate()}")
        time.sleep(0.1)
    raise AssertionError(f"no {what} within {seconds:.0f} s")


def _same_figures(run: Path, local: Path) -> None:
    for name in FILES:
        assert (run / name).read_bytes() == (local / name).read_bytes(), f"{name} differs from the local run"
    for seed in range(4):
        assert sorted(p.name for p in (run / f"seed_{seed}").iterdir()) == sorted(
            p.name for p in (local / f"seed_{seed}").iterdir()
        )


def test_a_worker_killed_mid_seed_is_retried_and_every_seed_matches_a_local_run(
    cluster: LocalCluster, local_run: Path, tmp_path: Path
) -> None:
    process = subprocess.Popen(
        _command(tmp_path, "--ray-address", cluster.address),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
    )
    try:
        busy = _wait_for(lambda: cluster.workers_running("ray::qgym seed"), "busy Ray worker", process)
        assert isinstance(busy, dict)
        victim, title = next(iter(busy.items()))
        time.sleep(1.0)  # well into its seed
        os.kill(victim, signal.SIGKILL)
        out, err = process.communicate(timeout=900)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "as Ray tasks on the cluster at" in out
    assert "(2 machines, 2 CPUs), each seed asking for 1 CPU and no GPU" in out
    assert f"{title.removeprefix('ray::qgym ')}:" in out  # the killed seed came back, retried
    run = tmp_path / "logs" / "dqn" / "GridFarm-1x1-Det-v0_1"
    _same_figures(run, local_run)
    assert list((tmp_path / "scratch").glob("qgym-seed-*")) == []  # no seed trained in the driver


def test_a_killed_driver_resumes_with_the_seeds_it_finished_and_trains_none_twice(
    cluster: LocalCluster, local_run: Path, tmp_path: Path
) -> None:
    run = tmp_path / "logs" / "dqn" / "GridFarm-1x1-Det-v0_1"
    process = subprocess.Popen(
        _command(tmp_path, "--ray-address", cluster.address),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
    )
    try:
        _wait_for(lambda: list(run.glob("seed_*/seed.yml")), "finished seed", process)
        process.kill()  # SIGKILL: the driver ends with no word to Ray
        process.communicate()
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    finished = {path.parent.name: path.stat().st_mtime_ns for path in run.glob("seed_*/seed.yml")}
    assert 1 <= len(finished) < 4
    assert not (run / "seeds.csv").exists()
    # Ray ends the tasks of a driver that died: nothing goes on training for it.
    idle = lambda: not cluster.workers_running("ray::qgym seed")  # noqa: E731
    _wait_for(idle, "end of the dead driver's tasks", None, 60)
    resumed = subprocess.run(
        _command(tmp_path, "--ray-address", cluster.address, "--resume", str(run)),
        capture_output=True,
        text=True,
        timeout=900,
        env=_env(tmp_path),
    )
    assert resumed.returncode == 0, resumed.stderr
    done = sorted(int(name.removeprefix("seed_")) for name in finished)
    words = f"{'seed' if len(done) == 1 else 'seeds'} {', '.join(map(str, done))}"
    assert f"resuming: {words} already trained" in resumed.stdout
    again = tuple(f"seed {seed}:" for seed in done)
    assert [line for line in resumed.stdout.splitlines() if line.startswith(again)] == []
    for name, mtime in finished.items():
        assert (run / name / "seed.yml").stat().st_mtime_ns == mtime, f"{name} was written again"
    _same_figures(run, local_run)


def test_tune_trials_run_as_ray_tasks_report_their_curves_and_are_pruned_from_the_driver(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = str(tmp_path / "study.log")  # a file only the driver reaches: the tasks never open it
    study = optuna.create_study(
        storage=JournalStorage(JournalFileBackend(storage)), study_name="ray", direction="maximize"
    )
    good = {"learning_rate": 0.3, "gamma": 0.99, "exploration_fraction": 0.3, "exploration_final_eps": 0.05}
    for _ in range(6):
        study.enqueue_trial({**good, "visit_decay": None})
    study.enqueue_trial({**good, "learning_rate": 0.001, "gamma": 0.9, "visit_decay": None})
    command = [shutil.which("qgym") or "qgym", "tune", "--algo", "qlearning"]
    command += ["--env", "qgym/GridFarm-1x1-Det-v0"]
    command += ["--trials", "7", "-n", "3000", "--storage", storage, "--study-name", "ray"]
    command += ["--pruner", "median", "--out", str(tmp_path / "tuned.yml"), "--ray-address", "auto"]
    env = {**_env(tmp_path), "RAY_ADDRESS": cluster.address}  # auto: the cluster Ray's variable names
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stderr
    assert "trials run as Ray tasks on the cluster at auto, 2 at a time" in done.stdout
    trials = optuna.load_study(study_name="ray", storage=JournalStorage(JournalFileBackend(storage))).trials
    states = [trial.state.name for trial in trials]
    assert states == ["COMPLETE"] * 6 + ["PRUNED"], done.stdout
    assert "trial 6: pruned at step" in done.stdout
    for trial in trials[:6]:
        assert len(trial.intermediate_values) == 10
        assert trial.user_attrs["share_of_optimum_percent"] == trial.value
    assert "qgym/GridFarm-1x1-Det-v0" in (tmp_path / "tuned.yml").read_text()
