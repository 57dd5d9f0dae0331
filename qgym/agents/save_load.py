"""``save()`` and ``load()`` of the tabular algorithms: what a model writes, and how it is rebuilt.

The algorithm says what it saves (its :class:`~qgym.agents.settings.Hyperparameters`, its
:class:`~qgym.agents.settings.TrainingState`, its tables); :mod:`qgym.agents.file_format` writes and
reads the file without knowing any algorithm. :class:`ModelFiles` is a mixin of
:class:`qgym.agents.base.TabularAlgorithm`.
"""

from __future__ import annotations

import io
import pathlib
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv
from stable_baselines3.common.utils import check_for_correct_spaces

from qgym.agents import file_format
from qgym.agents import sb3_surface as sb3
from qgym.agents.file_format import ModelFileError, ModelRecord
from qgym.agents.settings import Hyperparameters, TrainingState

if TYPE_CHECKING:
    import random

    from qgym.agents.policy import TabularPolicy

__all__ = ["ModelFiles"]

SelfModel = TypeVar("SelfModel", bound="ModelFiles")


class ModelFiles:
    """SB3's ``save``/``load`` signatures over qgym's pickle-free model file."""

    if TYPE_CHECKING:  # provided by TabularAlgorithm and SB3's BaseAlgorithm
        policy: TabularPolicy
        policy_aliases: ClassVar[dict[str, type[BasePolicy]]]
        n_tables: ClassVar[int]
        observation_space: spaces.Space[Any]
        action_space: spaces.Space[Any]
        n_envs: int
        num_timesteps: int
        exploration_rate: float
        _rng: random.Random
        _predict_rng: random.Random

        def _settings(self) -> Hyperparameters: ...

        def __init__(self, *args: Any, **kwargs: Any) -> None: ...

        def _setup_model(self) -> None: ...

    def save(
        self,
        path: str | pathlib.Path | io.BufferedIOBase,
        exclude: Any = None,
        include: Any = None,
    ) -> None:
        """Save to a zip of plain JSON and ``.npy`` arrays (no pickle), atomically when ``path`` is a path.

        As in SB3, ``.zip`` is appended to a path without suffix. ``exclude``/``include`` exist for
        signature compatibility: a tabular model always saves the same complete set of fields.
        """
        if exclude or include:
            raise ValueError(
                "exclude and include are not supported: a tabular model saves a fixed set of fields"
            )
        run = sb3.run_state(self)
        state = TrainingState(
            int(self.num_timesteps),
            run["total_timesteps"],
            run["episode_num"],
            run["n_updates"],
            run["progress_remaining"],
            float(self.exploration_rate),
            int(self.n_envs),
            self._rng.getstate(),
            self._predict_rng.getstate(),
        )
        record = ModelRecord(
            type(self).__name__,
            self.observation_space,
            self.action_space,
            self._settings().to_data(),
            state.to_data(),
            self.policy.tables,
            self.policy.visits,
            file_format.library_versions(),
        )
        file_format.write_model_file(record, path)

    @classmethod
    def load(
        cls: type[SelfModel],
        path: str | pathlib.Path | io.BufferedIOBase,
        env: GymEnv | None = None,
        device: th.device | str = "auto",
        custom_objects: dict[str, Any] | None = None,
        print_system_info: bool = False,
        force_reset: bool = True,
        **kwargs: Any,
    ) -> SelfModel:
        """Load a model saved by :meth:`save`, never unpickling anything.

        ``env`` (optional) must have the saved spaces, as SB3's ``check_for_correct_spaces`` checks.
        ``custom_objects`` replaces saved hyperparameters (names it does not know are ignored, as in
        SB3); ``kwargs`` override hyperparameters too. Calling ``TabularAlgorithm.load`` returns
        whichever algorithm the file holds. The file holds no env state, so training after a load
        always starts with a reset (``force_reset`` is accepted for compatibility).
        """
        del force_reset
        record = file_format.read_model_file(path)
        algorithm = _resolve_class(cls, record.algorithm)
        if record.q_values.shape[0] != algorithm.n_tables:
            raise ModelFileError(
                f"a {algorithm.__name__} model has {algorithm.n_tables} table(s), "
                f"the file {record.q_values.shape[0]}"
            )
        try:
            settings, state = (
                Hyperparameters.from_data(record.hyperparameters),
                TrainingState.from_data(record.state),
            )
        except ValueError as error:
            raise ModelFileError(f"{file_format.MANIFEST}: {error}") from error
        if print_system_info:
            print(
                "== SAVED SYSTEM INFO ==",
                record.versions,
                "== CURRENT SYSTEM INFO ==",
                file_format.library_versions(),
                sep="\n",
            )
        hyperparameters = _overridden(settings.as_kwargs(), custom_objects, kwargs, algorithm.policy_aliases)
        rule_parameters = hyperparameters.pop("rule_parameters")
        if env is not None:
            env = sb3.wrap_env(algorithm, env, hyperparameters["verbose"])
            try:
                check_for_correct_spaces(env, record.observation_space, record.action_space)
            except ValueError as error:
                raise ValueError(
                    f"the env given to load() does not match the saved {algorithm.__name__}: {error}"
                ) from error
        try:
            model = algorithm(
                "TabularPolicy",
                env=env,
                device=device,
                _init_setup_model=False,
                **hyperparameters,
                **rule_parameters,
            )
        except TypeError as error:  # the abstract base named by a file
            raise ModelFileError(f"the file names {record.algorithm!r}: {error}") from None
        if env is None:
            model.observation_space, model.action_space = record.observation_space, record.action_space
            model.n_envs = state.n_envs
        model._restore(state, record)
        return model

    def _restore(self, state: TrainingState, record: ModelRecord) -> None:
        """Counters, tables and generators of a loaded model (``_setup_model`` builds the policy)."""
        self.num_timesteps = state.num_timesteps
        sb3.set_run_state(
            self, state.total_timesteps, state.episode_num, state.n_updates, state.progress_remaining
        )
        self.exploration_rate = state.exploration_rate
        self._setup_model()
        self.policy.tables[...] = record.q_values
        self.policy.visits[...] = record.visit_counts
        self._rng.setstate(state.rng_state)
        self._predict_rng.setstate(state.predict_rng_state)


def _overridden(
    hyperparameters: dict[str, Any],
    custom_objects: dict[str, Any] | None,
    overrides: dict[str, Any],
    policy_aliases: dict[str, type[BasePolicy]],
) -> dict[str, Any]:
    """Saved hyperparameters with SB3's ``custom_objects`` (unknown names ignored, as in SB3) and
    ``load``'s keyword arguments (unknown names refused) applied."""
    result = dict(hyperparameters)
    for key, value in (custom_objects or {}).items():
        if key in result:
            result[key] = value
    for key, value in overrides.items():
        if key == "policy":
            if value not in policy_aliases:
                raise ValueError(f"policy must be one of {sorted(policy_aliases)}, got {value!r}")
        elif key == "policy_kwargs":
            if value != result["policy_kwargs"]:
                raise ValueError(
                    f"The specified policy kwargs do not equal the stored policy kwargs. "
                    f"Stored kwargs: {result['policy_kwargs']}, specified kwargs: {value}"
                )
        elif key in result:
            result[key] = value
        else:
            raise ValueError(f"load() accepts as keyword arguments only {sorted(result)}, got {key!r}")
    return result


def _resolve_class(cls: type[SelfModel], name: str) -> type[SelfModel]:
    """``cls`` itself, or the subclass of ``cls`` the file names (``TabularAlgorithm.load`` dispatches)."""
    pending: list[type[SelfModel]] = [cls]
    while pending:
        candidate = pending.pop()
        if candidate.__name__ == name:
            return candidate
        pending.extend(candidate.__subclasses__())
    raise ModelFileError(
        f"the file holds a {name!r} model, which {cls.__name__}.load cannot load; use {name}.load "
        "(or TabularAlgorithm.load, which loads any tabular algorithm)"
    )
