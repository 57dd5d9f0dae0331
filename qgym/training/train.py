"""Train an agent from a preset and judge it: the plain API under ``qgym train``.

>>> from qgym import training  # doctest: +SKIP
>>> run = training.train("qlearning", "qgym/GridFarm-1x1-v0", seed=0)  # doctest: +SKIP
>>> print(run.evaluation.summary())  # doctest: +SKIP

Tabular agents, DQN and QR-DQN share one preset format (RL Zoo's YAML) and one evaluation.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym

from qgym.training.envs import keeps_states, make_env
from qgym.training.evaluation import Evaluation, evaluate, exact_optimum, exact_return
from qgym.training.field_metrics import EVALUATION_SEED_OFFSET
from qgym.training.network_files import check_network_arguments, save_network_model
from qgym.training.preset_bounds import check_preset
from qgym.training.presets import Preset
from qgym.training.registry import DEEP_ALGORITHMS, algorithm_class, check_env_kwargs
from qgym.training.run_spec import RunSpec
from qgym.training.runs import new_run_folder, write_yaml
from qgym.training.vocabulary import describe_learning
from qgym.validation import is_int

__all__ = ["Run", "make_model", "train"]


@dataclass
class Run:
    """What :func:`train` produced: the model, its folder and files, and its evaluation."""

    model: Any
    folder: Path
    model_path: Path
    evaluation: Evaluation
    interrupted: bool = False
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def preset_source(self) -> str:
        """Where the hyperparameters came from, in a line (a preset file, or the defaults)."""
        return str(self.config.get("preset_source", ""))


def make_model(
    algo: str,
    env_id: str,
    preset: Preset | dict[str, Any],
    seed: int | None = 0,
    env_kwargs: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Any:
    """A fresh model of ``algo`` on ``env_id`` (made with ``env_kwargs``) with the preset's
    hyperparameters (``kwargs`` override)."""
    if not isinstance(preset, Preset):
        preset = Preset.from_block(preset)
    check_preset(algo, preset.block)
    cls = algorithm_class(algo)
    hyperparameters = preset.constructor_kwargs() | kwargs
    deep = algo in DEEP_ALGORITHMS
    if deep:
        try:
            check_network_arguments(DEEP_ALGORITHMS[algo][1], hyperparameters)
        except ValueError as error:
            raise ValueError(f"the preset for {algo} on {env_id}: {error}") from None
    env = make_env(env_id, preset.n_envs, preset.env_wrapper, seed, env_kwargs=env_kwargs)
    if deep:
        import torch

        torch.set_num_threads(1)
        hyperparameters.setdefault("device", "cpu")
    else:
        _check_table_fits(algo, env_id, env)
    policy = preset.policy or ("MlpPolicy" if deep else "TabularPolicy")
    try:
        return cls(policy, env, seed=seed, **hyperparameters)
    except TypeError as error:
        if "unexpected keyword" not in str(error):
            raise
        raise ValueError(
            f"the preset for {algo} on {env_id} has a key {cls.__name__} does not take: {error}"
        ) from error


def train(
    algo: str,
    env_id: str,
    *,
    preset: dict[str, Any] | None = None,
    preset_path: str | Path | None = None,
    hyperparams: dict[str, Any] | None = None,
    n_timesteps: int | None = None,
    seed: int = 0,
    log_folder: str | Path = "logs",
    eval_freq: int = 0,
    eval_episodes: int = 100,
    progress: bool = False,
    verbose: int = 0,
    callback: Any = None,
    report: Callable[[str], None] | None = None,
    folder: str | Path | None = None,
    env_kwargs: dict[str, Any] | None = None,
    gym_packages: Sequence[str] = (),
    exact_curve: bool = True,
) -> Run:
    """Train ``algo`` on ``env_id`` and write a run folder; Ctrl-C stops early and keeps the model.

    The hyperparameters are ``preset`` when given, else the env's preset (``preset_path``, default the
    shipped file; the defaults where it has none), with ``hyperparams`` and ``n_timesteps`` on top.

    The folder ``log_folder/algo/<env name>_<N>`` gets ``model.zip``, ``config.yml`` (the resolved
    hyperparameters, plain YAML), ``progress.csv`` (SB3 logger), ``evaluations.npz`` (when
    ``eval_freq`` > 0, SB3's EvalCallback) and ``evaluation.yml`` (the final :func:`evaluate`).
    ``report`` (e.g. ``print``) gets a line per evaluation during training and says what happens after
    a Ctrl-C. ``folder`` replaces the numbered run folder (a seed of a multi-seed run).
    ``env_kwargs`` go to ``gym.make`` (RL Zoo's ``--env-kwargs``); they and ``gym_packages`` (the modules
    that registered a user's env) are recorded in ``config.yml``. A table on an env with an exact model
    also writes ``exact_returns.csv``, its greedy policy valued exactly over training (``exact_curve``).
    """
    from stable_baselines3.common.callbacks import CallbackList, EvalCallback, ProgressBarCallback
    from stable_baselines3.common.logger import configure

    from qgym.training.callbacks import EvaluationReport, ExactCurve  # SB3 (torch): imported to train

    say = report or (lambda line: None)
    spec = RunSpec.resolve(
        algo, env_id, preset=preset, preset_path=preset_path, hyperparams=hyperparams, n_timesteps=n_timesteps
    )
    resolved, source, steps = spec.preset, spec.source, spec.steps
    if not is_int(eval_freq) or eval_freq < 0:
        raise ValueError(f"--eval-freq must be a number of steps, 0 for none, got {eval_freq!r}")
    env_kwargs = check_env_kwargs(env_kwargs)
    model = make_model(algo, env_id, resolved, seed, env_kwargs)  # first: a refused preset leaves no folder
    if folder is None:
        folder = new_run_folder(Path(log_folder) / algo, env_id)
    else:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
    config = spec.config(
        {"seed": seed},
        **({"env_kwargs": env_kwargs} if env_kwargs else {}),
        **({"gym_packages": list(gym_packages)} if gym_packages else {}),
    )
    write_yaml(folder / "config.yml", config)
    say(f"{algo} on {env_id}: {describe_learning(algo, resolved.block)}")
    say(f"{steps:,} steps with {source}; run folder {folder}")
    model.set_logger(configure(str(folder), ["csv"] + (["stdout"] if verbose else [])))
    callbacks = [] if callback is None else [callback]
    curve = (
        ExactCurve.for_run(env_id, resolved.env_wrapper, env_kwargs, steps, folder)
        if exact_curve
        and algo not in DEEP_ALGORITHMS
        and keeps_states(resolved.env_wrapper)
        and exact_optimum(env_id, env_kwargs) is not None
        else None
    )
    if curve is not None:
        callbacks.append(curve)
    if eval_freq > 0:
        eval_env = make_env(
            env_id, 1, resolved.env_wrapper, seed=seed + 10_000, own_rewards=True, env_kwargs=env_kwargs
        )
        optimum = exact_optimum(env_id, env_kwargs)
        reporter = EvaluationReport(
            say, lambda trained: exact_return(trained, env_id, resolved.env_wrapper, env_kwargs), optimum
        )
        callbacks.append(
            EvalCallback(
                eval_env,
                n_eval_episodes=10,
                eval_freq=max(1, eval_freq // max(1, model.n_envs)),
                log_path=str(folder),
                best_model_save_path=None,
                deterministic=True,
                verbose=verbose,
                callback_after_eval=reporter if report is not None else None,
            )
        )
    bar = ProgressBarCallback() if progress else None
    interrupted = False
    try:
        listeners = [*callbacks, *([bar] if bar else [])]
        with warnings.catch_warnings():
            # SB3's progress bar is tqdm's rich one, which warns that it is experimental at every start.
            warnings.filterwarnings("ignore", message="rich is experimental")
            model.learn(steps, callback=CallbackList(listeners) if listeners else None)  # None: the lean loop
    except KeyboardInterrupt:
        interrupted = True
        if bar is not None and getattr(bar, "pbar", None) is not None:
            bar.on_training_end()  # stop the bar's clock: the run has stopped
        say("stopping: saving the model, then evaluating it (Ctrl-C again skips the evaluation)")
    finally:
        model.logger.close()
        if curve is not None:
            curve.save()
        for item in callbacks:
            if isinstance(item, EvalCallback):
                item.eval_env.close()
    model_path = folder / "model.zip"
    if algo in DEEP_ALGORITHMS:
        save_network_model(model, model_path)
    else:
        model.save(model_path)
    if interrupted:
        say(f"saved {model_path}")
    evaluation = evaluate(
        model,
        env_id,
        eval_episodes,
        seed=seed + EVALUATION_SEED_OFFSET,
        env_wrapper=resolved.env_wrapper,
        env_kwargs=env_kwargs,
        training_seeds=range(seed, seed + resolved.n_envs),
    )
    result = {**evaluation.as_dict(), "timesteps": int(model.num_timesteps), "interrupted": interrupted}
    write_yaml(folder / "evaluation.yml", result)
    return Run(model, folder, model_path, evaluation, interrupted, config)


def _check_table_fits(algo: str, env_id: str, env: Any) -> None:
    """Refuse, in a sentence, a Q-table too large for memory (before it is built)."""
    from qgym.agents.spaces import ActionIndexer, StateIndexer, check_table_size

    if isinstance(env.observation_space, gym.spaces.Box):
        raise ValueError(
            f"{algo} on {env_id} needs a tabular observation, got a Box {env.observation_space.shape}: "
            "a table cannot hold this env; train --algo dqn, or add env_wrapper: "
            "qgym.wrappers.DiscretizeObservation to its preset"
        )
    try:
        states, actions = StateIndexer(env.observation_space), ActionIndexer(env.action_space)
    except ValueError:
        return  # the algorithm's constructor names what is wrong with the spaces
    try:
        check_table_size(algorithm_class(algo).n_tables, states.n_states, actions.n_actions)
    except ValueError as error:
        raise ValueError(f"{algo} on {env_id}: {error}") from None
