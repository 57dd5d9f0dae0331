"""Pictures: the learning curve's optimum line is the exact optimum; Q-table and policy pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import yaml
from matplotlib.text import Text

from qgym import planning
from qgym.cli import main
from qgym.envs import known_optimum
from qgym.training.evaluation import exact_optimum
from qgym.viewing.curves import EXACT_LABEL, OPTIMUM_GID, Curve, plot_learning_curve, read_run
from qgym.viewing.plots import grid_values, plot_grid_policy, plot_q_table
from qgym.viewing.state_policy import plot_state_policy, state_masks

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
    for name in ("learning_curve.png", "q_table.png", "policy.png", "policy_field.png"):
        assert _is_png(out / name), name
    assert capsys.readouterr().out.count("wrote") == 4


def test_plot_command_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", "--run", str(tmp_path / "nowhere")]) == 2
    assert "no run folder" in capsys.readouterr().err
    assert main(["plot", "--run", str(tmp_path)]) == 2
    assert "holds no learning curve" in capsys.readouterr().err
    assert main(["plot"]) == 2
    assert "give a run folder" in capsys.readouterr().err


def _texts(figure: Any) -> list[Any]:
    """Every visible text of a drawn figure outside its legends, with the legends."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure).draw()
    legends = list(figure.legends) + [axes.get_legend() for axes in figure.axes if axes.get_legend()]
    inside = {id(text) for legend in legends for text in [*legend.get_texts(), legend.get_title()]}
    texts = [t for t in figure.findobj(Text) if t.get_visible() and t.get_text() and id(t) not in inside]
    return [legends, texts]


def _overlaps(figure: Any) -> list[str]:
    """The texts (notes, captions, labels) that a legend covers."""
    legends, texts = _texts(figure)
    renderer = figure.canvas.get_renderer()
    covered = []
    for legend in legends:
        box = legend.get_window_extent(renderer)
        covered += [t.get_text() for t in texts if box.overlaps(t.get_window_extent(renderer))]
    return covered


def test_legends_and_notes_never_overlap(run_folder: Path, tmp_path: Path) -> None:
    curves = read_run(run_folder)
    exact = Curve(EXACT_LABEL, np.array([0.0, 3000.0, 6000.0]), np.array([0.0, 50.0, 70.0]))
    figures = [
        plot_learning_curve([*curves, exact], 80.0, "a run"),
        plot_state_policy(
            np.arange(63.0),
            np.arange(63) % 3,
            [f"lvl {s // 3} pos {s % 3 - 1:+d}" for s in range(63)],
            ["hold", "buy", "sell"],
            np.eye(3, dtype=bool)[np.arange(63) % 3],
            "cards",
            legend="lvl: the level",
        ),
    ]
    env = gym.make("FrozenLake-v1")
    q = np.random.default_rng(0).random((16, 4))
    values, policy, names = grid_values(env, lambda s: q[int(s)])
    figures.append(plot_grid_policy(values, policy, names, "lake"))
    for figure in figures:
        assert _texts(figure)[0], "a legend is drawn"
        assert _overlaps(figure) == []


def test_an_overlap_is_seen_by_the_check() -> None:
    """The check above can fail: a note in the lower right corner under the legend there."""
    figure = plot_learning_curve([Curve("a curve", np.array([0.0, 1.0]), np.array([0.0, 1.0]))], 1.0)
    axes = figure.axes[0]
    axes.legend(loc="lower right")
    axes.text(0.99, 0.02, "a note under the legend", transform=axes.transAxes, ha="right")
    assert "a note under the legend" in _overlaps(figure)


def test_a_single_run_curve_shows_the_greedy_policys_exact_value(tmp_path: Path) -> None:
    from qgym.cli import main as cli

    argv = ["train", "--algo", "qlearning", "--env", "FrozenLake-v1", "-n", "5000", "--eval-episodes", "2"]
    assert cli([*argv, "--log-folder", str(tmp_path)]) == 0
    run = tmp_path / "qlearning" / "FrozenLake-v1_1"
    rows = (run / "exact_returns.csv").read_text().splitlines()
    assert rows[0] == "step,greedy_exact_return"
    assert len(rows) - 1 >= 20  # before the first step, every 250 steps, at the end
    steps = [int(row.split(",")[0]) for row in rows[1:]]
    assert steps[0] == 0
    assert steps == sorted(steps)
    assert steps[-1] >= 5000
    curves = {curve.label: curve for curve in read_run(run)}
    exact = curves[EXACT_LABEL]
    assert exact.values[-1] == pytest.approx(float(rows[-1].split(",")[1]))
    evaluation = yaml.safe_load((run / "evaluation.yml").read_text())
    assert exact.values[-1] == pytest.approx(evaluation["exact_return"])  # what train printed
    figure = plot_learning_curve(list(curves.values()), exact_optimum("FrozenLake-v1"))
    assert EXACT_LABEL in [line.get_label() for line in figure.axes[0].get_lines()]


def test_every_state_of_a_small_env_gets_a_policy_card_and_its_masks(
    tabular_model: Path, tmp_path: Path
) -> None:
    from qgym.agents import QLearning

    model = tmp_path / "farm11.zip"
    QLearning("TabularPolicy", "qgym/GridFarm-1x1-v0", seed=0).learn(3_000).save(model)
    assert main(["plot", "--model", str(model), "--env", "qgym/GridFarm-1x1-v0", "--out", str(tmp_path)]) == 0
    assert _is_png(tmp_path / "policy.png")
    assert _is_png(tmp_path / "policy_field.png")
    env = gym.make("qgym/GridFarm-1x1-v0")
    masks = state_masks(env, range(7))
    assert masks is not None
    # On one plot the farmer cannot move: every move changes nothing; an empty plot can be planted.
    assert not masks[:, :4].any()
    assert masks[0].tolist() == [False] * 4 + [True, False, False, True]  # empty: plant or wait
    chain = gym.make("qgym/Trading-Chain-v0")
    long = [chain.unwrapped.encode_state(level, 1) for level in range(21)]
    chain_masks = state_masks(chain, long)
    assert chain_masks is not None
    assert chain_masks[:, 1].sum() == 0
    assert chain_masks[:, [0, 2]].all()
    assert state_masks(gym.make("FrozenLake-v1"), range(16)) is None  # no masks: nothing marked


def test_the_q_table_hatches_the_actions_that_change_nothing() -> None:
    q = np.arange(21.0).reshape(7, 3)
    idle = np.zeros((7, 3), dtype=bool)
    idle[[1, 4], [1, 2]] = True
    figure = plot_q_table(q, ["hold", "buy", "sell"], idle=idle)
    hatched = [patch for patch in figure.axes[0].patches if patch.get_hatch()]
    assert sorted((round(p.get_x() + 0.5), round(p.get_y() + 0.5)) for p in hatched) == [(1, 1), (2, 4)]
    assert "hatched: the action changes nothing" in figure._supxlabel.get_text()
