"""Argument types and flags the command groups share."""

from __future__ import annotations

import argparse

__all__ = ["add_record_flag", "add_trust_flag", "positive_int"]


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
        help="load a Stable-Baselines3 zip qgym did not write; SB3 runs any code stored in it, so use this "
        "only for files you trust (qgym's own models never need it)",
    )


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value
