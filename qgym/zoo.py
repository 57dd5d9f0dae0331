"""RL Zoo with qgym's tabular algorithms: ``python -m qgym.zoo train --algo qlearning --env ID ...``.

The arguments after ``train`` (or ``enjoy``) are RL Zoo's own, e.g.::

    python -m qgym.zoo train --algo qlearning --env qgym/Trading-Chain-v0 --gym-packages qgym \\
        -conf zoo_configs/qlearning.yml

RL Zoo keeps one ``ALGOS`` dict for train, enjoy and its callbacks; this module adds qlearning,
sarsa, expected_sarsa and double_qlearning to it, then hands over. Nothing that ``import qgym``
loads imports this module: ``import rl_zoo3`` patches Gymnasium's ``TimeLimit`` globally.

RL Zoo reads a preset file with ``yaml.UnsafeLoader``, ``eval``s its ``policy_kwargs`` strings and
``-params`` values, and imports whatever its ``env_wrapper``, ``callback`` and ``vec_env_wrapper``
name. So before handing over, this module reads the ``-conf`` block of the env with qgym's own safe
reader and refuses what ``qgym train`` refuses: YAML tags, code where a literal belongs, a wrapper
outside qgym's allow-list, callbacks by name.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["check_arguments", "main", "register_algorithms"]

_COMMANDS = ("train", "enjoy")


def register_algorithms() -> None:
    """Add the tabular algorithms to RL Zoo's ``ALGOS`` (needs ``pip install 'qgym[zoo]'``)."""
    try:
        from rl_zoo3 import ALGOS
    except ImportError:
        raise SystemExit("python -m qgym.zoo needs RL Zoo: pip install 'qgym[zoo]'") from None
    from qgym.training.registry import TABULAR_ALGORITHMS, algorithm_class

    ALGOS.update({name: algorithm_class(name) for name in TABULAR_ALGORITHMS})


def check_arguments(arguments: Sequence[str]) -> None:
    """Refuse, in a sentence, RL Zoo arguments that would run code from a file or a string: the
    ``-conf`` file's block for ``--env`` and the ``-params`` values must be plain data qgym reads, and
    what RL Zoo imports by name (``env_wrapper``, ``callback``, ``vec_env_wrapper``, a dotted
    ``policy``) must be in qgym's allow-list or absent, wherever it is written."""
    from qgym.files import read_yaml
    from qgym.training.presets import parse_literal
    from qgym.training.registry import TABULAR_ALGORITHMS

    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--algo")
    parser.add_argument("--env")
    parser.add_argument("-conf", "--conf-file")
    parser.add_argument("-params", "--hyperparams", nargs="+", default=[])
    parser.add_argument("--env-kwargs", nargs="+", default=[])
    parser.add_argument("--eval-env-kwargs", nargs="+", default=[])
    parser.add_argument("-i", "--trained-agent", default="")
    parser.add_argument("-optimize", "--optimize-hyperparameters", action="store_true")
    known, _ = parser.parse_known_args(list(arguments))
    if known.optimize_hyperparameters and known.algo in TABULAR_ALGORITHMS:
        raise ValueError(
            f"RL Zoo has no sampler for {known.algo}: tune it with qgym's own Optuna search, "
            f"qgym tune --algo {known.algo} --env {known.env or 'ID'} --trials N"
        )
    if known.trained_agent:
        raise ValueError(
            f"--trained-agent {known.trained_agent}: RL Zoo would load it with Stable-Baselines3's load(), "
            "which runs any code stored in the zip; continue a qgym model in Python instead "
            "(QLearning.load(path, env).learn(...))"
        )
    params: dict[str, object] = {}
    for flag, pairs in (
        ("-params", known.hyperparams),
        ("--env-kwargs", known.env_kwargs),
        ("--eval-env-kwargs", known.eval_env_kwargs),
    ):
        for pair in pairs:
            key, _, value = str(pair).partition(":")
            try:
                literal = parse_literal(value)
            except ValueError as error:
                raise ValueError(
                    f"{flag} {key}: RL Zoo would eval {value!r}; qgym allows literals only ({error})"
                ) from None
            if flag == "-params":
                params[key] = literal
    if params:
        _check_block(params, "-params")
    if known.conf_file is None and known.algo in TABULAR_ALGORITHMS:
        from qgym.training.presets import default_preset_path

        shipped = default_preset_path(known.algo)
        raise ValueError(f"RL Zoo ships no presets for {known.algo}: give qgym's with -conf {shipped}")
    if known.conf_file is None:
        return
    if not str(known.conf_file).endswith((".yml", ".yaml")):
        raise ValueError(
            f"-conf {known.conf_file}: RL Zoo runs a .py file or imports a package given there; qgym.zoo "
            "takes a YAML preset file (.yml)"
        )
    if known.env is None:
        return
    document = read_yaml(known.conf_file, "RL Zoo preset file")
    block = document.get(known.env) if isinstance(document, dict) else None
    if block is None:
        return  # RL Zoo says that the env has no preset
    if not isinstance(block, dict):
        raise ValueError(f"the preset {known.env!r} in {known.conf_file} must be a mapping")
    _check_block({**block, **params}, f"the preset {known.env!r} in {known.conf_file}")


_IMPORTED_BY_NAME = ("callback", "vec_env_wrapper")
# Keys RL Zoo passes to eval() when their value is a string.
_EVALUATED = ("policy_kwargs", "replay_buffer_class", "replay_buffer_kwargs", "monitor_kwargs", "normalize")


def _check_block(block: dict[str, object], where: str) -> None:
    """A preset block as RL Zoo would use it: refused when RL Zoo would import or eval part of it."""
    from qgym.training.envs import check_env_wrapper
    from qgym.training.presets import Preset, parse_literal

    for key in _IMPORTED_BY_NAME:
        if key in block:
            raise ValueError(f"{where} names a {key}; RL Zoo would import it by name, so qgym refuses")
    policy = block.get("policy")
    if isinstance(policy, str) and "." in policy:
        raise ValueError(
            f"{where}: policy {policy!r} is a dotted name RL Zoo would import; use a policy name such as "
            "MlpPolicy"
        )
    for key in _EVALUATED:
        value = block.get(key)
        if isinstance(value, str) and key != "policy_kwargs":
            try:
                parse_literal(value)
            except ValueError as error:
                raise ValueError(f"{where}: {key}: RL Zoo would eval {value!r} ({error})") from None
            if key == "replay_buffer_class":
                raise ValueError(f"{where}: replay_buffer_class {value!r} would be evaluated to a class")
    try:
        preset = Preset.from_block(dict(block))
        check_env_wrapper(preset.env_wrapper)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rl_zoo3.train`` or ``rl_zoo3.enjoy`` with ``argv[1:]``, the tabular algorithms added."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in _COMMANDS:
        print(f"usage: python -m qgym.zoo {{{','.join(_COMMANDS)}}} [RL Zoo arguments]", file=sys.stderr)
        return 2
    try:
        check_arguments(args[1:])
    except ValueError as error:
        print(f"python -m qgym.zoo {args[0]}: error: {error}", file=sys.stderr)
        return 2
    register_algorithms()
    command, rest = args[0], args[1:]
    sys.argv = [f"rl_zoo3.{command}", *rest]
    if command == "train":
        from rl_zoo3.train import train

        train()
    else:
        from rl_zoo3.enjoy import enjoy

        enjoy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
