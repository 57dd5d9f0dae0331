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
    ``-conf`` file's block for ``--env`` and the ``-params`` values must be plain data qgym reads."""
    from qgym.files import read_yaml
    from qgym.training.envs import check_env_wrapper
    from qgym.training.presets import Preset, parse_literal
    from qgym.training.registry import TABULAR_ALGORITHMS

    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--algo")
    parser.add_argument("--env")
    parser.add_argument("-conf", "--conf-file")
    parser.add_argument("-params", "--hyperparams", nargs="+", default=[])
    parser.add_argument("-optimize", "--optimize-hyperparameters", action="store_true")
    known, _ = parser.parse_known_args(list(arguments))
    if known.optimize_hyperparameters and known.algo in TABULAR_ALGORITHMS:
        raise ValueError(
            f"RL Zoo has no sampler for {known.algo}: tune it with qgym's own Optuna search, "
            f"qgym tune --algo {known.algo} --env {known.env or 'ID'} --trials N"
        )
    for pair in known.hyperparams:
        key, _, value = str(pair).partition(":")
        try:
            parse_literal(value)
        except ValueError as error:
            raise ValueError(
                f"-params {key}: RL Zoo would eval {value!r}; qgym allows literals only ({error})"
            ) from None
    if known.conf_file is None and known.algo in TABULAR_ALGORITHMS:
        from qgym.training.presets import default_preset_path

        shipped = default_preset_path(known.algo)
        raise ValueError(f"RL Zoo ships no presets for {known.algo}: give qgym's with -conf {shipped}")
    if known.conf_file is None or known.env is None:
        return
    document = read_yaml(known.conf_file, "RL Zoo preset file")
    block = document.get(known.env) if isinstance(document, dict) else None
    if block is None:
        return  # RL Zoo says that the env has no preset
    if not isinstance(block, dict):
        raise ValueError(f"the preset {known.env!r} in {known.conf_file} must be a mapping")
    for key in ("callback", "vec_env_wrapper"):
        if key in block:
            raise ValueError(
                f"the preset {known.env!r} in {known.conf_file} names a {key}; "
                "RL Zoo would import it by name, so qgym refuses"
            )
    try:
        preset = Preset.from_block(block)
        check_env_wrapper(preset.env_wrapper)
    except ValueError as error:
        raise ValueError(f"the preset {known.env!r} in {known.conf_file}: {error}") from None


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
