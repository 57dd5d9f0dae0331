"""What goes to a worker that trains one seed, and what comes back: plain data, so the worker may be a
local process or a Ray task on another machine that shares no file with the driver."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gymnasium.envs.registration import EnvSpec

from qgym.training.seed_results import CurvePoint, SeedResult

__all__ = ["SeedOutcome", "SeedTask"]


@dataclass(frozen=True)
class SeedTask:
    """All a worker needs to train one seed, sent to it whole (it may share no file with the driver)."""

    algo: str
    spec: EnvSpec
    """The env's registration: a worker that does not know the ID (a user's env) registers it."""
    block: dict[str, Any]
    eval_freq: int
    optimum: float | None
    seed: int
    env_kwargs: dict[str, Any] | None = None
    """The env's arguments (``--env-kwargs``), as the run was given them."""


@dataclass(frozen=True)
class SeedOutcome:
    """A trained seed as the worker hands it back: figures, curve, and its run folder's files."""

    result: SeedResult
    curve: list[CurvePoint]
    files: dict[str, bytes]
    """``seed_<N>/``'s files by their path inside it (``model.zip``, ``config.yml``, ...)."""
    version: str
    """The qgym version that trained it (every machine of a cluster should run the same)."""
