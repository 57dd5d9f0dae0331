"""``qgym tune``: Optuna trials scored against the optimum, a preset block written, one shared study."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

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


def test_a_dqn_block_keeps_the_presets_network_in_rl_zoos_policy_kwargs_string(tmp_path: Path) -> None:
    from qgym.training import tuning

    result = tuning.tune(
        "dqn", "FrozenLake-v1", 1, storage=f"sqlite:///{tmp_path / 's.db'}", n_timesteps=200, eval_episodes=2
    )
    assert result.best_block["policy_kwargs"] == "dict(net_arch=[64, 64])"  # the preset's network
    path = tmp_path / "dqn.yml"
    tuning.write_preset_block(path, "FrozenLake-v1", result.best_block)
    assert load_preset("dqn", "FrozenLake-v1", path)["policy_kwargs"]["net_arch"] == [64, 64]


@pytest.mark.parametrize(
    ("algo", "policy"), [("qlearning", "TabularPolicy"), ("dqn", "MlpPolicy"), ("qrdqn", "MlpPolicy")]
)
def test_a_studys_best_params_are_the_algorithms_own_arguments(
    algo: str, policy: str, tmp_path: Path
) -> None:
    """Optuna's users build the best model straight from the study, as its docs show."""
    import gymnasium as gym

    from qgym.training import tuning
    from qgym.training.registry import algorithm_class

    storage = f"sqlite:///{tmp_path / 's.db'}"
    tuning.tune(algo, "FrozenLake-v1", 2, storage=storage, n_timesteps=150, eval_episodes=2)
    study = optuna.load_study(study_name=f"{algo}-FrozenLake-v1", storage=storage)
    for trial in study.trials:  # a table's visit decay off is None, which the constructor takes
        model = algorithm_class(algo)(policy, gym.make("FrozenLake-v1"), **trial.params)
        assert model.learning_rate == trial.params["learning_rate"]
        assert model.gamma == trial.params["gamma"]


def test_the_dashboard_shows_the_metric_the_study_and_each_trials_learning_curve(tmp_path: Path) -> None:
    from qgym.training import tuning
    from qgym.training.trials import REPORTS

    storage = f"sqlite:///{tmp_path / 's.db'}"
    tuning.tune("qlearning", "FrozenLake-v1", 2, storage=storage, n_timesteps=2000, eval_episodes=5)
    study = optuna.load_study(study_name="qlearning-FrozenLake-v1", storage=storage)
    assert study.metric_names == ["greedy policy, % of the exact optimum"]
    assert study.user_attrs["env_id"] == "FrozenLake-v1"
    assert study.user_attrs["algo"] == "qlearning"
    for trial in study.trials:
        assert trial.user_attrs["share_of_optimum_percent"] == trial.value
        assert trial.user_attrs["env_id"] == "FrozenLake-v1"
        assert sorted(trial.intermediate_values) == [200 * k for k in range(1, REPORTS + 1)]
        assert trial.intermediate_values[2000] == pytest.approx(trial.value)  # the same figure, exact


def _enqueue(storage: Any, study_name: str, bad: dict[str, Any]) -> None:
    study = optuna.create_study(storage=storage, study_name=study_name, direction="maximize")
    good = {"learning_rate": 0.3, "gamma": 0.99, "exploration_fraction": 0.3, "exploration_final_eps": 0.05}
    for _ in range(5):
        study.enqueue_trial({**good, "visit_decay": None})
    study.enqueue_trial(bad)


BAD = {"learning_rate": 0.001, "gamma": 0.9, "exploration_fraction": 0.8, "exploration_final_eps": 0.2}


@pytest.mark.parametrize("pruner", ["median", "none"])
def test_tune_pruner_median_stops_a_trial_that_learns_below_the_median(
    pruner: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = str(tmp_path / "study.log")  # a journal file, as RL Zoo 2.6 keeps its studies
    _enqueue(_journal(storage), "pruning", {**BAD, "visit_decay": None})
    argv = ["tune", "--algo", "qlearning", "--env", "qgym/GridFarm-1x1-Det-v0", "--trials", "6", "-n", "3000"]
    argv += [
        "--storage",
        storage,
        "--study-name",
        "pruning",
        "--out",
        str(tmp_path / "t.yml"),
        "--pruner",
        pruner,
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    trials = optuna.load_study(study_name="pruning", storage=_journal(storage)).trials
    assert [t.params["learning_rate"] for t in trials] == [0.3] * 5 + [0.001]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials[:5])
    if pruner == "median":
        assert trials[5].state == optuna.trial.TrialState.PRUNED
        assert "trial 5: pruned at step" in printed
        assert "5 trials run here, 1 more pruned" in printed
    else:
        assert trials[5].state == optuna.trial.TrialState.COMPLETE
        assert trials[5].value < min(t.value for t in trials[:5])  # it was worth pruning


def _journal(path: str) -> Any:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(path))


def test_tune_refuses_a_study_of_another_env_and_a_storage_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from qgym.training import tuning

    storage = str(tmp_path / "s.log")
    tuning.tune("qlearning", "FrozenLake-v1", 1, storage=storage, study_name="mine", n_timesteps=200)
    base = ["tune", "--algo", "qlearning", "--trials", "1", "-n", "200", "--out", str(tmp_path / "t.yml")]
    assert main([*base, "--env", "CliffWalking-v1", "--storage", storage, "--study-name", "mine"]) == 2
    assert "tunes qlearning on FrozenLake-v1, not qlearning on CliffWalking-v1" in capsys.readouterr().err
    assert main([*base, "--env", "FrozenLake-v1", "--storage", str(tmp_path / "study.txt")]) == 2
    assert "or a journal file ending in .log" in capsys.readouterr().err
    assert main([*base, "--env", "FrozenLake-v1", "--storage", str(tmp_path / "no" / "s.log")]) == 2
    assert "a journal file needs an existing folder" in capsys.readouterr().err


def test_tune_refuses_an_unknown_env_with_the_nearest_id(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tune", "--algo", "qlearning", "--env", "Taxi-v3x", "--trials", "1"]) == 2
    assert "did you mean" in capsys.readouterr().err


POSTGRES_URL = os.environ.get("QGYM_TEST_POSTGRES_URL")


@pytest.mark.slow  # 5 s; the journal-file twin runs in the quick suite
def test_two_tune_processes_on_one_sqlite_storage_finish_distinct_trials_of_one_study(tmp_path: Path) -> None:
    _two_workers_share_one_study(f"sqlite:///{tmp_path / 'shared.db'}", "shared", tmp_path)


def test_two_tune_processes_on_one_journal_file_finish_distinct_trials_of_one_study(tmp_path: Path) -> None:
    """Optuna's JournalStorage (RL Zoo 2.6's default): --storage PATH.log, appended to under a lock."""
    _two_workers_share_one_study(str(tmp_path / "shared.log"), "shared", tmp_path)


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
    journal = storage.endswith(".log")
    loaded = _journal(storage) if journal else optuna.storages.RDBStorage(storage)
    study = optuna.load_study(study_name=study_name, storage=loaded)
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not journal:
        loaded.engine.dispose()  # the connection pool, or a server's connections outlive the test
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
