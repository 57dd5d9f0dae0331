"""Pictures: the learning curve's optimum line is the exact optimum; Q-table and policy pictures."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from qgym import planning
from qgym.cli import main
from qgym.envs import known_optimum
from qgym.training.evaluation import exact_optimum
from qgym.viewing.curves import OPTIMUM_GID, plot_learning_curve, read_run
from qgym.viewing.plots import grid_values, plot_grid_policy, plot_q_table

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tabular_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Q-learning agent trained briefly on the 1x2 farm, saved to a file."""
    from qgym.agents import QLearning

    path = tmp_path_factory.mktemp("models") / "farm-1x2.zip"
    QLearning("TabularPolicy", "qgym/GridFarm-1x2-v0", seed=0).learn(5_000).save(path)
    return path


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    """A run folder as SB3 writes it: progress.csv (with blank cells) and evaluations.npz."""
    run = tmp_path / "run"
    (run / "eval").mkdir(parents=True)
    rows = ["time/total_timesteps,rollout/ep_rew_mean,train/n_updates"]
    rows += [f"{1000 * i},{10.0 * i},{i}" for i in range(1, 6)] + ["6000,,6"]
    (run / "progress.csv").write_text("\n".join(rows) + "\n")
    results = np.array([[10.0, 20.0], [40.0, 60.0], [70.0, 74.0]])
    np.savez(run / "eval" / "evaluations.npz", timesteps=np.array([2000, 4000, 6000]), results=results)
    return run


def _is_png(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_MAGIC


def test_a_run_folder_yields_the_training_and_evaluation_curves(run_folder: Path) -> None:
    training, evaluation = read_run(run_folder)
    np.testing.assert_array_equal(training.steps, [1000, 2000, 3000, 4000, 5000])
    np.testing.assert_array_equal(training.values, [10, 20, 30, 40, 50])
    np.testing.assert_array_equal(evaluation.values, [15, 50, 72])
    assert evaluation.spread is not None
    np.testing.assert_array_equal(evaluation.spread, [5, 10, 2])


def test_the_plotted_optimum_line_is_the_exact_optimum(run_folder: Path, tmp_path: Path) -> None:
    optimum = known_optimum("qgym/GridFarm-1x2-v0")
    assert optimum is not None
    out = tmp_path / "curve.png"
    figure = plot_learning_curve(read_run(run_folder), optimum, out=out)
    (line,) = [line for line in figure.axes[0].get_lines() if line.get_gid() == OPTIMUM_GID]
    assert list(line.get_ydata()) == [optimum, optimum]
    assert _is_png(out)


def test_the_toy_text_optimum_is_computed_exactly() -> None:
    env = gym.make("FrozenLake-v1")
    model = planning.model_of(env)
    expected = planning.expected_return(model, planning.backward_induction(model, 100).values)
    assert exact_optimum("FrozenLake-v1") == pytest.approx(expected, abs=1e-12)
    # No registered horizon: judged over training's default horizon, where the shortest path's -13 is best.
    assert exact_optimum("CliffWalking-v1") == pytest.approx(-13.0)


def test_the_q_table_heat_map_shows_the_table(tmp_path: Path) -> None:
    q = np.arange(12, dtype=np.float64).reshape(4, 3)
    figure = plot_q_table(q, ["hold", "buy", "sell"], states=[1, 3], out=tmp_path / "q.png")
    np.testing.assert_array_equal(figure.axes[0].images[0].get_array(), q[[1, 3]])
    assert _is_png(tmp_path / "q.png")


def test_the_grid_policy_on_frozen_lake_is_the_greedy_policy_of_its_q() -> None:
    env = gym.make("FrozenLake-v1")
    solution = planning.value_iteration(planning.model_of(env), gamma=0.95)
    values, policy, names = grid_values(env, lambda s: solution.q[int(s)])
    np.testing.assert_allclose(values.reshape(-1), solution.values)
    np.testing.assert_array_equal(policy.reshape(-1), solution.policy)
    assert names == ["left", "down", "right", "up"]  # Gymnasium's names of FrozenLake's actions
    figure = plot_grid_policy(values, policy, names)
    assert figure.axes[0].images[0].get_array().shape == (4, 4)


def test_the_farm_policy_is_drawn_for_the_chosen_crops() -> None:
    env = gym.make("qgym/GridFarm-1x2-v0")
    model = planning.model_of(env)
    q = planning.value_iteration(model, gamma=0.95).q
    values, policy, _ = grid_values(env, lambda s: q[int(s)], crops=[5, 0])
    ripe_here = int(np.ravel_multi_index((5, 0, 0), (7, 7, 2)))
    assert policy[0, 0] == int(np.argmax(q[ripe_here])) == 6, "harvest the ripe plot"
    assert values[0, 0] == pytest.approx(q[ripe_here].max())
    with pytest.raises(ValueError, match="crops must be 2 stages"):
        grid_values(env, lambda s: q[int(s)], crops=[5])


def test_plot_command_writes_every_picture(
    run_folder: Path, tabular_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plots"
    argv = ["plot", "--run", str(run_folder), "--model", str(tabular_model), "--env", "qgym/GridFarm-1x2-v0"]
    assert main([*argv, "--out", str(out), "--crops", "50"]) == 0
    for name in ("learning_curve.png", "q_table.png", "policy.png"):
        assert _is_png(out / name), name
    assert capsys.readouterr().out.count("wrote") == 3


def test_plot_command_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", "--run", str(tmp_path / "nowhere")]) == 2
    assert "no run folder" in capsys.readouterr().err
    assert main(["plot", "--run", str(tmp_path)]) == 2
    assert "holds no learning curve" in capsys.readouterr().err
    assert main(["plot"]) == 2
    assert "give a run folder" in capsys.readouterr().err
