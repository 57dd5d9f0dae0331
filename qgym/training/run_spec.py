"""What a training run is, resolved and checked once: the algorithm, the env, the hyperparameters (a
preset with the command line's overrides), the steps, and the ``config.yml`` that records them.

:func:`qgym.training.train` (one seed) and :func:`qgym.training.seeds.train_seeds` (many) both start
from a :class:`RunSpec`, so they accept the same inputs, refuse the same mistakes in the same words and
write the same configuration schema.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from qgym.training.preset_bounds import check_preset
from qgym.training.presets import Preset, resolve_preset
from qgym.training.registry import TABULAR_ALGORITHMS, check_algorithm, check_env_id

__all__ = ["RunSpec"]


@dataclass(frozen=True)
class RunSpec:
    """A run's algorithm, env and hyperparameters, checked; ``source`` says where they came from."""

    algo: str
    env_id: str
    preset: Preset
    source: str

    @classmethod
    def resolve(
        cls,
        algo: str,
        env_id: str,
        *,
        preset: dict[str, Any] | None = None,
        preset_path: str | Path | None = None,
        hyperparams: dict[str, Any] | None = None,
        n_timesteps: int | None = None,
    ) -> RunSpec:
        """The hyperparameters are ``preset`` when given, else the env's block of the preset file
        (``preset_path``, default the shipped one; the defaults where it has none), with
        ``hyperparams`` and ``n_timesteps`` on top. A ValueError names what is wrong."""
        check_algorithm(algo)
        check_env_id(env_id)
        if n_timesteps is not None and n_timesteps < 1:
            raise ValueError(f"n_timesteps must be a positive number of steps, got {n_timesteps}")
        if preset is None:
            resolved, source = resolve_preset(algo, env_id, preset_path, hyperparams)
        else:
            resolved, source = Preset.from_block({**preset, **(hyperparams or {})}), "the preset given"
        resolved = resolved.with_steps(n_timesteps)
        if resolved.n_timesteps is None:
            raise ValueError(f"the preset for {env_id} needs n_timesteps (a positive number)")
        check_preset(algo, resolved.block)
        return cls(algo, env_id, resolved, source)

    @property
    def steps(self) -> int:
        """The steps to train (summed over envs)."""
        assert self.preset.n_timesteps is not None
        return self.preset.n_timesteps

    def config(self, seeds: dict[str, Any], **extra: Any) -> dict[str, Any]:
        """What ``config.yml`` records: the algorithm, the env, ``seeds`` (``{"seed": s}`` or ``{"seeds":
        [...]}``), the hyperparameters and their source, ``extra``, and when the run started."""
        started = datetime.datetime.now().isoformat(timespec="seconds")
        return {
            "algo": self.algo,
            "env_id": self.env_id,
            **seeds,
            "hyperparameters": self.preset.block,
            "preset_source": self.source,
            **extra,
            "started": started,
        }

    def table_settings(self, seed: int | None) -> Any:
        """A table's :class:`~qgym.agents.settings.Hyperparameters` from the preset (whose keys
        :meth:`resolve` checked), checked as its algorithm's constructor would check them, without
        importing the algorithm (torch)."""
        from qgym.agents.rules import RULES
        from qgym.agents.settings import Hyperparameters

        assert self.algo in TABULAR_ALGORITHMS, self.algo
        kwargs = self.preset.constructor_kwargs()  # its policy, seed and device checked by resolve()
        kwargs.pop("device", None)
        rule = RULES[self.algo]
        shared = {field.name for field in fields(Hyperparameters)} - {"rule_parameters"}
        own = {key: kwargs.pop(key) for key in [key for key in kwargs if key not in shared]}
        try:
            return Hyperparameters(**kwargs, seed=seed, rule_parameters=rule.check_parameters(own))
        except ValueError as error:
            raise ValueError(f"the preset for {self.algo} on {self.env_id}: {error}") from None
