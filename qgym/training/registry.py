"""The algorithms and envs the training interface knows, by name, and each name checked once.

``check_algorithm`` and ``check_env_id`` turn a typo into a sentence with the nearest names; the
rest of :mod:`qgym.training` takes names these have accepted.

A user's own env arrives as Gymnasium and RL Zoo bring it: ``--gym-packages mytoy`` (modules imported
to register their envs) or ``--env mytoy:MyToy-v0``. Importing a module runs its code, so a module is
imported only when the person names it on the command line (:func:`import_gym_packages`,
:func:`user_env_id`); a module named in a file (a run's ``config.yml``) is never imported unless they
pass the flag that trusts files (:func:`check_file_modules`).
"""

from __future__ import annotations

import difflib
import importlib
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import gymnasium as gym

from qgym.agents.rules import RULES
from qgym.validation import brief

__all__ = [
    "ALGORITHMS",
    "DEEP_ALGORITHMS",
    "TABULAR_ALGORITHMS",
    "TOY_TEXT_IDS",
    "algorithm_class",
    "check_algorithm",
    "check_env_id",
    "check_env_kwargs",
    "check_file_modules",
    "constructor_arguments",
    "import_gym_packages",
    "nearest",
    "split_module",
    "user_env_id",
]

TABULAR_ALGORITHMS = {name: rule.algorithm for name, rule in RULES.items()}
"""The tabular agents of :mod:`qgym.agents` (one per rule of :mod:`qgym.agents.rules`), by the name
``--algo`` takes."""

DEEP_ALGORITHMS = {"dqn": ("qgym.deep", "DQN"), "qrdqn": ("qgym.deep", "QRDQN")}
"""Neural algorithms: SB3's DQN and sb3-contrib's QR-DQN (a DQN that learns quantiles of the return)
on qgym's fast loop (:mod:`qgym.deep`: the same classes, hyperparameters and files), each with the
package that holds it."""

ALGORITHMS = (*TABULAR_ALGORITHMS, *DEEP_ALGORITHMS)

TOY_TEXT_IDS = ("FrozenLake-v1", "FrozenLake8x8-v1", "Taxi-v4", "CliffWalking-v1")
"""Gymnasium's envs with an exact model (toy-text ``P``) that qgym ships presets for."""


def check_algorithm(algo: str) -> str:
    """``algo`` itself when known, else a ValueError listing the algorithms and the nearest match."""
    if algo in ALGORITHMS:
        return algo
    raise ValueError(
        f"unknown algorithm {algo!r}{nearest(algo, ALGORITHMS)}; choose one of {', '.join(ALGORITHMS)}"
    )


def check_env_id(env_id: str) -> str:
    """``env_id`` when registered, else a ValueError naming the nearest registered IDs."""
    import qgym.envs  # noqa: F401  (registers the qgym IDs)

    if env_id in gym.registry:
        return env_id
    raise ValueError(
        f"unknown env ID {env_id!r}{nearest(env_id, gym.registry, 0.5)}; 'qgym list' shows the qgym IDs"
    )


def split_module(env_id: str) -> tuple[str | None, str]:
    """Gymnasium's ``"module:ID"`` as (module, ID); (None, ID) without a module."""
    module, colon, name = env_id.partition(":")
    return (module, name) if colon else (None, env_id)


def import_gym_packages(modules: Sequence[str], flag: str = "--gym-packages") -> list[str]:
    """Import the modules a person named on the command line (RL Zoo's ``--gym-packages``: each
    registers its envs when imported); a ValueError says which failed and why. Returns the names."""
    for module in modules:
        _check_module_name(module, flag)
        problem = _import(module)
        if problem:
            raise ValueError(f"{flag} {module}: {problem}")
    return list(modules)


def user_env_id(text: str, flag: str = "--env") -> tuple[str, list[str]]:
    """An env ID the person typed, Gymnasium's ``module:ID`` allowed: the module is imported (they named
    it) and the ID checked. Returns the ID without the module, and the module in a list (or none)."""
    module, env_id = split_module(text)
    if module is None:
        return check_env_id(env_id), []
    _check_module_name(module, f"{flag} {text}")
    problem = _import(module)
    if problem:
        raise ValueError(f"{flag} {text}: {problem}")
    if env_id not in gym.registry:
        close = nearest(env_id, gym.registry, 0.5)
        raise ValueError(f"{flag} {text}: importing {module} did not register {env_id!r}{close}")
    return env_id, [module]


def check_file_modules(modules: Any, where: str, trust: bool = False) -> list[str]:
    """The modules a file names (a run's ``gym_packages``, the module of a ``module:ID``), refused in a
    sentence naming the file unless each is already imported (the person named it with
    ``--gym-packages``, or imported it in their own script) or ``trust`` says to import them."""
    if modules is None:
        return []
    if not isinstance(modules, list) or not all(isinstance(module, str) for module in modules):
        raise ValueError(f"{where} must list module names, got {brief(modules)}")
    missing = [module for module in modules if module not in sys.modules]
    if missing and not trust:
        names = " ".join(missing)
        raise ValueError(
            f"{where} names the module{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}, "
            "which qgym would have to import to make the env; a module named in a file is never imported "
            f"(importing runs its code). If you trust it, name it yourself: --gym-packages {names} "
            "(or pass --trust-pickle)"
        )
    for module in missing:  # trusted: the person passed --trust-pickle
        _check_module_name(module, where)
        problem = _import(module)
        if problem:
            raise ValueError(f"{where}: module {module}: {problem}")
    return list(modules)


def check_env_kwargs(kwargs: Any, where: str = "--env-kwargs") -> dict[str, Any]:
    """RL Zoo's ``env_kwargs``: a mapping of argument names to plain values (numbers, strings,
    True/False/None, lists, mappings), passed to ``gym.make``; a ValueError names ``where``."""
    if kwargs is None:
        return {}
    if not isinstance(kwargs, dict):
        raise ValueError(f"{where} must map argument names to values, got {brief(kwargs)}")
    for key, value in kwargs.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise ValueError(f"{where}: {brief(key)} is not an argument name")
        if key == "render_mode":
            raise ValueError(f"{where}: render_mode is set by each command (play and enjoy draw frames)")
        if not _plain(value):
            raise ValueError(
                f"{where}: {key} must be plain data (numbers, strings, lists), got {brief(value)}"
            )
    return dict(kwargs)


def algorithm_class(algo: str) -> Any:
    """The class of ``algo`` (imported on first use: torch and SB3 are heavy)."""
    import importlib

    if algo in DEEP_ALGORITHMS:
        module, name = DEEP_ALGORITHMS[algo]
        return getattr(importlib.import_module(module), name)
    from qgym.agents.algorithms import algorithm_class as tabular_class

    return tabular_class(check_algorithm(algo))


def constructor_arguments(algo: str) -> frozenset[str]:
    """The keyword arguments ``algo``'s constructor takes, but for the policy, the env and private ones
    (a table's without importing it: the shared hyperparameters and its rule's own)."""
    import inspect

    if algo in TABULAR_ALGORITHMS:
        from dataclasses import fields

        from qgym.agents.settings import Hyperparameters

        shared = {field.name for field in fields(Hyperparameters)} - {"rule_parameters"}
        own = {parameter.name for parameter in RULES[algo].parameters}
        return frozenset(shared | own | {"device"})
    parameters = inspect.signature(algorithm_class(algo).__init__).parameters
    return frozenset(
        name
        for name, parameter in parameters.items()
        if name not in {"self", "policy", "env"}
        and not name.startswith("_")
        and parameter.kind is not inspect.Parameter.VAR_KEYWORD
    )


_MODULE_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def _import(module: str) -> str:
    """Import ``module``; what went wrong in words, or an empty string."""
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is not None and (module + ".").startswith(error.name + "."):
            return (
                f"there is no module {error.name!r} to import (install it, or put the folder that holds it "
                "on PYTHONPATH)"
            )
        return f"importing {module} failed: {error}"
    except Exception as error:  # the user's own code: whatever it raises becomes a sentence
        return f"importing {module} failed: {type(error).__name__}: {error}"
    return ""


def _check_module_name(module: Any, flag: str) -> None:
    if not isinstance(module, str) or not _MODULE_NAME.match(module):
        raise ValueError(
            f"{flag}: {brief(module)} is not a module name (dotted Python names, e.g. mytoy.envs)"
        )


def _plain(value: Any, depth: int = 0) -> bool:
    """Numbers, strings, True/False/None and lists or mappings of them, nested at most 8 deep."""
    if depth > 8:
        return False
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list | tuple):
        return all(_plain(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    return False


def nearest(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """`` (did you mean 'a' or 'b'?)`` for the choices close to ``word``, else an empty string."""
    matches = difflib.get_close_matches(word, list(choices), n=3, cutoff=cutoff)
    return f" (did you mean {' or '.join(repr(m) for m in matches)}?)" if matches else ""
