"""Argument types and flags the command groups share, and the env a command line names."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CommandLineEnv",
    "add_env_flags",
    "add_record_flag",
    "add_trust_flag",
    "command_line_env",
    "positive_int",
]


def add_record_flag(parser: argparse.ArgumentParser) -> None:
    """``--record DIR``: keep the episodes played as a Minari dataset."""
    parser.add_argument(
        "--record",
        metavar="DIR",
        default=None,
        help="keep the episodes as a Minari dataset in DIR (qgym[minari])",
    )


def add_trust_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trust-pickle",
        action="store_true",
        help="load a Stable-Baselines3 zip qgym did not write, or import the modules a run's config.yml "
        "names; both run code from files, so use this only for files you trust (qgym's own models never "
        "need it)",
    )


def add_env_flags(parser: argparse.ArgumentParser, env_kwargs: bool = True) -> None:
    """``--gym-packages`` and ``--env-kwargs``, with RL Zoo's meaning and syntax."""
    parser.add_argument(
        "--gym-packages",
        nargs="+",
        default=[],
        metavar="MODULE",
        help="import these modules first, as RL Zoo does: each registers its envs (yours, e.g. mytoy); "
        "--env mytoy:MyToy-v0 (Gymnasium's syntax) does the same for one env",
    )
    if env_kwargs:
        parser.add_argument(
            "--env-kwargs",
            nargs="+",
            default=None,
            metavar="KEY:VALUE",
            help="arguments for gym.make, RL Zoo's syntax (values are Python literals): --env-kwargs "
            "is_slippery:False; a run's config.yml keeps them for eval, enjoy, record, plot and play",
        )


@dataclass(frozen=True)
class CommandLineEnv:
    """What the command line says about the env: its ID (without a ``module:``), the arguments for
    ``gym.make`` (None: not given) and the modules the person named (imported by now)."""

    env_id: str | None
    env_kwargs: dict[str, Any] | None
    modules: tuple[str, ...]


def command_line_env(args: argparse.Namespace, env: str | None, flag: str = "--env") -> CommandLineEnv:
    """Import the modules of ``--gym-packages`` and of a ``module:ID`` (the person typed them), check the
    ID and read ``--env-kwargs``. A run folder's config.yml is read afterwards: the modules its env
    needs are then already imported, or refused (:func:`qgym.training.models.env_of_run`)."""
    from qgym.training.presets import parse_pairs
    from qgym.training.registry import check_env_kwargs, import_gym_packages, user_env_id

    modules = import_gym_packages(getattr(args, "gym_packages", None) or [])
    env_id = None
    if env is not None:
        env_id, module = user_env_id(env, flag)
        modules += [name for name in module if name not in modules]
    pairs = getattr(args, "env_kwargs", None)
    kwargs = None
    if pairs is not None:
        kwargs = check_env_kwargs(parse_pairs(pairs, "--env-kwargs", "is_slippery:False"))
    return CommandLineEnv(env_id, kwargs, tuple(modules))


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value
