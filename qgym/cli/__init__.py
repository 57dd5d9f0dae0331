"""The ``qgym`` command line: ``main(argv) -> int``, so every subcommand is testable in-process.

Each group of subcommands parses its arguments in its own module (``info``, ``training``, ``viewing``)
and hands the work to the package that does it; :func:`main` turns every error into one line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import gymnasium as gym

from qgym.cli.info import add_info_commands
from qgym.cli.training import add_training_commands
from qgym.cli.viewing import add_viewing_commands
from qgym.version import __version__

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except (ValueError, gym.error.Error) as error:
        print(f"qgym {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a full disk, a read-only folder, a missing file
        where = f" {error.filename}" if error.filename else ""
        print(f"qgym {args.command}: error: cannot use{where}: {error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"qgym {args.command}: stopped by Ctrl-C", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qgym", description="Reinforcement learning made concrete, from the first Q-table to a DQN."
    )
    parser.add_argument("--version", action="version", version=f"qgym {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add_info_commands(commands)
    add_viewing_commands(commands)
    add_training_commands(commands)
    return parser
