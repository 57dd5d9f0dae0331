"""Loading a saved model of any algorithm qgym trains, for the env it will play.

A model is a qgym tabular model file (``QLearning.save``), a DQN or QR-DQN zip qgym saved
(:mod:`qgym.training.network_files`), or one from a qgym 0.1.0 run folder. :func:`load_model` checks
that it fits the env and says so in a sentence when it does not; when the model's run folder records
an ``env_wrapper``, the model is loaded behind it, so it sees the observations it was trained on.
"""

from __future__ import annotations

import importlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym

from qgym.training.envs import keeps_states, wrap_env
from qgym.training.network_files import FORMAT as NETWORK_FORMAT
from qgym.training.network_files import MANIFEST, NetworkFileError, load_network_model, rebuild_network_model
from qgym.training.registry import DEEP_ALGORITHMS, check_env_kwargs, check_file_modules, split_module
from qgym.training.runs import read_run_config
from qgym.validation import brief

__all__ = [
    "LoadedModel",
    "RunEnv",
    "UnsupportedModelError",
    "env_for_model",
    "env_of_run",
    "guess_env_id",
    "load_model",
    "locate_model",
    "model_kind",
]

# The SB3 algorithms qgym loads, by class name, and the package of each.
_SB3_CLASSES = {name: module for module, name in DEEP_ALGORITHMS.values()}


@dataclass(frozen=True)
class LoadedModel:
    """A model, and the ``env_wrapper`` it was trained behind (from its run's ``config.yml``) with
    the env as the model sees it through that wrapper (None without one)."""

    model: Any
    path: Path
    env_wrapper: Any = None
    wrapped_env: gym.Env[Any, Any] | None = None


def load_model(
    path: str | Path, env: gym.Env[Any, Any] | None, env_id: str = "the env", trust_pickle: bool = False
) -> LoadedModel:
    """Load the model at ``path`` for ``env``; a ValueError names the problem (missing, not a model,
    spaces that do not match the env, a file that could run code).

    Nothing is unpickled: tables and networks saved by qgym are read from JSON and weights, networks of
    qgym 0.1.0 runs are rebuilt from their ``config.yml``. A Stable-Baselines3 zip qgym did not write is
    refused unless ``trust_pickle``, since SB3's ``load()`` runs the code its ``data`` entry may hold.
    """
    path = locate_model(path)
    kind = model_kind(path)
    config = read_run_config(path) or {}
    hyperparameters = config.get("hyperparameters")
    spec = hyperparameters.get("env_wrapper") if isinstance(hyperparameters, dict) else None
    if env is None and kind == "sb3" and isinstance(config.get("env_id"), str):
        run = env_of_run(path, trust_pickle)
        if run is not None:  # an old run's network is rebuilt for its env
            env = gym.make(run.env_id, **run.env_kwargs)
    wrapped = None
    if spec is not None and env is not None:
        if not keeps_states(spec):
            raise ValueError(
                f"the model {path} was trained behind env_wrapper {spec!r} (its config.yml), which changes "
                f"more than observations and rewards; it cannot be replayed on {env_id}"
            )
        wrapped = wrap_env(env, spec, own_rewards=True)
    target = env if wrapped is None else wrapped
    try:
        model = _load(path, kind, target, config, trust_pickle)
    except (NetworkFileError, UnsupportedModelError):
        raise
    except ValueError as error:
        raise ValueError(f"the model {path} does not fit {env_id}: {error}") from error
    return LoadedModel(model, path, spec, wrapped)


def _load(path: Path, kind: str, env: gym.Env[Any, Any] | None, config: dict[str, Any], trust: bool) -> Any:
    """The model of each kind of file, read without unpickling unless ``trust``."""
    if kind == "tabular":
        # TabularAlgorithm.load finds the file's algorithm among its subclasses: define them first.
        from qgym.agents import TabularAlgorithm, algorithms  # noqa: F401

        return TabularAlgorithm.load(path, env=env)
    if kind == "network":
        return load_network_model(path, env)
    algo = config.get("algo")
    if algo in DEEP_ALGORITHMS and env is not None and not trust:
        hyperparameters = config.get("hyperparameters")
        policy_kwargs = hyperparameters.get("policy_kwargs") if isinstance(hyperparameters, dict) else None
        return rebuild_network_model(path, str(algo), env, policy_kwargs)
    if not trust:
        raise NetworkFileError(
            f"{path} is a Stable-Baselines3 zip qgym did not write (no qgym-model.json inside, no qgym run "
            "config.yml beside it). Loading it runs any code stored in its 'data' entry (Stable-Baselines3 "
            "issue #2281), so qgym refuses; if you trust where it came from, pass --trust-pickle "
            "(trust_pickle=True)"
        )
    name = _sb3_class(path)
    return getattr(importlib.import_module(_SB3_CLASSES[name]), name).load(path, env=env, device="cpu")


def locate_model(path: str | Path) -> Path:
    """The model file at ``path``: the file itself (``.zip`` added when missing, as SB3 saves it), or the
    ``model.zip`` of a run folder."""
    path = Path(path)
    if path.is_dir():
        if (path / "model.zip").is_file():
            return path / "model.zip"
        seeds = sorted(path.glob("seed_*/model.zip"))
        if seeds:
            raise ValueError(
                f"{path} is a multi-seed run with a model per seed: give one, e.g. {seeds[0].parent} "
                "(qgym eval takes the whole run)"
            )
        raise ValueError(f"{path} is a folder without a model.zip: give a run folder or a model file")
    if path.is_file():
        return path
    if path.suffix == "" and path.with_suffix(".zip").is_file():
        return path.with_suffix(".zip")
    raise ValueError(f"no model file at {path}")


def model_kind(path: Path) -> str:
    """``"tabular"`` or ``"network"`` for the files qgym writes, ``"sb3"`` for another SB3 zip."""
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a model file (not a zip archive)")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if MANIFEST in names:
            info = archive.getinfo(MANIFEST)
            if info.file_size > 1 << 20:
                raise ValueError(f"{MANIFEST} in {path} is larger than any manifest qgym writes")
            try:
                manifest = json.loads(_entry(archive, info, path))
            except (ValueError, RecursionError) as error:
                raise ValueError(f"{MANIFEST} in {path} is not valid JSON: {error}") from None
            return (
                "network"
                if isinstance(manifest, dict) and manifest.get("format") == NETWORK_FORMAT
                else "tabular"
            )
        if "data" not in names:
            raise ValueError(f"{path} is neither a qgym model nor a Stable-Baselines3 model")
    return "sb3"


class UnsupportedModelError(ValueError):
    """A model of an algorithm qgym does not evaluate (e.g. a trusted SB3 PPO zip)."""


def _sb3_class(path: Path) -> str:
    """The SB3 class that saved a zip, from its ``data`` JSON (read as JSON, never unpickled)."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("data")
        if info.file_size > 16 << 20:
            raise ValueError(f"the data entry of {path} is larger than any SB3 model's")
        try:
            data = json.loads(_entry(archive, info, path))
        except (ValueError, RecursionError) as error:
            raise ValueError(f"the data entry of {path} is not Stable-Baselines3's JSON: {error}") from None
    policy = data.get("policy_class") if isinstance(data, dict) else None
    module = str(policy.get("__module__", "")) if isinstance(policy, dict) else ""
    for name in _SB3_CLASSES:
        if f".{name.lower()}." in module + ".":
            return name
    algorithm = _other_algorithm(module, data if isinstance(data, dict) else {})
    raise UnsupportedModelError(
        f"{algorithm or 'the algorithm that saved it'} is not an algorithm qgym evaluates ({path} was "
        f"saved by {module or 'an unknown policy'}); qgym evaluates {', '.join(_SB3_CLASSES)} and the "
        "tabular agents"
    )


# The saved settings only one SB3 / sb3-contrib algorithm has, for naming one qgym does not evaluate
# (PPO and A2C save their policy as stable_baselines3.common.policies, which names no algorithm).
_TELLING_KEYS = (
    ("top_quantiles_to_drop_per_net", "TQC"),
    ("cg_max_steps", "TRPO"),
    ("clip_range", "PPO"),
    ("target_entropy", "SAC"),
    ("policy_delay", "TD3"),
    ("n_delta", "ARS"),
    ("vf_coef", "A2C"),
)


def _other_algorithm(module: str, data: dict[str, Any]) -> str | None:
    if "recurrent" in module:
        return "RecurrentPPO"
    parts = module.split(".")
    if len(parts) > 2 and parts[0] in ("stable_baselines3", "sb3_contrib") and parts[1] != "common":
        return parts[1].upper()
    return next((name for key, name in _TELLING_KEYS if key in data), None)


def _entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> bytes:
    """An entry's bytes, or a sentence for an archive Python's zipfile cannot read (an unknown
    compression, encryption, a corrupt entry)."""
    try:
        return archive.read(info)
    except (NotImplementedError, RuntimeError, zipfile.BadZipFile, EOFError, OSError) as error:
        raise ValueError(
            f"{info.filename} in {path} cannot be read ({error}); qgym writes deflated zips"
        ) from None


@dataclass(frozen=True)
class RunEnv:
    """The env a run folder's ``config.yml`` names: its ID, the arguments it was made with
    (``env_kwargs``) and the modules that registered it (``gym_packages``)."""

    env_id: str
    env_kwargs: dict[str, Any]
    gym_packages: tuple[str, ...] = ()


def env_of_run(path: str | Path, trust: bool = False) -> RunEnv | None:
    """The env of the run whose model is at ``path`` (None without a ``config.yml`` naming one).

    A file never makes qgym import a module: an ``env_id`` written ``module:ID`` (Gymnasium's syntax) or
    a ``gym_packages`` entry is refused in a sentence naming the file and the key, unless the module is
    already imported (the person named it with ``--gym-packages``) or ``trust`` (``--trust-pickle``).
    """
    path = locate_model(path)
    config = read_run_config(path)
    if config is None or "env_id" not in config:
        return None
    where = path.parent / "config.yml"
    env_id = config["env_id"]
    if not isinstance(env_id, str):
        raise ValueError(f"{where}: env_id must be an env ID, got {brief(env_id)}")
    module, name = split_module(env_id)
    check_file_modules(config.get("gym_packages"), f"{where} (key gym_packages)", trust)
    if module is not None:
        check_file_modules([module], f"{where} (key env_id: {brief(env_id)})", trust)
    if name not in gym.registry:
        packages = config.get("gym_packages")
        how = (
            f"it was trained with --gym-packages {' '.join(packages)}: pass that again"
            if isinstance(packages, list) and packages
            else "if a module of yours registers it, name that module with --gym-packages MODULE"
        )
        raise ValueError(f"{where}: env_id {name!r} is not registered; {how}")
    kwargs = check_env_kwargs(config.get("env_kwargs"), f"{where} (key env_kwargs)")
    modules = config.get("gym_packages") or []
    return RunEnv(name, kwargs, (*modules, *([module] if module else [])))


def env_for_model(
    path: str | Path, env_id: str | None = None, env_kwargs: dict[str, Any] | None = None, trust: bool = False
) -> RunEnv:
    """The env a model plays: ``env_id`` when given, else its run's (or, for a tabular model without a
    run, the registered env whose spaces it fits); made with ``env_kwargs`` when given, else with the
    run's when it is the run's env."""
    run = env_of_run(path, trust)
    if env_id is None:
        env_id = run.env_id if run is not None else guess_env_id(path, trust)
    if env_kwargs is None:
        env_kwargs = run.env_kwargs if run is not None and run.env_id == env_id else {}
    return RunEnv(env_id, check_env_kwargs(env_kwargs), () if run is None else run.gym_packages)


def guess_env_id(path: str | Path, trust: bool = False) -> str:
    """The env a model was trained on: its run's ``config.yml`` (see :func:`env_of_run`), else (tabular
    models) the one qgym or toy-text ID whose spaces it fits."""
    path = locate_model(path)
    run = env_of_run(path, trust)
    if run is not None:
        return run.env_id
    if model_kind(path) != "tabular":
        raise ValueError(
            f"cannot tell which env {path} was trained on (no config.yml beside it): pass --env ID"
        )
    from qgym.agents.file_format import read_model_file
    from qgym.envs import qgym_env_ids
    from qgym.training.registry import TOY_TEXT_IDS

    record = read_model_file(path)
    matches = []
    for env_id in [*qgym_env_ids(), *TOY_TEXT_IDS]:
        env = gym.make(env_id)
        if env.observation_space == record.observation_space and env.action_space == record.action_space:
            matches.append(env_id)
        env.close()
    if len(matches) != 1:
        found = f"it fits {', '.join(matches)}" if matches else "no registered env has its spaces"
        raise ValueError(f"cannot tell which env {path} was trained on ({found}): pass --env ID")
    return matches[0]
