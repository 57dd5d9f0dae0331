"""Train one preset on many seeds and judge the distribution: ``qgym train ... --seeds N``.

Tabular agents on an env with an exact model whose observations are its states (the toy-text envs,
the small farms, the trading chains) train in lockstep in this process
(:class:`qgym.agents.lockstep.Lockstep`); every evaluation values each seed's greedy policy exactly.
DQN, QR-DQN and tables on other envs train one seed a worker, each through
:func:`qgym.training.train`, and are valued exactly where the env allows, else by sampling: worker
processes on this machine (``jobs`` at a time), or Ray tasks on a cluster (``ray_address``). Each seed
is written into the run folder as it arrives (:mod:`qgym.training.seed_store`), so a run that was
stopped resumes with the seeds it finished (``resume``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from qgym import planning
from qgym.scoring import percent_of_optimum
from qgym.training.envs import horizon_of
from qgym.training.evaluation import exact_optimum
from qgym.training.registry import DEEP_ALGORITHMS, check_env_kwargs
from qgym.training.run_spec import RunSpec
from qgym.training.runs import new_run_folder, write_yaml
from qgym.training.seed_pool import SeedPool
from qgym.training.seed_results import (
    EVAL_EPISODES,
    SAMPLED_EPISODES,
    CurvePoint,
    SeedResult,
    SeedStatistics,
    statistics_of,
    steps_to_target,
    summary_lines,
    write_seed_files,
)
from qgym.training.seed_store import check_resumable, finished_seeds
from qgym.training.stats import iqm
from qgym.training.vocabulary import describe_learning
from qgym.training.worker_seeds import make_pool, progress_bar, seed_words, train_in_workers
from qgym.validation import check_memory, is_int

__all__ = ["MAX_SEEDS", "SeedsRun", "lockstep_memory", "lockstep_model", "seed_list", "train_seeds"]

MAX_SEEDS = 10_000
CURVE_POINTS = 20
"""Evaluations over training when ``eval_freq`` is not given (plus one before the first step)."""
COMPILE_FROM = 40_000
"""Steps per learner from which a lockstep run loads the compiled loops (the ``fast`` extra; the same
bits either way). Without them a step costs a numpy pass per env index, about 12 us of CPU per step a
learner takes whatever the number of seeds; loading numba and the kernels costs about 0.45 s of CPU
once, after which a step is nearly free (13-16 million learner steps a second on FrozenLake 8x8 against
1-4 million): measured with ``python benchmarks/bench_seeds.py``'s lockstep rows."""


@dataclass
class SeedsRun:
    """What :func:`train_seeds` produced: the folder, per-seed results and curves, and how it ran."""

    folder: Path
    config: dict[str, Any]
    results: list[SeedResult]
    curves: list[CurvePoint]
    method: str
    optimum: float | None
    eval_freq: int
    n_timesteps: int
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)
    figures: dict[str, SeedStatistics] = field(default_factory=dict)
    """The statistics over seeds of each figure, once the seeds are trained."""

    def summary(self) -> list[str]:
        """The lines printed at the end: each figure with its interval and what it is."""
        figures = self.figures or statistics_of(self.results)
        lines = summary_lines(self.results, self.optimum, self.eval_freq, self.n_timesteps, figures)
        return [*self.notes, *lines]


def seed_list(count: Any, first: Any = 0) -> list[int]:
    """``count`` seeds from ``first`` on; a ValueError says what is allowed."""
    if not is_int(count) or not 1 <= count <= MAX_SEEDS:
        raise ValueError(f"--seeds must be a whole number of seeds from 1 to {MAX_SEEDS:,}, got {count!r}")
    if not is_int(first) or first < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {first!r}")
    return list(range(int(first), int(first) + int(count)))


def lockstep_model(
    env_id: str, env_wrapper: Any = None, env_kwargs: dict[str, Any] | None = None
) -> tuple[planning.TabularModel | None, str]:
    """The env's exact model as arrays when a lockstep run can sample it, else None and why not."""
    if env_wrapper is not None:
        return None, "the preset wraps the env (env_wrapper), so its observations are not the model's states"
    env = gym.make(env_id, **(env_kwargs or {}))
    try:
        try:
            model = planning.model_of(env)
        except ValueError:
            return None, f"{env_id} exposes no exact model"
        if not isinstance(model, planning.TabularModel):
            transitions = getattr(env.unwrapped, "P", None)
            if transitions is None:
                return None, f"{env_id}'s model has no table of outcomes (toy-text P)"
            model = planning.TabularModel.from_toy_text(transitions, model.initial_distribution)
        if not _observes_states(env, model.n_states):
            return None, f"{env_id}'s observations are not its model's state numbers"
        return model, ""
    finally:
        env.close()


def lockstep_memory(
    algo: str,
    env_id: str,
    n_seeds: int,
    n_envs: int,
    model: planning.TabularModel | None = None,
    env_kwargs: dict[str, Any] | None = None,
) -> None:
    """Refuse (:func:`qgym.validation.check_memory`) seeds whose tables, visit counts and exact
    evaluations would not fit: each seed holds tables and counts of S x A (16 bytes a cell) and its
    evaluation (:func:`qgym.planning.policy_returns`) about 56 bytes per model outcome. Without
    ``model`` only the tables are counted, from the env's spaces, before the model is enumerated."""
    from qgym.agents.rules import RULES

    env = gym.make(env_id, **(env_kwargs or {}))
    try:
        space, actions = env.observation_space, env.action_space
        if not (isinstance(space, gym.spaces.Discrete) and isinstance(actions, gym.spaces.Discrete)):
            return
        n_states, n_actions = int(space.n), int(actions.n)
    finally:
        env.close()
    per_seed = RULES[algo].n_tables * n_states * n_actions * 16 + n_envs * 64
    if model is not None:
        per_seed += int(model.probs.shape[0]) * int(model.probs.shape[2]) * 56
    check_memory(f"{n_seeds:,} seeds of {algo} on {env_id} in lockstep", n_seeds * per_seed)


def _observes_states(env: gym.Env[Any, Any], n_states: int) -> bool:
    """Whether the env's observation is its model's state number (checked on a few resets)."""
    space = env.observation_space
    if not isinstance(space, gym.spaces.Discrete) or int(space.n) != n_states or int(space.start) != 0:
        return False
    for seed in range(3):
        observation, _ = env.reset(seed=seed)
        if int(observation) != planning.current_state(env):
            return False
    return True


def train_seeds(
    algo: str,
    env_id: str,
    n_seeds: int,
    *,
    seed: int = 0,
    preset_path: str | Path | None = None,
    hyperparams: dict[str, Any] | None = None,
    n_timesteps: int | None = None,
    log_folder: str | Path = "logs",
    eval_freq: int | None = None,
    jobs: int | None = None,
    progress: bool = False,
    report: Callable[[str], None] | None = None,
    env_kwargs: dict[str, Any] | None = None,
    gym_packages: Sequence[str] = (),
    ray_address: str | None = None,
    ray_cpus: float = 1.0,
    ray_gpus: float | None = None,
    resume: str | Path | None = None,
) -> SeedsRun:
    """Train ``algo`` on ``env_id`` with seeds ``seed .. seed + n_seeds - 1`` into one run folder.

    Each seed's greedy policy is valued every ``eval_freq`` steps (default: 20 times over training):
    exactly where the env has a model, else by its sampled mean over 10 episodes. Ctrl-C stops early
    and keeps what the seeds learned so far (in lockstep) or the seeds finished (one a worker).
    ``env_kwargs`` and ``gym_packages`` are as for :func:`qgym.training.train`.

    Seeds that train one a worker run as Ray tasks on the cluster at ``ray_address`` (``auto``,
    ``ray://host:port`` or a GCS ``host:port``), each asking for ``ray_cpus`` CPUs and ``ray_gpus``
    GPUs (default: one where the cluster has GPUs and the preset's device may use one). ``resume``
    names the folder of an unfinished run of the same command: only its missing seeds train.
    """
    say = report or (lambda line: None)
    spec = RunSpec.resolve(
        algo, env_id, preset_path=preset_path, hyperparams=hyperparams, n_timesteps=n_timesteps
    )
    seeds = seed_list(n_seeds, seed)
    if jobs is not None and (not is_int(jobs) or jobs < 1):
        raise ValueError(f"--jobs must be a positive number of processes, got {jobs!r}")
    steps = spec.steps
    if eval_freq is not None and (not is_int(eval_freq) or eval_freq < 1):
        raise ValueError(f"--eval-freq must be a positive number of steps, got {eval_freq!r}")
    eval_every = int(eval_freq) if eval_freq else max(1, math.ceil(steps / CURVE_POINTS))
    env_kwargs = check_env_kwargs(env_kwargs)
    if algo not in DEEP_ALGORITHMS:  # before the model is enumerated
        lockstep_memory(algo, env_id, len(seeds), spec.preset.n_envs, env_kwargs=env_kwargs)
    model, why = (
        (None, "") if algo in DEEP_ALGORITHMS else lockstep_model(env_id, spec.preset.env_wrapper, env_kwargs)
    )
    if model is not None:
        lockstep_memory(algo, env_id, len(seeds), spec.preset.n_envs, model, env_kwargs)
    method = "lockstep" if model is not None else "processes"
    if model is not None and resume is not None:
        raise ValueError(
            f"--resume {resume}: tables on {env_id} train every seed at once in lockstep in one process, "
            "with nothing to resume; run the command again without --resume"
        )
    # Build what trains before the folder: a preset it refuses leaves no folder. Learners in lockstep
    # need no model object (nor torch); the processes' preset is checked by building one model.
    pool: SeedPool | None = None
    if model is not None:
        learners: Any = spec.table_settings(seed)
    else:
        from qgym.training.train import make_model

        make_model(algo, env_id, spec.preset, seed, env_kwargs)
        pool = make_pool(jobs, len(seeds), ray_address, ray_cpus, ray_gpus, spec.preset.block)
    config = spec.config(
        {"seeds": seeds},
        method=method,
        eval_freq=eval_every,
        **({"env_kwargs": env_kwargs} if env_kwargs else {}),
        **({"gym_packages": list(gym_packages)} if gym_packages else {}),
    )
    finished: dict[int, tuple[SeedResult, list[CurvePoint]]] = {}
    if resume is not None:
        folder = Path(resume)
        config = check_resumable(folder, config)
        finished = finished_seeds(folder, seeds)
    else:
        folder = new_run_folder(Path(log_folder) / algo, env_id)
        write_yaml(folder / "config.yml", config)
    optimum = exact_optimum(env_id, env_kwargs)
    how = "in lockstep in this process" if pool is None else pool.describe()
    say(f"{algo} on {env_id}: {describe_learning(algo, spec.preset.block)}")
    say(
        f"{len(seeds)} seeds ({seeds[0]}-{seeds[-1]}), {steps:,} steps each with "
        f"{spec.source}, trained {how}; run folder {folder}"
    )
    if resume is not None:
        left = [s for s in seeds if s not in finished]
        say(f"resuming: {seed_words(sorted(finished))} already trained; training {seed_words(left)}")
    notes = [] if model is not None or algo in DEEP_ALGORITHMS else [f"(not in lockstep: {why})"]
    if model is not None and ray_address is not None:
        notes.append(f"(tables on {env_id} train in lockstep in this process: --ray-address is not used)")
    if optimum is None:
        notes.append(
            f"(no exact optimum for {env_id}: each evaluation values the greedy policy by its sampled mean "
            f"over {SAMPLED_EPISODES} episodes, and the end of training by {EVAL_EPISODES} episodes against "
            "the env's heuristic where it has one)"
        )
    run = SeedsRun(folder, config, [], [], method, optimum, eval_every, steps, notes=notes)
    if model is not None:
        _lockstep(run, learners, spec.preset.n_envs, model, seeds, progress, say)
    else:
        assert pool is not None
        train_in_workers(run, spec.preset.block, seeds, pool, finished, progress, say)
    run.results.sort(key=lambda result: result.seed)
    if model is not None:  # the lockstep learners evaluate together: a row per seed, step by step
        run.curves.sort(key=lambda point: (point.step, point.seed))
    else:  # a worker's seed comes back whole: its points in step order, seed after seed
        run.curves.sort(key=lambda point: point.seed)
    run.figures = statistics_of(run.results)
    write_seed_files(folder, run.results, run.curves, run.figures)
    return run


def _lockstep(
    run: SeedsRun,
    settings: Any,
    n_envs: int,
    model: planning.TabularModel,
    seeds: list[int],
    progress: bool,
    say: Callable[[str], None],
) -> None:
    from qgym.agents.lockstep import LearnerSettings, Lockstep

    env_id = run.config["env_id"]
    horizon = horizon_of(env_id, run.config.get("env_kwargs"))
    shared = LearnerSettings(run.config["algo"], settings)
    compiled = run.n_timesteps >= COMPILE_FROM
    learners = Lockstep(shared, model, seeds, n_envs=n_envs, max_episode_steps=horizon, compiled=compiled)

    def evaluate(lockstep: Lockstep) -> None:
        values = planning.policy_returns(model, lockstep.greedy_policies(), horizon)
        online = lockstep.online_returns().recent_mean
        for k, seed in enumerate(seeds):
            percent = None if run.optimum is None else percent_of_optimum(float(values[k]), run.optimum)
            run.curves.append(
                CurvePoint(seed, lockstep.num_timesteps, float(values[k]), percent, float(online[k]), True)
            )
        if lockstep.num_timesteps > 0:
            say(_progress_line(lockstep.num_timesteps, values, run.optimum))

    bar = progress_bar(run.n_timesteps, progress)
    evaluate(learners)
    try:
        advance = None if bar is None else (lambda steps: bar.update(steps - bar.n))
        learners.learn(run.n_timesteps, run.eval_freq, evaluate, advance)
    except KeyboardInterrupt:
        run.interrupted = True
        say(f"stopping: saving the {len(seeds)} seeds as they are after {learners.num_timesteps:,} steps")
    finally:
        if bar is not None:
            bar.close()
    if not run.curves or run.curves[-1].step != learners.num_timesteps:
        evaluate(learners)
    final = {point.seed: point for point in run.curves if point.step == learners.num_timesteps}
    env = gym.make(env_id, **run.config.get("env_kwargs", {}))
    spaces = (env.observation_space, env.action_space)
    env.close()
    for k, seed in enumerate(seeds):
        folder = _seed_folder(run, seed, learners.num_timesteps)
        learners.save(k, folder / "model.zip", spaces, n_envs)
        point = final[seed]
        curve = [p for p in run.curves if p.seed == seed]
        run.results.append(
            SeedResult(seed, point.online_return, point.greedy_return, point.percent, steps_to_target(curve))
        )


def _seed_folder(run: SeedsRun, seed: int, timesteps: int) -> Path:
    """A learner's run folder, with its ``config.yml`` (``qgym eval`` takes the folder)."""
    folder = run.folder / f"seed_{seed}"
    folder.mkdir(exist_ok=True)
    keys = ("algo", "env_id", "hyperparameters", "preset_source", "env_kwargs", "gym_packages")
    config = {key: run.config[key] for key in keys if key in run.config}
    write_yaml(folder / "config.yml", {**config, "seed": seed, "timesteps": int(timesteps)})
    return folder


def _progress_line(step: int, values: np.ndarray, optimum: float | None) -> str:
    if optimum is not None:
        shares = [percent_of_optimum(float(v), optimum) for v in values]
        known = [s for s in shares if s is not None]
        if known:
            return (
                f"step {step:,}: greedy policies, IQM {float(iqm(known)):.1f}% of the exact optimum "
                f"(worst seed {min(known):.1f}%)"
            )
    return f"step {step:,}: greedy policies, IQM exact return {float(iqm(values)):.2f}"
