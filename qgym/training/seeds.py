"""Train one preset on many seeds and judge the distribution: ``qgym train ... --seeds N``.

Tabular agents on an env with an exact model whose observations are its states (the toy-text envs,
the small farms, the trading chains) train in lockstep in this process
(:class:`qgym.agents.lockstep.Lockstep`); every evaluation values each seed's greedy policy exactly.
DQN, QR-DQN and tables on other envs train one seed per process (``jobs`` at a time), each through
:func:`qgym.training.train`, and are valued exactly where the env allows, else by sampling.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from qgym import planning
from qgym.scoring import percent_of_optimum
from qgym.training.envs import horizon_of
from qgym.training.evaluation import exact_optimum
from qgym.training.registry import DEEP_ALGORITHMS
from qgym.training.run_spec import RunSpec
from qgym.training.runs import new_run_folder, write_yaml
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
from qgym.training.stats import iqm
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


def lockstep_model(env_id: str, env_wrapper: Any = None) -> tuple[planning.TabularModel | None, str]:
    """The env's exact model as arrays when a lockstep run can sample it, else None and why not."""
    if env_wrapper is not None:
        return None, "the preset wraps the env (env_wrapper), so its observations are not the model's states"
    env = gym.make(env_id)
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
    algo: str, env_id: str, n_seeds: int, n_envs: int, model: planning.TabularModel | None = None
) -> None:
    """Refuse (:func:`qgym.validation.check_memory`) seeds whose tables, visit counts and exact
    evaluations would not fit: each seed holds tables and counts of S x A (16 bytes a cell) and its
    evaluation (:func:`qgym.planning.policy_returns`) about 56 bytes per model outcome. Without
    ``model`` only the tables are counted, from the env's spaces, before the model is enumerated."""
    from qgym.agents.rules import RULES

    env = gym.make(env_id)
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
) -> SeedsRun:
    """Train ``algo`` on ``env_id`` with seeds ``seed .. seed + n_seeds - 1`` into one run folder.

    Each seed's greedy policy is valued every ``eval_freq`` steps (default: 20 times over training):
    exactly where the env has a model, else by its sampled mean over 10 episodes. Ctrl-C stops early
    and keeps what the seeds learned so far.
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
    if algo not in DEEP_ALGORITHMS:
        lockstep_memory(algo, env_id, len(seeds), spec.preset.n_envs)  # before the model is enumerated
    model, why = (None, "") if algo in DEEP_ALGORITHMS else lockstep_model(env_id, spec.preset.env_wrapper)
    if model is not None:
        lockstep_memory(algo, env_id, len(seeds), spec.preset.n_envs, model)
    method = "lockstep" if model is not None else "processes"
    # Build what trains before the folder: a preset it refuses leaves no folder. Learners in lockstep
    # need no model object (nor torch); the processes' preset is checked by building one model.
    if model is not None:
        learners: Any = spec.table_settings(seed)
    else:
        from qgym.training.train import make_model

        make_model(algo, env_id, spec.preset, seed)
    folder = new_run_folder(Path(log_folder) / algo, env_id)
    config = spec.config({"seeds": seeds}, method=method, eval_freq=eval_every)
    write_yaml(folder / "config.yml", config)
    optimum = exact_optimum(env_id)
    how = (
        "in lockstep in this process"
        if model is not None
        else f"one per process, {_jobs(jobs, seeds)} at a time"
    )
    say(
        f"{algo} on {env_id}: {len(seeds)} seeds ({seeds[0]}-{seeds[-1]}), {steps:,} steps each with "
        f"{spec.source}, trained {how}; run folder {folder}"
    )
    notes = [] if model is not None or algo in DEEP_ALGORITHMS else [f"(not in lockstep: {why})"]
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
        _processes(run, spec.preset.block, seeds, _jobs(jobs, seeds), progress, say)
    run.figures = statistics_of(run.results)
    write_seed_files(folder, run.results, run.curves, run.figures)
    return run


def _jobs(jobs: int | None, seeds: Sequence[int]) -> int:
    return max(1, min(jobs or os.cpu_count() or 1, len(seeds)))


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
    horizon = horizon_of(env_id)
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

    bar = _bar(run.n_timesteps, progress)
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
    env = gym.make(env_id)
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
    config = {key: run.config[key] for key in ("algo", "env_id", "hyperparameters", "preset_source")}
    write_yaml(folder / "config.yml", {**config, "seed": seed, "timesteps": int(timesteps)})
    return folder


def _processes(
    run: SeedsRun,
    block: dict[str, Any],
    seeds: list[int],
    jobs: int,
    progress: bool,
    say: Callable[[str], None],
) -> None:
    import multiprocessing

    from qgym.training.seed_worker import train_one_seed

    bar = _bar(len(seeds), progress, unit="seed")
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked torch threads
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context)
    futures: list[tuple[int, Future[Any]]] = []
    try:
        spec = gym.spec(run.config["env_id"])  # a spawned worker starts without the user's registrations
        arguments = (run.config["algo"], spec, block, run.folder, run.eval_freq, run.optimum)
        futures = [(seed, pool.submit(train_one_seed, *arguments, seed)) for seed in seeds]
        for _seed, future in futures:
            result, points = future.result()
            run.results.append(result)
            run.curves.extend(points)
            if bar is not None:
                bar.update(1)
            say(_seed_line(result))
    except KeyboardInterrupt:
        run.interrupted = True
        say("stopping: the seeds already trained are kept; the others are dropped")
        pool.shutdown(wait=False, cancel_futures=True)
        for _seed, future in futures:
            if future.done() and not future.cancelled() and future.exception() is None:
                result, points = future.result()
                if result not in run.results:
                    run.results.append(result)
                    run.curves.extend(points)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()


def _bar(total: int, shown: bool, unit: str = "step") -> Any:
    """A tqdm bar (or None when not shown): ``bar.update(n)``, ``bar.n``, ``bar.close()``."""
    if not shown:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, unit_scale=unit == "step", dynamic_ncols=True)


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


def _seed_line(result: SeedResult) -> str:
    if result.percent is not None:
        share = f"{result.percent:.1f}% of the exact optimum"
        return f"seed {result.seed}: greedy policy {result.exact_return:.2f} = {share}"
    if result.sampled_return is not None:
        line = f"seed {result.seed}: greedy policy, sampled mean return {result.sampled_return:.2f}"
        if result.heuristic_difference is not None:
            line += f" ({result.heuristic_difference:+.2f} against the heuristic on the same episodes)"
        return line
    return f"seed {result.seed}: online return {result.online_return:.2f}"
