"""Hyperparameter search on Optuna: ``qgym tune --algo ALGO --env ID --trials N [--storage URL]``.

Each trial trains from sampled hyperparameters and scores the result as
:func:`qgym.training.evaluate` does: the exact % of the optimum where the env has an exact model, else
the mean return's edge over the env family's heuristic on the same seeded episodes (so
trials with different seeds are not ranked by the luck of their episodes), else the mean return. The
study lives in Optuna's storage: an embedded SQLite file by default; a PostgreSQL or MySQL URL lets
processes on many machines share one study (Optuna's RDB storage: nothing home-made).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qgym.files import FileFormatError, locked, read_yaml, write_atomically
from qgym.training.evaluation import evaluate
from qgym.training.presets import PresetError, load_preset
from qgym.training.registry import DEEP_ALGORITHMS, check_algorithm, check_env_id
from qgym.training.train import make_model

__all__ = [
    "TuneResult",
    "default_storage",
    "preset_block",
    "sample_hyperparameters",
    "score_meaning",
    "tune",
    "write_preset_block",
]

# Options of the categorical choices, as Optuna stores them (strings and numbers only).
_NET_ARCHS = {"64": [64], "64-64": [64, 64], "128-128": [128, 128], "256-256": [256, 256]}
_VISIT_DECAY_OFF = 0.0


@dataclass(frozen=True)
class TuneResult:
    """The study after this process's trials: its best score and the preset block it suggests."""

    study_name: str
    storage: str
    n_trials_done: int
    best_value: float
    best_block: dict[str, Any]
    interrupted: bool = False
    """Ctrl-C stopped the search; the best block is the best of the trials finished."""


def default_storage(folder: str | Path = ".") -> str:
    """An embedded SQLite file, ``qgym-tune.db`` in ``folder``."""
    return f"sqlite:///{(Path(folder) / 'qgym-tune.db').resolve()}"


def tune(
    algo: str,
    env_id: str,
    n_trials: int,
    *,
    storage: str | None = None,
    study_name: str | None = None,
    n_timesteps: int | None = None,
    eval_episodes: int = 20,
    seed: int = 0,
    report: Callable[[str], None] | None = None,
) -> TuneResult:
    """Run ``n_trials`` trials of the study (created, or joined when it exists) and return its best block.

    ``report`` (e.g. ``print``) gets a line per finished trial with the best so far. Ctrl-C stops
    after the trial at hand: the result is then the best of the trials finished (``interrupted``).
    """
    import optuna

    check_algorithm(algo)
    check_env_id(env_id)
    if n_trials < 1:
        raise ValueError(f"n_trials must be a positive number, got {n_trials}")
    try:
        base = load_preset(algo, env_id)
    except PresetError:
        base = {}
    steps = int(n_timesteps or base.get("n_timesteps", 0) or 100_000)
    storage = storage or default_storage()
    study_name = study_name or f"{algo}-{env_id.replace('/', '-')}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = _open_study(storage, study_name)
    first_number = len(study.trials)

    def objective(trial: Any) -> float:
        hyperparameters = {**base, **sample_hyperparameters(algo, trial), "n_timesteps": steps}
        return _score(algo, env_id, hyperparameters, seed + trial.number, eval_episodes)

    started = time.perf_counter()

    def tell(study: Any, trial: Any) -> None:
        if report is None or trial.value is None:
            return
        best = study.best_trial
        report(
            f"trial {trial.number}: score {trial.value:.2f}; best so far {best.value:.2f} "
            f"(trial {best.number}); {time.perf_counter() - started:.0f} s"
        )

    interrupted = False
    try:
        study.optimize(objective, n_trials=n_trials, callbacks=[tell])
    except KeyboardInterrupt:
        interrupted = True
    finished = [t for t in study.trials if t.value is not None]
    if not finished:
        raise KeyboardInterrupt if interrupted else ValueError(f"no trial of the study {study_name} finished")
    best = {**base, **_from_params(study.best_trial.params), "n_timesteps": steps}
    done = sum(1 for t in finished if t.number >= first_number)
    return TuneResult(study_name, storage, done, float(study.best_value), preset_block(best), interrupted)


def score_meaning(env_id: str) -> str:
    """What a trial's score is on ``env_id``, in words."""
    from qgym.training.evaluation import exact_optimum

    if exact_optimum(env_id) is not None:
        return "the greedy policy's exact return as % of the exact optimum"
    return (
        "the mean return's edge over the env family's heuristic on the same episodes (else the mean return)"
    )


def sample_hyperparameters(algo: str, trial: Any) -> dict[str, Any]:
    """Hyperparameters of ``algo`` drawn by an Optuna ``trial``, ready for the model's constructor."""
    if algo in DEEP_ALGORITHMS:
        params = {
            "learning_rate": trial.suggest_float("learning_rate", 1e-4, 3e-3, log=True),
            "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128]),
            "gamma": trial.suggest_categorical("gamma", [0.95, 0.99, 0.995]),
            "train_freq": trial.suggest_categorical("train_freq", [1, 4]),
            "target_update_interval": trial.suggest_categorical(
                "target_update_interval", [250, 500, 1000, 2000]
            ),
            "exploration_fraction": trial.suggest_float("exploration_fraction", 0.1, 0.5),
            "exploration_final_eps": trial.suggest_float("exploration_final_eps", 0.01, 0.1),
            "net_arch": trial.suggest_categorical("net_arch", list(_NET_ARCHS)),
        }
        if algo == "qrdqn":
            params["n_quantiles"] = trial.suggest_categorical("n_quantiles", [25, 50, 100, 200])
    else:
        params = {
            "learning_rate": trial.suggest_float("learning_rate", 1e-3, 0.5, log=True),
            "gamma": trial.suggest_categorical("gamma", [0.9, 0.95, 0.99, 1.0]),
            "exploration_fraction": trial.suggest_float("exploration_fraction", 0.05, 0.8),
            "exploration_final_eps": trial.suggest_float("exploration_final_eps", 0.01, 0.2),
            "visit_decay": trial.suggest_categorical("visit_decay", [_VISIT_DECAY_OFF, 0.6, 0.8, 1.0]),
        }
    return _from_params(params)


def preset_block(hyperparameters: dict[str, Any]) -> dict[str, Any]:
    """Hyperparameters as a preset block RL Zoo reads too (``policy_kwargs`` in its string form)."""
    block = dict(hyperparameters)
    kwargs = block.get("policy_kwargs")
    if isinstance(kwargs, dict):
        pairs = ", ".join(f"{key}={value!r}" for key, value in kwargs.items())
        block["policy_kwargs"] = f"dict({pairs})"
    return block


def write_preset_block(path: str | Path, env_id: str, block: dict[str, Any]) -> None:
    """Put ``block`` under ``env_id`` in the preset file at ``path`` (created, or updated).

    Processes writing the same file take turns (a lock beside it), and each write replaces the file in
    one rename: a concurrent writer's block is never lost, a full disk never leaves half a file.
    """
    import yaml

    file = Path(path)
    with locked(file):
        document: dict[str, Any] = {}
        if file.is_file():
            try:
                loaded = read_yaml(file, "preset file")
            except FileFormatError as error:
                raise PresetError(f"{error}, so the block was not added") from None
            if loaded is not None and not isinstance(loaded, dict):
                raise PresetError(
                    f"{file} is not a preset file (a mapping of env IDs), so the block was not added"
                )
            document = dict(loaded or {})
        document[env_id] = block
        write_atomically(file, yaml.safe_dump(document, sort_keys=False).encode("utf-8"))


def check_writable(path: str | Path) -> None:
    """A ValueError naming ``path`` unless a preset file can be written there (checked before tuning)."""
    file = Path(path)
    folder = file.parent if str(file.parent) else Path(".")
    if file.is_dir():
        raise ValueError(f"--out {file} is a folder; name a preset file, e.g. {file / 'tuned.yml'}")
    if not folder.is_dir():
        raise ValueError(f"--out {file}: the folder {folder} does not exist")
    probe = folder / f".{file.name}.write-test"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise ValueError(f"--out {file} cannot be written: {error.strerror or error}") from None


# --- helpers -------------------------------------------------------------------------------------


def _open_study(storage: str, study_name: str, attempts: int = 10) -> Any:
    """Create or join the study; processes starting together on a fresh database race to create its
    tables and the study, and the losers retry (Optuna's own schema setup is not race-free)."""
    import optuna
    import sqlalchemy.exc

    for attempt in range(attempts):
        try:
            return optuna.create_study(
                storage=storage, study_name=study_name, direction="maximize", load_if_exists=True
            )
        except ImportError as error:  # the database's driver
            raise ValueError(
                f"--storage {_without_password(storage)} needs a database driver that is not installed "
                f"({error.name}); for PostgreSQL: pip install 'psycopg[binary]'"
            ) from None
        except (sqlalchemy.exc.ArgumentError, ValueError) as error:
            raise ValueError(
                f"--storage {_without_password(storage)} is not a storage URL Optuna reads: {error}"
            ) from None
        except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.DuplicatedStudyError) as error:
            if attempt == attempts - 1:
                raise ValueError(
                    f"cannot open the study {study_name!r} in {_without_password(storage)}: "
                    f"{' '.join(str(error).split())[:300]}"
                ) from None
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _without_password(url: str) -> str:
    """A storage URL safe to print: ``postgresql://user:***@host/db``."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not (sep and at and ":" in credentials):
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"


def _from_params(params: dict[str, Any]) -> dict[str, Any]:
    """Optuna's stored parameters as constructor keyword arguments."""
    result = dict(params)
    if "net_arch" in result:
        result["policy_kwargs"] = {"net_arch": list(_NET_ARCHS[str(result.pop("net_arch"))])}
    if "n_quantiles" in result:
        result.setdefault("policy_kwargs", {})["n_quantiles"] = int(result.pop("n_quantiles"))
    if "visit_decay" in result and result["visit_decay"] == _VISIT_DECAY_OFF:
        result["visit_decay"] = None
    return result


def _score(algo: str, env_id: str, hyperparameters: dict[str, Any], seed: int, episodes: int) -> float:
    """Train once; the % of the optimum where known, else the edge over the heuristic, else the mean."""
    from stable_baselines3.common.logger import Logger

    steps = int(hyperparameters["n_timesteps"])
    model = make_model(algo, env_id, hyperparameters, seed)
    model.set_logger(Logger(folder=None, output_formats=[]))
    model.learn(steps)
    evaluation = evaluate(
        model, env_id, episodes, seed=seed + 10_000, env_wrapper=hyperparameters.get("env_wrapper")
    )
    percent = evaluation.percent_of_optimum
    if percent is not None:
        return float(percent)
    if evaluation.heuristic_return is not None:
        return evaluation.mean_return - evaluation.heuristic_return
    return evaluation.mean_return
