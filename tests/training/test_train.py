"""qgym.training: presets read safely, runs written, evaluation exact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import yaml
from stable_baselines3.common.callbacks import BaseCallback

from qgym import planning, training
from qgym.envs import qgym_env_ids
from qgym.training.envs import make_env
from qgym.training.presets import PresetError, default_preset_path, load_preset, parse_literal, resolve_preset

FAST = {"n_timesteps": 3000, "policy": "TabularPolicy"}


def write_preset(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "preset.yml"
    path.write_text(text, encoding="utf-8")
    return path


# --- presets --------------------------------------------------------------------------------------


def test_rl_zoo_policy_kwargs_strings_are_read_without_eval() -> None:
    assert parse_literal("dict(net_arch=[64, 64])") == {"net_arch": [64, 64]}
    assert parse_literal("dict(net_arch=dict(pi=[32], vf=[32]), ortho=False, eps=-1e-5)") == {
        "net_arch": {"pi": [32], "vf": [32]},
        "ortho": False,
        "eps": -1e-5,
    }
    assert parse_literal("{'a': (1, 2.5), 'b': None}") == {"a": (1, 2.5), "b": None}


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('true')",
        "dict(net_arch=[64, 64], activation_fn=nn.ReLU)",
        "open('x')",
        "[1] * 3",
        "dict(**{'a': 1})",
        "lambda: 1",
    ],
)
def test_anything_but_literals_and_dict_calls_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="only numbers, strings"):
        parse_literal(text)


def test_a_preset_reads_numbers_pyyaml_leaves_as_strings_and_both_policy_kwargs_forms(tmp_path: Path) -> None:
    path = write_preset(
        tmp_path,
        "A-v0:\n  n_timesteps: 1e5\n  learning_rate: 1e-3\n  policy_kwargs: 'dict(net_arch=[8])'\n"
        "B-v0:\n  n_timesteps: !!float 2e4\n  policy_kwargs: {initial_q_value: 1}\n",
    )
    a = load_preset("dqn", "A-v0", path)
    assert a == {"n_timesteps": 100_000, "learning_rate": 1e-3, "policy_kwargs": {"net_arch": [8]}}
    assert isinstance(a["n_timesteps"], int)
    assert load_preset("qlearning", "B-v0", path) == {
        "n_timesteps": 20_000,
        "policy_kwargs": {"initial_q_value": 1},
    }


@pytest.mark.parametrize("algo", ["qlearning", "dqn"])
def test_rl_zoos_linear_learning_rate_falls_from_its_value_to_zero_and_survives_save(
    algo: str, tmp_path: Path
) -> None:
    path = write_preset(tmp_path, "FrozenLake-v1:\n  n_timesteps: 400\n  learning_rate: lin_2e-3\n")
    preset = load_preset(algo, "FrozenLake-v1", path)
    assert preset["learning_rate"] == "lin_2e-3"  # kept for config.yml, as RL Zoo reads it
    run = training.train(algo, "FrozenLake-v1", preset=preset, log_folder=tmp_path, eval_episodes=2)
    assert run.model.lr_schedule(1.0) == pytest.approx(2e-3)
    assert run.model.lr_schedule(0.25) == pytest.approx(5e-4)
    assert (
        yaml.safe_load((run.folder / "config.yml").read_text())["hyperparameters"]["learning_rate"]
        == "lin_2e-3"
    )
    reloaded = type(run.model).load(run.model_path)
    assert reloaded.lr_schedule(0.5) == pytest.approx(1e-3)


def test_a_missing_preset_names_the_file_and_the_key(tmp_path: Path) -> None:
    path = write_preset(tmp_path, "qgym/GridFarm-1x1-v0:\n  n_timesteps: 10\n")
    with pytest.raises(PresetError, match=r"preset\.yml has no key 'qgym/GridFarm-1x2-v0'.*GridFarm-1x1-v0"):
        load_preset("qlearning", "qgym/GridFarm-1x2-v0", path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [1,\n", "not valid YAML"),
        ("- just a list\n", "must map env IDs"),
        ("E-v0: 3\n", "must be a mapping"),
        ("E-v0:\n  n_timesteps: 1.5\n", "n_timesteps must be a whole number"),
        ("E-v0:\n  policy_kwargs: 'os.system(1)'\n", "only numbers"),
        (
            "E-v0:\n  learning_rate: cos_0.1\n",
            "learning_rate must be a positive number or RL Zoo's 'lin_<rate>'",
        ),
        ("E-v0:\n  learning_rate: lin_-1\n", "got 'lin_-1'"),
        ("E-v0:\n  learning_rate: lin_fast\n", "got 'lin_fast'"),
    ],
)
def test_malformed_presets_are_refused_with_a_sentence(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(PresetError, match=message):
        load_preset("qlearning", "E-v0", write_preset(tmp_path, text))


def test_an_unknown_algorithm_suggests_the_nearest() -> None:
    with pytest.raises(ValueError, match="did you mean 'expected_sarsa'"):
        load_preset("expected-sarsa", "FrozenLake-v1")


def test_every_registered_id_and_the_toy_text_envs_have_a_shipped_dqn_preset() -> None:
    document = yaml.safe_load(default_preset_path("dqn").read_text(encoding="utf-8"))
    for env_id in [*qgym_env_ids(), *training.TOY_TEXT_IDS]:
        assert env_id in document, f"{default_preset_path('dqn')} has no preset for {env_id}"
        assert load_preset("dqn", env_id)["n_timesteps"] >= 1


def test_tables_are_shipped_for_every_rung_a_table_learns_and_only_there() -> None:
    document = yaml.safe_load(default_preset_path("qlearning").read_text(encoding="utf-8"))
    small_farms = {"qgym/GridFarm-1x1-Det-v0", "qgym/GridFarm-1x1-v0", "qgym/GridFarm-1x2-v0"}
    chains = {"qgym/Trading-Chain-v0", "qgym/Trading-ChainRegime-v0", "qgym/Trading-ChainCostly-v0"}
    assert small_farms | chains | set(training.TOY_TEXT_IDS) <= set(document)
    assert not {"qgym/GridFarm-2x2-v0", "qgym/GridFarm-3x3-v0", "qgym/Trading-Market-v0"} & set(document)


@pytest.mark.parametrize("algo", ["qlearning", "double_qlearning"])
def test_a_rung_without_a_tabular_preset_trains_with_the_defaults_and_points_to_dqn(
    algo: str, tmp_path: Path
) -> None:
    run = training.train(
        algo, "qgym/GridFarm-2x2-v0", n_timesteps=2_000, log_folder=tmp_path, eval_episodes=2
    )
    assert "no preset for qgym/GridFarm-2x2-v0 in qlearning.yml" in run.preset_source
    assert "try --algo dqn" in run.preset_source
    assert "the defaults, n_timesteps 100000, learning_rate 0.1, gamma 0.99" in run.preset_source
    assert run.model.num_timesteps == 2_000
    assert run.config["hyperparameters"] == {"n_timesteps": 2_000}


def test_the_other_tabular_algorithms_fall_back_to_the_qlearning_presets() -> None:
    assert default_preset_path("sarsa") == default_preset_path("qlearning")


# --- training and evaluation ----------------------------------------------------------------------


def test_train_writes_a_run_folder_with_model_config_progress_and_evaluations(tmp_path: Path) -> None:
    run = training.train(
        "qlearning", "qgym/GridFarm-1x1-Det-v0", preset=FAST, seed=3, log_folder=tmp_path, eval_freq=1000
    )
    assert run.folder == tmp_path / "qlearning" / "GridFarm-1x1-Det-v0_1"
    names = {path.name for path in run.folder.iterdir()}
    assert {"model.zip", "config.yml", "progress.csv", "evaluations.npz", "evaluation.yml"} <= names
    config = yaml.safe_load((run.folder / "config.yml").read_text())
    assert config["hyperparameters"] == FAST
    assert config["seed"] == 3
    assert len(np.load(run.folder / "evaluations.npz")["timesteps"]) == 3
    assert "time/total_timesteps" in (run.folder / "progress.csv").read_text().splitlines()[0]
    again = training.train("qlearning", "qgym/GridFarm-1x1-Det-v0", preset=FAST, log_folder=tmp_path)
    assert again.folder.name == "GridFarm-1x1-Det-v0_2"


def test_the_exact_evaluation_is_the_planning_value_of_the_greedy_policy(tmp_path: Path) -> None:
    run = training.train("qlearning", "qgym/Trading-Chain-v0", preset=FAST, log_folder=tmp_path)
    model = planning.model_of(gym.make("qgym/Trading-Chain-v0"))
    values = planning.evaluate_policy(model, planning.greedy_policy(run.model.q_table), horizon=100)
    assert run.evaluation.exact_return == pytest.approx(planning.expected_return(model, values))
    best = planning.expected_return(model, planning.backward_induction(model, 100).values)
    assert run.evaluation.optimum == pytest.approx(best, abs=5e-5)  # the registry keeps 4 decimals
    assert f"of the exact optimum {best:.2f}" in run.evaluation.summary()


def test_the_optimum_of_toy_text_envs_comes_from_planning_over_the_registered_horizon() -> None:
    assert training.exact_optimum("FrozenLake-v1") == pytest.approx(0.7442, abs=1e-4)
    assert training.exact_optimum("CliffWalking-v1") == pytest.approx(-13.0)
    assert training.exact_optimum("qgym/GridFarm-3x3-v0") is None


def test_qrdqn_trains_from_a_preset_with_its_quantiles_and_is_evaluated_exactly(tmp_path: Path) -> None:
    kwargs = "dict(net_arch=[16], n_quantiles=7)"
    preset = {"n_timesteps": 300, "learning_starts": 100, "policy_kwargs": kwargs}
    run = training.train("qrdqn", "qgym/GridFarm-1x1-v0", preset=preset, log_folder=tmp_path, eval_episodes=3)
    assert type(run.model).__name__ == "QRDQN"
    assert run.model.policy.n_quantiles == 7
    assert run.evaluation.exact_return is not None
    assert (tmp_path / "qrdqn" / "GridFarm-1x1-v0_1" / "model.zip").is_file()


def test_a_rung_without_a_qrdqn_preset_trains_with_the_named_defaults_and_points_to_dqn() -> None:
    preset, source = resolve_preset("qrdqn", "FrozenLake-v1")
    assert preset.block == {"n_timesteps": 100_000}
    assert source.startswith("no preset for FrozenLake-v1 in qrdqn.yml (QR-DQN is shipped only where")
    assert "try --algo dqn" in source
    assert "n_timesteps 100000, learning_rate" in source  # the defaults it uses are named


def test_every_shipped_qrdqn_preset_is_a_registered_id_and_loads() -> None:
    document = yaml.safe_load(default_preset_path("qrdqn").read_text(encoding="utf-8"))
    assert document, "qrdqn.yml ships no preset"
    for env_id in document:
        assert env_id in qgym_env_ids(), f"qrdqn.yml has a preset for the unknown ID {env_id}"
        assert load_preset("qrdqn", env_id)["policy_kwargs"]["n_quantiles"] >= 1


def test_dqn_is_evaluated_exactly_on_a_discrete_rung(tmp_path: Path) -> None:
    preset = {"n_timesteps": 300, "learning_starts": 100, "policy_kwargs": "dict(net_arch=[16])"}
    run = training.train("dqn", "qgym/GridFarm-1x1-v0", preset=preset, log_folder=tmp_path, eval_episodes=3)
    assert run.evaluation.exact_return is not None
    assert run.model.policy.q_net.q_net[0].out_features == 16


def test_ctrl_c_stops_training_and_keeps_what_was_learned(tmp_path: Path) -> None:
    class Interrupt(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps >= 500:
                raise KeyboardInterrupt
            return True

    preset = {"n_timesteps": 100_000}
    run = training.train(
        "qlearning",
        "FrozenLake-v1",
        preset=preset,
        log_folder=tmp_path,
        callback=Interrupt(),
        eval_episodes=5,
    )
    assert run.interrupted
    assert 500 <= run.model.num_timesteps < 100_000
    assert run.model_path.is_file()
    assert yaml.safe_load((run.folder / "evaluation.yml").read_text())["interrupted"] is True


def test_a_box_env_trains_a_table_through_the_presets_env_wrapper(tmp_path: Path) -> None:
    preset: dict[str, Any] = {
        "n_timesteps": 500,
        "env_wrapper": [{"qgym.wrappers.DiscretizeObservation": {"bins": 2}}],
    }
    run = training.train(
        "qlearning", "qgym/Trading-Market-v0", preset=preset, log_folder=tmp_path, eval_episodes=2
    )
    assert run.evaluation.exact_return is None
    assert run.evaluation.optimum is None


def test_scale_reward_scales_rewards_only_and_refuses_a_bad_scale() -> None:
    from qgym.wrappers import ScaleReward

    plain, scaled = gym.make("qgym/GridFarm-1x1-v0"), ScaleReward(gym.make("qgym/GridFarm-1x1-v0"), 0.1)
    assert plain.reset(seed=5)[0] == scaled.reset(seed=5)[0]
    rewards = []
    for action in [4, 5, 7, 7, 5, 7, 6, 4] * 10:
        obs, reward, *_ = plain.step(action)
        scaled_obs, scaled_reward, *_ = scaled.step(action)
        assert obs == scaled_obs
        assert scaled_reward == pytest.approx(0.1 * float(reward))
        rewards.append(reward)
    assert min(rewards) < 0 < max(rewards)
    for bad in (0, -1.0, float("inf"), float("nan"), True, "0.1"):
        with pytest.raises(ValueError, match="scale must be a finite number > 0"):
            ScaleReward(gym.make("qgym/GridFarm-1x1-v0"), bad)  # type: ignore[arg-type]


def test_a_reward_only_wrapper_is_left_out_of_evaluation_so_returns_are_the_envs_own(tmp_path: Path) -> None:
    preset = load_preset("qlearning", "qgym/GridFarm-1x1-Det-v0")
    preset["env_wrapper"] = [{"qgym.wrappers.ScaleReward": {"scale": 0.05}}]
    run = training.train(
        "qlearning", "qgym/GridFarm-1x1-Det-v0", preset=preset, log_folder=tmp_path, eval_freq=10_000
    )
    plain = training.evaluate(run.model, "qgym/GridFarm-1x1-Det-v0", 100, seed=20_000)
    assert run.evaluation.mean_return == pytest.approx(plain.mean_return)
    assert run.evaluation.exact_return == pytest.approx(plain.exact_return)
    assert run.evaluation.mean_return > 90  # the scaled env pays at most 0.05 x 96
    assert np.load(run.folder / "evaluations.npz")["results"].max() > 90


def test_unravel_observation_splits_a_state_index_and_refuses_bad_dims() -> None:
    from qgym.wrappers import UnravelObservation

    env = UnravelObservation(gym.make("qgym/GridFarm-2x2-v0"), dims=[7, 7, 7, 7, 4])
    obs, _ = env.reset(seed=1)
    assert env.observation_space == gym.spaces.MultiDiscrete([7, 7, 7, 7, 4])
    for action in [4, 3, 4, 1, 4, 5, 2, 4, 5]:
        obs, *_ = env.step(action)
        farm = env.unwrapped
        assert obs.tolist() == [*farm.crops.tolist(), farm.state_index % 4]  # type: ignore[attr-defined]
        assert obs in env.observation_space
    for dims, message in [
        ([7, 7, 7, 7], "must multiply to the 9604 states"),
        ([7, 7, 7, 7, 4.0], "list of positive integers"),
        ("77774", "list of positive integers"),
    ]:
        with pytest.raises(ValueError, match=message):
            UnravelObservation(gym.make("qgym/GridFarm-2x2-v0"), dims=dims)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs a Discrete observation space"):
        UnravelObservation(gym.make("CartPole-v1"), dims=[2])  # type: ignore[arg-type]


@pytest.mark.parametrize("algo", ["qlearning", "dqn"])
def test_a_policy_behind_an_observation_wrapper_is_still_valued_exactly(algo: str, tmp_path: Path) -> None:
    wrappers = [{"qgym.wrappers.UnravelObservation": {"dims": [4, 4]}}]
    preset = {"n_timesteps": 2000, "env_wrapper": wrappers, "learning_starts": 100}
    if algo == "qlearning":
        del preset["learning_starts"]
    run = training.train(algo, "FrozenLake-v1", preset=preset, log_folder=tmp_path, eval_episodes=5)
    model = planning.model_of(gym.make("FrozenLake-v1"))
    cells = np.stack(np.unravel_index(np.arange(16), (4, 4)), axis=1)
    policy = run.model.predict(cells, deterministic=True)[0]
    expected = planning.policy_return(model, policy, horizon=100)
    assert run.evaluation.exact_return == pytest.approx(expected)
    assert run.evaluation.optimum == pytest.approx(training.exact_optimum("FrozenLake-v1"))


def test_a_policy_behind_a_clock_is_measured_by_its_sampled_mean_against_the_envs_optimum(
    tmp_path: Path,
) -> None:
    # TimeAwareObservation adds the step count, which no state of FrozenLake's model carries.
    preset = {
        "n_timesteps": 300,
        "learning_starts": 100,
        "env_wrapper": ["gymnasium.wrappers.TimeAwareObservation"],
    }
    run = training.train("dqn", "FrozenLake-v1", preset=preset, log_folder=tmp_path, eval_episodes=3)
    evaluation = run.evaluation
    assert evaluation.exact_return is None
    assert evaluation.optimum == pytest.approx(training.exact_optimum("FrozenLake-v1"))
    assert evaluation.percent_of_optimum == pytest.approx(100 * evaluation.mean_return / evaluation.optimum)
    assert (
        "sampled mean (not valued exactly: the env_wrapper changes what a state is): " in evaluation.summary()
    )
    assert evaluation.heuristic_return is None


@pytest.mark.slow
def test_dqn_learns_the_stochastic_farm_only_with_its_rewards_scaled_below_the_huber_knee(
    tmp_path: Path,
) -> None:
    # SB3's Huber loss pulls Q towards the median of its targets when TD errors exceed 1: with the
    # farm's harvest of 10 DQN never learns that watering pays (71.3% of optimal); scaled by 0.1 it does.
    preset = load_preset("dqn", "qgym/GridFarm-1x1-v0")
    assert preset["env_wrapper"] == [{"qgym.wrappers.ScaleReward": {"scale": 0.1}}]
    scaled = training.train(
        "dqn", "qgym/GridFarm-1x1-v0", preset=preset, log_folder=tmp_path, eval_episodes=5
    )
    unscaled = training.train(
        "dqn",
        "qgym/GridFarm-1x1-v0",
        preset={key: value for key, value in preset.items() if key != "env_wrapper"},
        log_folder=tmp_path,
        eval_episodes=5,
    )
    assert scaled.evaluation.percent_of_optimum is not None
    assert unscaled.evaluation.percent_of_optimum is not None
    assert scaled.evaluation.percent_of_optimum >= 90.0
    assert unscaled.evaluation.percent_of_optimum < 80.0


def test_a_wrapper_outside_qgym_and_gymnasium_is_refused() -> None:
    with pytest.raises(ValueError, match="is not one of the allowed wrappers"):
        make_env("FrozenLake-v1", 1, "os.system")


def test_an_unknown_env_id_suggests_the_nearest() -> None:
    with pytest.raises(ValueError, match="did you mean 'qgym/Trading-Chain-v0'"):
        training.check_env_id("qgym/Trading-Chian-v0")


# --- heuristic baselines ----------------------------------------------------------------------------


def _mean_return(env_id: str, policy: Any = None, n_episodes: int = 50, seed: int = 0) -> float:
    """Mean return of ``policy`` (default: the env family's heuristic) over seeded episodes."""
    env = gym.make(env_id)
    policy = training.heuristic_for(env) if policy is None else policy
    return float(training.episode_returns(env, policy, n_episodes, seed).mean())


def test_the_farm_heuristic_works_the_plot_underfoot_and_earns_a_profit() -> None:
    env = gym.make("qgym/GridFarm-3x3-v0")
    heuristic = training.heuristic_for(env)
    observation, _ = env.reset(seed=0)
    assert heuristic(observation, 0) == 4  # an empty field: plant where it stands
    assert _mean_return("qgym/GridFarm-3x3-v0", n_episodes=3) > 50


def test_the_trading_heuristic_beats_holding_cash_on_the_market_rung() -> None:
    assert _mean_return("qgym/Trading-Market-v0", n_episodes=10) > 0
    assert _mean_return("qgym/Trading-Market-v0", lambda *_: 0, n_episodes=2) == 0


def test_a_heuristic_is_refused_for_an_env_without_one() -> None:
    with pytest.raises(ValueError, match="no heuristic for FrozenLakeEnv"):
        training.heuristic_for(gym.make("FrozenLake-v1"))


class _HeuristicAsModel:
    """A stand-in model whose greedy action is the heuristic's: the SB3 ``predict`` signature only."""

    def __init__(self, env_id: str) -> None:
        self.policy = training.heuristic_for(gym.make(env_id))

    def predict(self, observation: Any, deterministic: bool = True) -> tuple[np.ndarray, None]:
        return np.asarray(self.policy(observation, 0)), None


@pytest.mark.parametrize("env_id", ["qgym/Trading-MarketHidden-v0", "qgym/GridFarm-3x3-v0"])
def test_on_a_large_rung_the_heuristic_plays_the_very_episodes_the_agent_played(env_id: str) -> None:
    evaluation = training.evaluate(_HeuristicAsModel(env_id), env_id, 6, seed=123)
    assert evaluation.optimum is None
    assert evaluation.heuristic_return is not None
    assert evaluation.mean_return == evaluation.heuristic_return  # same seeds, same policy: same returns
    assert evaluation.difference_stderr == 0.0
    assert evaluation.std_return > 0  # the episodes themselves differ
    other_seed = training.evaluate(_HeuristicAsModel(env_id), env_id, 6, seed=124)
    assert other_seed.mean_return != evaluation.mean_return
    assert "agent minus heuristic: +0.00 (standard error 0.00)" in evaluation.summary()


def test_a_worse_policy_shows_a_negative_paired_difference_against_the_heuristic() -> None:
    class Idle:
        def predict(self, observation: Any, deterministic: bool = True) -> tuple[np.ndarray, None]:
            return np.asarray(7), None  # wait, always

    evaluation = training.evaluate(Idle(), "qgym/GridFarm-3x3-v0", 4, seed=5)
    assert evaluation.mean_return == 0.0
    assert evaluation.heuristic_return == _mean_return("qgym/GridFarm-3x3-v0", n_episodes=4, seed=5)
    assert evaluation.heuristic_return > 50
    assert evaluation.as_dict()["heuristic_return"] == evaluation.heuristic_return
    one = training.evaluate(Idle(), "qgym/GridFarm-3x3-v0", 1, seed=5)
    assert one.difference_stderr is None  # one episode has no spread to report
    assert one.summary(field_metrics=False).endswith(f"agent minus heuristic: {-one.heuristic_return:+.2f}")


def test_an_exactly_solved_rung_is_measured_against_its_optimum_not_the_heuristic(tmp_path: Path) -> None:
    run = training.train("qlearning", "qgym/GridFarm-1x1-Det-v0", n_timesteps=2_000, log_folder=tmp_path)
    assert run.evaluation.optimum is not None
    assert run.evaluation.heuristic_return is None
    assert "heuristic" not in run.evaluation.summary()


def test_episode_returns_refuses_a_non_positive_episode_count() -> None:
    with pytest.raises(ValueError, match="n_episodes must be a positive number, got 0"):
        training.episode_returns(gym.make("qgym/Trading-Market-v0"), lambda *_: 0, 0)
