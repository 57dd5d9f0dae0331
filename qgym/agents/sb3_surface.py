"""What the tabular agents rely on of Stable-Baselines3 beyond its public API, named in one place.

SB3's algorithms keep a run's state in attributes of ``BaseAlgorithm`` that have no public accessor
(``_last_obs``, ``_episode_num``, ...) and fill their episode statistics through its
``_update_info_buffer``. A tabular agent has to keep that state the same way, or SB3's callbacks,
logger, ``save`` and RL Zoo would see another run. The agents touch those names only through the
functions here, so an SB3 release that renames one breaks this module alone, and
``tests/agents/test_sb3_surface.py`` checks every name below against the installed SB3.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

__all__ = [
    "ATTRIBUTES",
    "METHODS",
    "count_steps",
    "episode_statistics",
    "finish_episode",
    "last_step",
    "learn_setup",
    "run_state",
    "set_last_step",
    "set_progress",
    "set_run_state",
    "setup_lr_schedule",
    "stats_window_size",
    "wrap_env",
]

ATTRIBUTES = (
    "_last_obs",
    "_last_episode_starts",
    "_n_updates",
    "_episode_num",
    "_current_progress_remaining",
    "_total_timesteps",
    "_num_timesteps_at_start",
    "_stats_window_size",
    "start_time",
    "ep_info_buffer",
    "ep_success_buffer",
    "lr_schedule",
)
"""The attributes ``BaseAlgorithm`` sets (at construction or in ``_setup_learn``) qgym reads or writes."""
METHODS = ("_setup_learn", "_setup_lr_schedule", "_update_info_buffer", "_wrap_env")
"""The non-public methods of ``BaseAlgorithm`` qgym calls."""


def learn_setup(
    model: Any, total_timesteps: int, callback: Any, reset_num_timesteps: bool, name: str, progress_bar: bool
) -> tuple[int, BaseCallback]:
    """SB3's start of ``learn``: the logger, the callback (one ``BaseCallback``), a reset env when
    starting afresh."""
    result: tuple[int, BaseCallback] = model._setup_learn(
        total_timesteps, callback, reset_num_timesteps, name, progress_bar
    )
    return result


def setup_lr_schedule(model: Any) -> None:
    """SB3's ``lr_schedule`` from the model's ``learning_rate``."""
    model._setup_lr_schedule()


def wrap_env(algorithm: type[Any], env: Any, verbose: int) -> Any:
    """An env as SB3 wraps it for an algorithm (Monitor and DummyVecEnv around a plain env)."""
    return algorithm._wrap_env(env, verbose)


def last_step(model: Any) -> tuple[Any, Any]:
    """The last observations of the model's envs and whether each starts an episode (None at first)."""
    return model._last_obs, model._last_episode_starts


def set_last_step(model: Any, observations: Any, episode_starts: Any) -> None:
    """Keep the envs' last observations and episode starts, where SB3's callbacks and the next
    ``learn`` look for them."""
    model._last_obs = observations
    model._last_episode_starts = episode_starts


def count_steps(model: Any, n: int) -> None:
    """``n`` more env steps, each one update (SB3's ``num_timesteps`` and ``_n_updates``)."""
    model.num_timesteps += n
    model._n_updates += n


def set_progress(model: Any, progress_remaining: float) -> None:
    """SB3's ``progress_remaining`` (1 at the start of training, 0 at the end)."""
    model._current_progress_remaining = progress_remaining


def finish_episode(model: Any) -> int:
    """Count one more finished episode; return the count."""
    model._episode_num += 1
    return int(model._episode_num)


def episode_statistics(model: Any, finished_infos: list[dict[str, Any]]) -> None:
    """Feed the finished envs' infos (``Monitor``'s ``info["episode"]``) to SB3's episode buffers
    (``rollout/ep_rew_mean`` and friends)."""
    model._update_info_buffer(finished_infos, np.ones(len(finished_infos), dtype=bool))


def stats_window_size(model: Any) -> int:
    """Episodes averaged in ``rollout/ep_rew_mean``."""
    return int(model._stats_window_size)


def run_state(model: Any) -> dict[str, Any]:
    """The counters a saved model keeps beside ``num_timesteps``, by SB3's attribute meaning."""
    return {
        "total_timesteps": int(model._total_timesteps),
        "episode_num": int(model._episode_num),
        "n_updates": int(model._n_updates),
        "progress_remaining": float(model._current_progress_remaining),
        "steps_at_start": int(model._num_timesteps_at_start),
        "seconds": max((time.time_ns() - model.start_time) / 1e9, 1e-9),
    }


def set_run_state(
    model: Any, total_timesteps: int, episode_num: int, n_updates: int, progress_remaining: float
) -> None:
    """Restore the counters of :func:`run_state` (a loaded model continues where it stopped)."""
    model._total_timesteps = total_timesteps
    model._episode_num = episode_num
    model._n_updates = n_updates
    model._current_progress_remaining = progress_remaining
