"""Training presets in RL Zoo's YAML format, read safely, and what each key means.

A preset file (``zoo_configs/<algo>.yml``) maps exact env IDs to hyperparameters. It is read with
``yaml.safe_load``; RL Zoo's string form of ``policy_kwargs`` (``"dict(net_arch=[64, 64])"``) is
read by a restricted literal parser, never ``eval``; numbers PyYAML leaves as strings (``1e5``)
become numbers. :class:`Preset` splits a block into the run's settings (steps, envs, wrappers,
policy) and the algorithm's constructor arguments.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from qgym.files import FileFormatError, read_yaml
from qgym.training.registry import (
    TABULAR_ALGORITHMS,
    check_algorithm,
    constructor_arguments,
    nearest,
)
from qgym.validation import brief

__all__ = [
    "DEFAULTS",
    "RUN_KEYS",
    "MissingPresetError",
    "Preset",
    "PresetError",
    "default_preset_path",
    "learning_rate_schedule",
    "load_preset",
    "normalize_preset",
    "parse_hyperparams",
    "parse_literal",
    "parse_pairs",
    "resolve_preset",
]

RUN_KEYS = frozenset({"n_timesteps", "n_envs", "env_wrapper", "policy", "normalize", "frame_stack"})
"""Preset keys that configure the run (RL Zoo's names) rather than the algorithm's constructor."""
DEFAULTS: dict[str, Any] = {"n_timesteps": 100_000}
"""What trains an env that has no preset, with the algorithm's own defaults for everything else
(a table: learning rate 0.1, gamma 0.99, epsilon 1.0 to 0.05 over the first 10% of the steps)."""
# A tabular algorithm without a preset file of its own (``<algo>.yml``) reads the Q-learning presets.
_TABLES_DEFAULT_FILE = "qlearning"
# What a shipped preset file without the env's key says (by file name; dqn.yml covers every ID).
_MISSING_HINT = {
    "qlearning": " (tables are shipped only for the rungs they learn to 95% of the optimum: try --algo dqn)",
    "qrdqn": " (QR-DQN is shipped only where it beats DQN's preset: try --algo dqn)",
}
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_LINEAR = re.compile(r"^lin_(.+)$")
_INTEGER_KEYS = frozenset({"n_timesteps", "n_envs", "batch_size", "buffer_size", "learning_starts"})
_INTEGER_KEYS |= {"train_freq", "gradient_steps", "target_update_interval", "seed", "verbose"}


class PresetError(ValueError):
    """A preset file that is missing, malformed, or has no entry for the env."""


class MissingPresetError(PresetError):
    """The shipped preset file has no block for the env (see :func:`resolve_preset`)."""


@dataclass(frozen=True)
class Preset:
    """One preset block, normalized once, and what each of its keys configures.

    The run's settings are RL Zoo's keys (:data:`RUN_KEYS`); every other key is a constructor
    argument of the algorithm (``learning_rate: lin_2e-4`` stays a string in :attr:`block`, as RL Zoo
    keeps it; :meth:`constructor_kwargs` makes it a schedule).
    """

    block: dict[str, Any]

    @classmethod
    def from_block(cls, block: dict[str, Any]) -> Preset:
        """Validate and normalize a block (numbers as numbers, ``policy_kwargs`` as a dict)."""
        preset = normalize_preset(block)
        n_envs = preset.get("n_envs", 1)
        if not isinstance(n_envs, int) or isinstance(n_envs, bool) or n_envs < 1:
            raise ValueError(f"n_envs must be a positive whole number, got {n_envs!r}")
        steps = preset.get("n_timesteps")
        if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool) or steps < 1):
            raise ValueError(f"n_timesteps must be a positive whole number, got {steps!r}")
        return cls(preset)

    def with_steps(self, n_timesteps: int | None) -> Preset:
        """This preset with ``n_timesteps`` replaced (unchanged for None)."""
        return self if n_timesteps is None else Preset.from_block({**self.block, "n_timesteps": n_timesteps})

    @property
    def n_timesteps(self) -> int | None:
        steps = self.block.get("n_timesteps")
        return None if steps is None else int(steps)

    @property
    def n_envs(self) -> int:
        return int(self.block.get("n_envs", 1))

    @property
    def env_wrapper(self) -> Any:
        return self.block.get("env_wrapper")

    @property
    def policy(self) -> str | None:
        policy = self.block.get("policy")
        return None if policy is None else str(policy)

    def constructor_kwargs(self) -> dict[str, Any]:
        """The hyperparameters as the algorithm's constructor takes them (schedules built)."""
        kwargs = {key: value for key, value in self.block.items() if key not in RUN_KEYS}
        if "learning_rate" in kwargs:
            kwargs["learning_rate"] = learning_rate_schedule(kwargs["learning_rate"])
        return kwargs


def default_preset_path(algo: str) -> Path:
    """The shipped preset file of ``algo`` (``<algo>.yml``; a table without one reads ``qlearning.yml``):
    ``qgym/zoo_configs`` when installed, else the source tree's."""
    names = [f"{check_algorithm(algo)}.yml"]
    if algo in TABULAR_ALGORITHMS:
        names.append(f"{_TABLES_DEFAULT_FILE}.yml")
    for name in names:
        for folder in _preset_folders():
            candidate = folder / name
            if candidate.is_file():
                return candidate
    raise PresetError(f"no preset file {names[-1]} in {' or '.join(str(f) for f in _preset_folders())}")


def load_preset(algo: str, env_id: str, path: str | Path | None = None) -> dict[str, Any]:
    """The hyperparameters for ``env_id`` in the preset file of ``algo`` (or the file at ``path``).

    The result is a fresh dict with numbers as numbers and ``policy_kwargs`` as a dict.
    """
    check_algorithm(algo)
    file = Path(path) if path is not None else default_preset_path(algo)
    try:
        document = read_yaml(file, "preset file")
    except FileFormatError as error:
        raise PresetError(str(error)) from None
    if not isinstance(document, dict):
        raise PresetError(
            f"the preset file {file} must map env IDs to hyperparameters, got {type(document).__name__}"
        )
    if env_id not in document:
        hint = "" if path is not None else _MISSING_HINT.get(file.stem, "")
        raise (PresetError if path is not None else MissingPresetError)(
            f"the preset file {file} has no key {env_id!r}{nearest(env_id, [str(k) for k in document])}"
            f"{hint}; add a block '{env_id}:' with n_timesteps and the hyperparameters"
        )
    block = document[env_id]
    if not isinstance(block, dict):
        raise PresetError(f"the preset {env_id!r} in {file} must be a mapping, got {brief(block)}")
    try:
        return Preset.from_block(block).block
    except ValueError as error:
        raise PresetError(f"the preset {env_id!r} in {file}: {error}") from error


def resolve_preset(
    algo: str, env_id: str, path: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> tuple[Preset, str]:
    """The preset a run trains with, and a line saying where it came from.

    The env's block of ``path`` (default: the shipped file of ``algo``); when the shipped file has no
    block for the env, :data:`DEFAULTS` and the algorithm's own defaults; ``overrides`` (e.g. from
    ``--hyperparams``) replace keys of either.
    """
    try:
        block = load_preset(algo, env_id, path)
        source = f"the preset {env_id} of {path if path is not None else default_preset_path(algo).name}"
    except MissingPresetError:
        block = dict(DEFAULTS)
        file = default_preset_path(algo)
        source = (
            f"no preset for {env_id} in {file.name}{_MISSING_HINT.get(file.stem, '')}: the defaults, "
            f"{_describe_defaults(algo)} (change them with --hyperparams key:value)"
        )
    if overrides:
        block = {**block, **overrides}
        source += "; with --hyperparams " + " ".join(f"{key}:{value}" for key, value in overrides.items())
    return Preset.from_block(block), source


def _describe_defaults(algo: str) -> str:
    import inspect

    from qgym.training.registry import algorithm_class

    names = (
        "learning_rate",
        "gamma",
        "exploration_fraction",
        "exploration_initial_eps",
        "exploration_final_eps",
    )
    if algo in TABULAR_ALGORITHMS:  # a table's defaults without importing torch
        from qgym.agents.settings import Hyperparameters

        defaults = {name: getattr(Hyperparameters(), name) for name in names}
    else:
        parameters = inspect.signature(algorithm_class(algo).__init__).parameters
        defaults = {name: parameters[name].default for name in names if name in parameters}
    return ", ".join(
        [f"n_timesteps {DEFAULTS['n_timesteps']}", *(f"{key} {value}" for key, value in defaults.items())]
    )


def parse_hyperparams(pairs: list[str], algo: str) -> dict[str, Any]:
    r"""RL Zoo's ``--hyperparams key:value ...`` as a preset block: values read as literals (numbers,
    strings, lists, ``dict(...)``; a bare word like ``lin_0.01`` is a string), never ``eval``\ ed;
    every key must be a run setting, an argument of ``algo``'s constructor, or one of the slides' names
    (``alpha``, ``epsilon``, ...: :mod:`qgym.training.vocabulary`), which become the algorithm's own."""
    from qgym.training.vocabulary import ALIASES, translate_aliases, unknown_key_message

    allowed = RUN_KEYS | constructor_arguments(algo)
    block = parse_pairs(pairs, "--hyperparams", "learning_rate:0.05")
    for key in block:
        if key not in allowed and key not in ALIASES:
            raise ValueError(unknown_key_message(key, algo, allowed))
    try:
        return normalize_preset(translate_aliases(block, allowed))
    except ValueError as error:
        raise ValueError(f"--hyperparams: {error}") from None


def parse_pairs(pairs: list[str], flag: str, example: str) -> dict[str, Any]:
    r"""RL Zoo's ``key:value`` pairs (``--hyperparams``, ``--env-kwargs``) as a dict, each value read as a
    literal (:func:`parse_literal`; a bare word like ``lin_0.01`` is a string), never ``eval``\ ed."""
    block: dict[str, Any] = {}
    for pair in pairs:
        key, colon, text = pair.partition(":")
        key = key.strip()
        if not colon or not key or not text.strip():
            raise ValueError(f"{flag} takes key:value pairs (e.g. {example}), got {pair!r}")
        if key in block:
            raise ValueError(f"{flag} gives {key} twice")
        try:
            block[key] = parse_literal(text)
        except ValueError:
            if not re.fullmatch(r"[A-Za-z_][\w.+-]*", text.strip()):
                raise ValueError(f"{flag} {key}: cannot read {text!r} as a value") from None
            block[key] = text.strip()
    return block


def normalize_preset(preset: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``preset`` with numeric strings as numbers and ``policy_kwargs`` as a dict."""
    return {str(key): _clean(str(key), value) for key, value in preset.items()}


def learning_rate_schedule(value: Any) -> Any:
    """``value`` as the learning rate a model takes: RL Zoo's ``"lin_<rate>"`` becomes SB3's
    ``LinearSchedule`` from ``rate`` at the start to 0 at the end of training; numbers stay numbers."""
    if not isinstance(value, str):
        return value
    from stable_baselines3.common.utils import LinearSchedule

    return LinearSchedule(_linear_rate(value), 0.0, 1.0)


def parse_literal(text: str) -> Any:
    """Read RL Zoo's Python-literal strings like ``"dict(net_arch=[64, 64])"`` without ``eval``.

    Accepted: numbers, strings, True/False/None, lists, tuples, ``{...}`` and ``dict(key=value)``
    calls nesting them. Anything else (names, attributes, other calls, operators) is refused.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ValueError(f"cannot parse {text!r}: {error.msg}") from error
    return _literal(tree.body, text)


# --- helpers -------------------------------------------------------------------------------------


def _preset_folders() -> list[Path]:
    installed = Path(str(resources.files("qgym"))) / "zoo_configs"
    source = Path(__file__).resolve().parents[2] / "zoo_configs"
    return [installed, source]


def _clean(key: str, value: Any) -> Any:
    if key == "learning_rate" and isinstance(value, str) and not _NUMBER.match(value.strip()):
        _linear_rate(value)  # refuse a malformed schedule now; the string stays, as RL Zoo reads it
        return value.strip()
    if key == "policy_kwargs":
        if isinstance(value, str):
            value = parse_literal(value)
        if not isinstance(value, dict):
            raise ValueError(
                f"policy_kwargs must be a mapping or a string like 'dict(net_arch=[64, 64])', got {value!r}"
            )
        return {str(k): _numeric_value(str(k), v) for k, v in value.items()}
    return _numeric_value(key, value)


def _linear_rate(text: str) -> float:
    match = _LINEAR.match(text.strip())
    rate = float(match.group(1)) if match and _NUMBER.match(match.group(1)) else 0.0
    if not 0.0 < rate < float("inf"):
        raise ValueError(
            f"learning_rate must be a positive number or RL Zoo's 'lin_<rate>' (linear from <rate> to 0), "
            f"got {text!r}"
        )
    return rate


def _numeric_value(key: str, value: Any) -> Any:
    """PyYAML reads ``1e5`` as a string: make numeric strings numbers; integers where SB3 needs them."""
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        value = float(value)
    if key in _INTEGER_KEYS and isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{key} must be a whole number, got {value}")
        value = int(value)
    if key in _INTEGER_KEYS and not isinstance(value, int | list):
        raise ValueError(f"{key} must be a whole number, got {value!r}")
    return value


def _literal(node: ast.AST, text: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str | bool | type(None)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _literal(node.operand, text)
        if isinstance(operand, int | float) and not isinstance(operand, bool):
            return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.List):
        return [_literal(item, text) for item in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_literal(item, text) for item in node.elts)
    if isinstance(node, ast.Dict) and all(key is not None for key in node.keys):
        return {
            _literal(k, text): _literal(v, text) for k, v in zip(node.keys, node.values, strict=True) if k
        }
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "dict"
        and not node.args
        and all(keyword.arg is not None for keyword in node.keywords)
    ):
        return {str(keyword.arg): _literal(keyword.value, text) for keyword in node.keywords}
    raise ValueError(
        f"cannot read {ast.unparse(node)!r} in {text!r}: only numbers, strings, True/False/None, "
        "lists, tuples, {...} and dict(key=value) are allowed"
    )
