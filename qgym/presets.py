"""Training presets in RL Zoo's YAML format, read safely.

A preset file (``zoo_configs/<algo>.yml``) maps exact env IDs to hyperparameters. It is read with
``yaml.safe_load``; RL Zoo's string form of ``policy_kwargs`` (``"dict(net_arch=[64, 64])"``) is
read by a restricted literal parser, never ``eval``; numbers PyYAML leaves as strings (``1e5``)
become numbers.
"""

from __future__ import annotations

import ast
import difflib
import re
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "ALGORITHMS",
    "DEEP_ALGORITHMS",
    "PresetError",
    "default_preset_path",
    "learning_rate_schedule",
    "load_preset",
    "normalize_preset",
    "parse_literal",
]

ALGORITHMS = ("qlearning", "sarsa", "expected_sarsa", "double_qlearning", "dqn", "qrdqn")
# Neural algorithms: SB3's DQN and sb3-contrib's QR-DQN (a DQN that learns quantiles of the return).
DEEP_ALGORITHMS = ("dqn", "qrdqn")
# Tabular algorithms without a preset file of their own use the Q-learning presets.
_PRESET_FILE = {"sarsa": "qlearning", "expected_sarsa": "qlearning", "double_qlearning": "qlearning"}
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


def check_algorithm(algo: str) -> str:
    """``algo`` itself when known, else a ValueError listing the algorithms and the nearest match."""
    if algo in ALGORITHMS:
        return algo
    raise ValueError(
        f"unknown algorithm {algo!r}{_near(algo, ALGORITHMS)}; choose one of {', '.join(ALGORITHMS)}"
    )


def default_preset_path(algo: str) -> Path:
    """The shipped preset file of ``algo``: ``qgym/zoo_configs`` when installed, else the source tree's."""
    name = f"{_PRESET_FILE.get(check_algorithm(algo), algo)}.yml"
    for folder in _preset_folders():
        candidate = folder / name
        if candidate.is_file():
            return candidate
    raise PresetError(f"no preset file {name} in {' or '.join(str(f) for f in _preset_folders())}")


def load_preset(algo: str, env_id: str, path: str | Path | None = None) -> dict[str, Any]:
    """The hyperparameters for ``env_id`` in the preset file of ``algo`` (or the file at ``path``).

    The result is a fresh dict with numbers as numbers and ``policy_kwargs`` as a dict.
    """
    import yaml

    check_algorithm(algo)
    file = Path(path) if path is not None else default_preset_path(algo)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise PresetError(f"cannot read the preset file {file}: {error.strerror or error}") from error
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise PresetError(f"the preset file {file} is not valid YAML: {error}") from error
    if not isinstance(document, dict):
        raise PresetError(
            f"the preset file {file} must map env IDs to hyperparameters, got {type(document).__name__}"
        )
    if env_id not in document:
        hint = "" if path is not None else _MISSING_HINT.get(file.stem, "")
        raise PresetError(
            f"the preset file {file} has no key {env_id!r}{_near(env_id, [str(k) for k in document])}"
            f"{hint}; add a block '{env_id}:' with n_timesteps and the hyperparameters"
        )
    block = document[env_id]
    if not isinstance(block, dict):
        raise PresetError(f"the preset {env_id!r} in {file} must be a mapping, got {block!r}")
    try:
        return normalize_preset(block)
    except ValueError as error:
        raise PresetError(f"the preset {env_id!r} in {file}: {error}") from error


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
    source = Path(__file__).resolve().parent.parent / "zoo_configs"
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
        return {str(k): _number(str(k), v) for k, v in value.items()}
    return _number(key, value)


def _linear_rate(text: str) -> float:
    match = _LINEAR.match(text.strip())
    rate = float(match.group(1)) if match and _NUMBER.match(match.group(1)) else 0.0
    if not 0.0 < rate < float("inf"):
        raise ValueError(
            f"learning_rate must be a positive number or RL Zoo's 'lin_<rate>' (linear from <rate> to 0), "
            f"got {text!r}"
        )
    return rate


def _number(key: str, value: Any) -> Any:
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


def _near(word: str, choices: Any) -> str:
    matches = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(m) for m in matches)}?)" if matches else ""
