"""One seed of a multi-seed run in its own process: :func:`qgym.training.train` with a learning curve.

The curve values the greedy policy every ``eval_freq`` steps: exactly where the env has a model whose
states the observations encode, else by its sampled mean over :data:`SAMPLED_EPISODES` episodes.

A worker (a local process or a Ray task on another machine) gets a :class:`SeedTask`, trains into a
scratch folder of its own and hands back a :class:`SeedOutcome`: the seed's figures, its curve and its
run folder's files as bytes. The driver writes them into the run folder, so no worker needs the
driver's file system.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec
from stable_baselines3.common.callbacks import BaseCallback

from qgym.scoring import percent_of_optimum
from qgym.training.envs import single_env, wrapper
from qgym.training.evaluation import exact_return
from qgym.training.rollouts import episode_returns, model_policy
from qgym.training.seed_results import (
    EVAL_EPISODES,
    SAMPLED_EPISODES,
    CurvePoint,
    SeedResult,
    steps_to_target,
)
from qgym.training.seed_tasks import SeedOutcome, SeedTask
from qgym.version import __version__

__all__ = ["LearningCurve", "die_with_parent", "run_seed_task", "train_one_seed"]


def run_seed_task(task: SeedTask) -> SeedOutcome:
    """Train ``task``'s seed in a scratch folder of this process and return it as a :class:`SeedOutcome`."""
    global _scratch
    scratch = Path(tempfile.mkdtemp(prefix=f"qgym-seed-{task.seed}-"))
    _scratch = scratch
    try:
        result, curve = train_one_seed(
            task.algo,
            task.spec,
            task.block,
            scratch,
            task.eval_freq,
            task.optimum,
            task.env_kwargs,
            task.seed,
        )
        folder = scratch / f"seed_{task.seed}"
        files = {
            path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*"))
            if path.is_file()
        }
    finally:
        _scratch = None
        shutil.rmtree(scratch, ignore_errors=True)
    return SeedOutcome(result, curve, files, __version__)


def die_with_parent() -> None:
    """End this process (removing its scratch folder) as soon as the process that started it ends.

    A worker started by :mod:`multiprocessing` watches its parent's sentinel, which the system closes
    when the parent ends for any reason, SIGKILL included: no worker goes on training for a dead run.
    """
    import multiprocessing
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        wait([sentinel])
        scratch = _scratch
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        os.kill(os.getpid(), signal.SIGKILL)  # at once: no cleanup of a dead run's work

    threading.Thread(target=watch, name="qgym-parent-watch", daemon=True).start()


_scratch: Path | None = None
"""The scratch folder the seed at hand trains into (removed if the parent dies)."""


class LearningCurve(BaseCallback):
    """Every ``eval_freq`` steps (and before the first), the greedy policy's value and the online return."""

    def __init__(
        self,
        env_id: str,
        env_wrapper: Any,
        eval_freq: int,
        optimum: float | None,
        seed: int,
        env_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.env_id, self.env_wrapper, self.eval_freq = env_id, env_wrapper, eval_freq
        self.env_kwargs = dict(env_kwargs or {})
        self.optimum, self.seed = optimum, seed
        self.points: list[CurvePoint] = []
        self._next = 0

    def _on_training_start(self) -> None:
        self._record()
        self._next = self.eval_freq

    def _on_step(self) -> bool:
        if self.num_timesteps >= self._next:
            self._record()
            while self._next <= self.num_timesteps:
                self._next += self.eval_freq
        return True

    def _on_training_end(self) -> None:
        if not self.points or self.points[-1].step != self.num_timesteps:
            self._record()

    def _record(self) -> None:
        value = (
            exact_return(self.model, self.env_id, self.env_wrapper, self.env_kwargs)
            if self.optimum is not None
            else None
        )
        exact = value is not None
        if value is None:
            env = single_env(self.env_id, wrapper(self.env_wrapper, own_rewards=True), **self.env_kwargs)
            try:
                returns = episode_returns(env, model_policy(self.model), SAMPLED_EPISODES, 30_000 + self.seed)
            finally:
                env.close()
            value = float(returns.mean())
        percent = percent_of_optimum(value, self.optimum) if exact and self.optimum is not None else None
        online = _online_return(self.model)
        self.points.append(
            CurvePoint(self.seed, int(self.num_timesteps), float(value), percent, online, exact)
        )


def train_one_seed(
    algo: str,
    spec: EnvSpec,
    block: dict[str, Any],
    run_folder: Path,
    eval_freq: int,
    optimum: float | None,
    env_kwargs: dict[str, Any] | None,
    seed: int,
) -> tuple[SeedResult, list[CurvePoint]]:
    """Train seed ``seed`` into ``run_folder/seed_<seed>``; its final figures and its curve. ``spec`` is
    registered first when this process does not know the env (a user's own, in a spawned worker)."""
    from qgym.training.train import train

    env_id = spec.id
    if env_id not in gym.registry:
        gym.registry[env_id] = spec
    curve = LearningCurve(env_id, block.get("env_wrapper"), eval_freq, optimum, seed, env_kwargs)
    folder = run_folder / f"seed_{seed}"
    run = train(
        algo,
        env_id,
        preset=block,
        seed=seed,
        folder=folder,
        callback=curve,
        eval_episodes=EVAL_EPISODES,
        env_kwargs=env_kwargs,
        exact_curve=False,  # the seed's LearningCurve values it already
    )
    evaluation = run.evaluation
    exact = evaluation.exact_return
    result = SeedResult(
        seed,
        _online_return(run.model),
        exact_return=exact,
        percent=None if exact is None else evaluation.percent_of_optimum,
        steps_to_target=steps_to_target(curve.points),
        sampled_return=evaluation.mean_return if exact is None else None,
        heuristic_difference=(
            None
            if exact is not None or evaluation.heuristic_return is None
            else evaluation.mean_return - evaluation.heuristic_return
        ),
    )
    return result, curve.points


def _online_return(model: Any) -> float:
    buffer = getattr(model, "ep_info_buffer", None) or []
    returns = [info["r"] for info in buffer if "r" in info]
    return float(np.mean(returns)) if returns else float("nan")
