"""``qgym tune``: Optuna trials scored against the optimum, a preset block written, one shared study."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import optuna
import pytest
import yaml

from qgym.cli import main
from qgym.training.presets import load_preset


def test_tune_writes_the_best_trial_as_a_preset_block_qgym_can_train_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    out = tmp_path / "tuned.yml"
    argv = ["tune", "--algo", "qlearning", "--env", "qgym/GridFarm-1x1-Det-v0", "--trials", "2"]
    argv += ["--storage", storage, "-n", "1500", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "best score" in printed
    assert f"written to {out}" in printed
    block = load_preset("qlearning", "qgym/GridFarm-1x1-Det-v0", out)
    assert block["n_timesteps"] == 1500
    assert 1e-3 <= block["learning_rate"] <= 0.5
    study = optuna.load_study(study_name="qlearning-qgym-GridFarm-1x1-Det-v0", storage=storage)
    assert len(study.trials) == 2


def test_a_dqn_block_keeps_rl_zoos_policy_kwargs_string(tmp_path: Path) -> None:
    from qgym.training import tuning

    result = tuning.tune(
        "dqn", "FrozenLake-v1", 1, storage=f"sqlite:///{tmp_path / 's.db'}", n_timesteps=200, eval_episodes=2
    )
    assert result.best_block["policy_kwargs"].startswith("dict(net_arch=[")
    path = tmp_path / "dqn.yml"
    tuning.write_preset_block(path, "FrozenLake-v1", result.best_block)
    assert isinstance(load_preset("dqn", "FrozenLake-v1", path)["policy_kwargs"]["net_arch"], list)


def test_a_qrdqn_block_carries_its_quantiles_in_rl_zoos_policy_kwargs_string(tmp_path: Path) -> None:
    from qgym.training import tuning

    storage = f"sqlite:///{tmp_path / 's.db'}"
    result = tuning.tune("qrdqn", "FrozenLake-v1", 1, storage=storage, n_timesteps=200, eval_episodes=2)
    assert "n_quantiles=" in result.best_block["policy_kwargs"]
    path = tmp_path / "qrdqn.yml"
    tuning.write_preset_block(path, "FrozenLake-v1", result.best_block)
    kwargs = load_preset("qrdqn", "FrozenLake-v1", path)["policy_kwargs"]
    assert kwargs["n_quantiles"] in (25, 50, 100, 200)
    assert isinstance(kwargs["net_arch"], list)


def test_tune_refuses_an_unknown_env_with_the_nearest_id(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tune", "--algo", "qlearning", "--env", "Taxi-v3x", "--trials", "1"]) == 2
    assert "did you mean" in capsys.readouterr().err


POSTGRES_URL = os.environ.get("QGYM_TEST_POSTGRES_URL")


def test_two_tune_processes_on_one_sqlite_storage_finish_distinct_trials_of_one_study(tmp_path: Path) -> None:
    _two_workers_share_one_study(f"sqlite:///{tmp_path / 'shared.db'}", "shared", tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(
    POSTGRES_URL is None,
    reason="no PostgreSQL server: set QGYM_TEST_POSTGRES_URL (.ci/run starts one and sets it)",
)
def test_two_tune_processes_share_one_study_on_a_postgresql_server(tmp_path: Path) -> None:
    """What README promises for many machines: Optuna's RDB storage on a real server."""
    assert POSTGRES_URL is not None
    study = f"qgym-test-{uuid.uuid4().hex[:12]}"
    try:
        _two_workers_share_one_study(POSTGRES_URL, study, tmp_path)
    finally:
        storage = optuna.storages.RDBStorage(POSTGRES_URL)
        optuna.delete_study(study_name=study, storage=storage)
        storage.engine.dispose()


def _two_workers_share_one_study(storage: str, study_name: str, tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "qgym", "tune", "--algo", "qlearning", "--env", "qgym/GridFarm-1x1-Det-v0"]
    argv += ["--trials", "3", "--storage", storage, "--study-name", study_name, "-n", "1000"]
    env = {**os.environ, "SB3_LOGDIR": str(tmp_path / "sb3")}
    workers = [
        subprocess.Popen(
            [*argv, "--out", str(tmp_path / f"out{i}.yml"), "--seed", str(100 * i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(2)
    ]
    errors = []
    try:
        for worker in workers:
            _, err = worker.communicate(timeout=300)
            errors.append(err if worker.returncode else "")
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.communicate()
    assert errors == ["", ""], "\n".join(errors)
    rdb = optuna.storages.RDBStorage(storage)
    study = optuna.load_study(study_name=study_name, storage=rdb)
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    rdb.engine.dispose()  # the connection pool, or a server's connections outlive the test
    assert len(finished) == 6
    assert len({t.number for t in finished}) == 6
    assert len({t.params["learning_rate"] for t in finished}) == 6
    for i in range(2):
        assert "qgym/GridFarm-1x1-Det-v0" in yaml.safe_load((tmp_path / f"out{i}.yml").read_text())


def test_without_an_optimum_a_trial_scores_its_edge_over_the_heuristic_on_the_same_episodes(
    tmp_path: Path,
) -> None:
    from stable_baselines3.common.logger import Logger

    from qgym import training
    from qgym.training import tuning
    from qgym.training.presets import normalize_preset

    env_id = "qgym/Trading-Market-v0"
    result = tuning.tune(
        "dqn", env_id, 1, storage=f"sqlite:///{tmp_path / 's.db'}", n_timesteps=300, eval_episodes=3
    )
    block = normalize_preset(result.best_block)
    model = training.make_model("dqn", env_id, {k: v for k, v in block.items() if k != "n_timesteps"}, 0)
    model.set_logger(Logger(folder=None, output_formats=[]))
    model.learn(300)
    evaluation = training.evaluate(model, env_id, 3, seed=10_000)
    assert evaluation.heuristic_return is not None
    assert result.best_value == evaluation.mean_return - evaluation.heuristic_return
