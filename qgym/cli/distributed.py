"""The flags that send work past this process: ``train --seeds N`` on a Ray cluster or resumed, and
``tune`` trials on Ray, pruned."""

from __future__ import annotations

import argparse

__all__ = ["add_seed_flags", "add_tune_flags", "check_one_seed"]


def add_seed_flags(train: argparse.ArgumentParser) -> None:
    """``--ray-address``, ``--ray-cpus``, ``--ray-gpus`` and ``--resume`` (with ``--seeds``)."""
    train.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDRESS",
        help="with --seeds, train each seed as a Ray task on this cluster: auto, ray://HOST:PORT or "
        "HOST:PORT (pip install 'qgym[ray]'); results come back through Ray, no shared file system needed",
    )
    train.add_argument(
        "--ray-cpus", type=float, default=1.0, metavar="C", help="with --ray-address, CPUs a seed asks for"
    )
    train.add_argument(
        "--ray-gpus",
        type=float,
        default=None,
        metavar="G",
        help="with --ray-address, GPUs a seed asks for (default: 1 where the cluster has GPUs and the "
        "preset's device may use one, else 0)",
    )
    train.add_argument(
        "--resume",
        default=None,
        metavar="RUN_FOLDER",
        help="with --seeds, continue an unfinished run of the same command: only its missing seeds train",
    )


def add_tune_flags(tune: argparse.ArgumentParser) -> None:
    """``--pruner`` and ``--ray-address`` of ``qgym tune``."""
    tune.add_argument(
        "--pruner",
        choices=("none", "median"),
        default="none",
        help="median: stop a trial whose intermediate value is below the median of the earlier trials' at "
        "the same step (Optuna's MedianPruner, after 5 trials; default none)",
    )
    tune.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDRESS",
        help="run the trials as Ray tasks on this cluster (auto, ray://HOST:PORT or HOST:PORT); this process "
        "keeps the study (pip install 'qgym[ray]')",
    )


def check_one_seed(args: argparse.Namespace) -> None:
    """A ValueError for a flag of many seeds given to a one-seed ``train``."""
    for flag in ("ray_address", "resume"):
        if getattr(args, flag) is not None:
            name = flag.replace("_", "-")
            raise ValueError(f"--{name} goes with --seeds N: one seed trains in this process")
