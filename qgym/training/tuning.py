"""Hyperparameter search on Optuna: ``qgym tune --algo ALGO --env ID --trials N [--storage URL]``.

Each trial trains from sampled hyperparameters and is scored as :func:`qgym.training.evaluate` judges
the model (:mod:`qgym.training.trials`): the exact % of the optimum where the env has an exact model,
else the mean return's edge over the env family's heuristic on the same seeded episodes. The study
lives in Optuna's storage (:mod:`qgym.training.study_storage`: SQLite by default, a PostgreSQL or
MySQL server, or a journal file); every trial's parameters are the algorithm's own constructor
arguments (``QLearning("TabularPolicy", env, **study.best_trial.params)`` builds the best one), and
the dashboard (``optuna-dashboard``) shows the metric's name, each trial's env, algorithm and share
of the optimum, and its learning curve (intermediate values, which ``--pruner median`` prunes on).
With ``ray_address`` the trials run as Ray tasks on a cluster while this process keeps the study.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qgym.files import FileFormatError, locked, read_yaml, write_atomically
from qgym.training.presets import PresetError, load_preset
from qgym.training.registry import DEEP_ALGORITHMS, check_algorithm, check_env_id
from qgym.training.study_storage import default_storage, open_study, printable
from qgym.training.trials import TrialSettings, TrialStoppedError, metric_name, run_trial, score_meaning

__all__ = [
    "PRUNERS",
    "TuneResult",
    "default_storage",
    "preset_block",
    "sample_hyperparameters",
    "score_meaning",
    "tune",
    "write_preset_block",
]

PRUNERS = ("none", "median")
"""``--pruner``: none, or Optuna's MedianPruner (a trial whose intermediate value falls below the
median of the earlier trials' at the same step stops, once 5 trials have finished)."""


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
    n_pruned: int = 0
    """Trials of this process that the pruner stopped early."""


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
    pruner: str = "none",
    ray_address: str | None = None,
) -> TuneResult:
    """Run ``n_trials`` trials of the study (created, or joined when it exists) and return its best block.

    ``report`` (e.g. ``print``) gets a line per finished trial with the best so far. Ctrl-C stops
    after the trial at hand: the result is then the best of the trials finished (``interrupted``).
    ``pruner`` is one of :data:`PRUNERS`; ``ray_address`` runs the trials as Ray tasks on that cluster.
    """
    import optuna

    check_algorithm(algo)
    check_env_id(env_id)
    if n_trials < 1:
        raise ValueError(f"n_trials must be a positive number, got {n_trials}")
    if pruner not in PRUNERS:
        raise ValueError(f"--pruner must be one of {', '.join(PRUNERS)}, got {pruner!r}")
    try:
        base = load_preset(algo, env_id)
    except PresetError:
        base = {}
    steps = int(n_timesteps or base.get("n_timesteps", 0) or 100_000)
    storage = storage or default_storage()
    study_name = study_name or f"{algo}-{env_id.replace('/', '-')}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruning = optuna.pruners.MedianPruner() if pruner == "median" else optuna.pruners.NopPruner()
    study = open_study(storage, study_name, pruning)  # Optuna's own default would be the median
    _describe(study, algo, env_id, steps)
    settings = TrialSettings(algo, env_id, base, steps, seed, eval_episodes)
    ours: list[Any] = []  # the trials this process ran, as they ended
    say = _reporter(report, ours)
    interrupted = False
    if ray_address is not None:
        from qgym.training.ray_trials import run_trials_on_ray

        interrupted = run_trials_on_ray(
            ray_address,
            study,
            settings,
            n_trials,
            lambda trial: sample_hyperparameters(algo, trial),
            say,
            report or (lambda line: None),
        )
    else:
        try:
            study.optimize(_objective(settings), n_trials=n_trials, callbacks=[say])
        except KeyboardInterrupt:
            interrupted = True
    states = optuna.trial.TrialState
    finished = [t for t in study.trials if t.state == states.COMPLETE]
    if not finished:
        raise KeyboardInterrupt if interrupted else ValueError(f"no trial of the study {study_name} finished")
    best = {**base, **study.best_trial.params, "n_timesteps": steps}
    done = sum(1 for t in ours if t.state == states.COMPLETE)
    pruned = sum(1 for t in ours if t.state == states.PRUNED)
    label = printable(storage)
    return TuneResult(
        study_name, label, done, float(study.best_value), preset_block(best), interrupted, pruned
    )


def sample_hyperparameters(algo: str, trial: Any) -> dict[str, Any]:
    """Hyperparameters of ``algo`` drawn by an Optuna ``trial``: each one a keyword argument of the
    algorithm's constructor under its own name and value, so ``trial.params`` builds the model. The
    network's shape (``policy_kwargs``) is the preset's: Optuna stores numbers and strings only."""
    if algo in DEEP_ALGORITHMS:
        return {
            "learning_rate": trial.suggest_float("learning_rate", 1e-4, 3e-3, log=True),
            "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128]),
            "gamma": trial.suggest_categorical("gamma", [0.95, 0.99, 0.995]),
            "train_freq": trial.suggest_categorical("train_freq", [1, 4]),
            "target_update_interval": trial.suggest_categorical(
                "target_update_interval", [250, 500, 1000, 2000]
            ),
            "exploration_fraction": trial.suggest_float("exploration_fraction", 0.1, 0.5),
            "exploration_final_eps": trial.suggest_float("exploration_final_eps", 0.01, 0.1),
        }
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-3, 0.5, log=True),
        "gamma": trial.suggest_categorical("gamma", [0.9, 0.95, 0.99, 1.0]),
        "exploration_fraction": trial.suggest_float("exploration_fraction", 0.05, 0.8),
        "exploration_final_eps": trial.suggest_float("exploration_final_eps", 0.01, 0.2),
        "visit_decay": trial.suggest_categorical("visit_decay", [None, 0.6, 0.8, 1.0]),  # None: off
    }


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


def _objective(settings: TrialSettings) -> Callable[[Any], float]:
    """Optuna's objective: sample, train reporting the intermediate values, score; pruned on request."""
    import optuna

    def objective(trial: Any) -> float:
        hyperparameters = sample_hyperparameters(settings.algo, trial)

        def report(step: int, value: float) -> bool:
            trial.report(value, step)
            return bool(trial.should_prune())

        try:
            score = run_trial(settings, hyperparameters, trial.number, report)
        except TrialStoppedError as stop:
            raise optuna.TrialPruned(str(stop)) from None
        for key, value in score.attributes.items():
            trial.set_user_attr(key, value)
        return score.value

    return objective


def _describe(study: Any, algo: str, env_id: str, steps: int) -> None:
    """Name the study's metric and what it tunes (the dashboard shows both); refuse a study of another
    algorithm or env, whose trials this one's would be ranked against."""
    import optuna

    known = study.user_attrs
    for key, value in (("algo", algo), ("env_id", env_id)):
        if key in known and known[key] != value:
            raise ValueError(
                f"the study {study.study_name!r} tunes {known.get('algo')} on {known.get('env_id')}, not "
                f"{algo} on {env_id}: name another --study-name"
            )
    study.set_user_attr("algo", algo)
    study.set_user_attr("env_id", env_id)
    study.set_user_attr("score", score_meaning(env_id))
    study.set_user_attr("n_timesteps", steps)
    with warnings.catch_warnings():  # experimental since Optuna 3.2, and what the dashboard reads
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([metric_name(env_id)])


def _reporter(report: Callable[[str], None] | None, ended: list[Any]) -> Callable[[Any, Any], None]:
    """A line per finished trial (Optuna's callback signature): its score or where it was pruned. Each
    trial goes to ``ended`` too."""
    import optuna

    started = time.perf_counter()

    def tell(study: Any, trial: Any) -> None:
        ended.append(trial)
        if report is None:
            return
        elapsed = f"{time.perf_counter() - started:.0f} s"
        if trial.state == optuna.trial.TrialState.PRUNED:
            step = trial.last_step
            where = "" if step is None else f" at step {step:,} ({trial.intermediate_values[step]:.2f})"
            report(
                f"trial {trial.number}: pruned{where}, below the median of the trials before it; {elapsed}"
            )
            return
        if trial.value is None:
            report(f"trial {trial.number}: {trial.state.name.lower()}; {elapsed}")
            return
        best = study.best_trial
        report(
            f"trial {trial.number}: score {trial.value:.2f}; best so far {best.value:.2f} "
            f"(trial {best.number}); {elapsed}"
        )

    return tell
