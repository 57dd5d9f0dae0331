"""RL Zoo with qgym's tabular algorithms: ``python -m qgym.zoo train --algo qlearning --env ID ...``.

The arguments after ``train`` (or ``enjoy``) are RL Zoo's own, e.g.::

    python -m qgym.zoo train --algo qlearning --env qgym/Trading-Chain-v0 --gym-packages qgym \\
        -conf zoo_configs/qlearning.yml

RL Zoo keeps one ``ALGOS`` dict for train, enjoy and its callbacks; this module adds qlearning,
sarsa, expected_sarsa and double_qlearning to it, then hands over. Nothing that ``import qgym``
loads imports this module: ``import rl_zoo3`` patches Gymnasium's ``TimeLimit`` globally.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main", "register_algorithms"]

_COMMANDS = ("train", "enjoy")


def register_algorithms() -> None:
    """Add the tabular algorithms to RL Zoo's ``ALGOS`` (needs ``pip install 'qgym[zoo]'``)."""
    try:
        from rl_zoo3 import ALGOS
    except ImportError:
        raise SystemExit("python -m qgym.zoo needs RL Zoo: pip install 'qgym[zoo]'") from None
    from qgym.training.registry import TABULAR_ALGORITHMS, algorithm_class

    ALGOS.update({name: algorithm_class(name) for name in TABULAR_ALGORITHMS})


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rl_zoo3.train`` or ``rl_zoo3.enjoy`` with ``argv[1:]``, the tabular algorithms added."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in _COMMANDS:
        print(f"usage: python -m qgym.zoo {{{','.join(_COMMANDS)}}} [RL Zoo arguments]", file=sys.stderr)
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
