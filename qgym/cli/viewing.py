"""``qgym play``, ``enjoy``, ``plot`` and ``record``: parsing here, the work in :mod:`qgym.viewing`."""

from __future__ import annotations

import argparse
import os
from typing import Any

from qgym.cli.arguments import add_env_flags, add_record_flag, add_trust_flag, command_line_env, positive_int

__all__ = ["add_viewing_commands"]


def add_viewing_commands(commands: Any) -> None:
    """The ``play``, ``enjoy``, ``plot`` and ``record`` subcommands."""
    play = commands.add_parser("play", help="play an env yourself in a window, one key press per step")
    play.add_argument(
        "env", metavar="ID", help="an env ID, e.g. qgym/GridFarm-2x2-v0 or FrozenLake-v1 (or module:ID)"
    )
    play.add_argument("--seed", type=int, default=None, help="seed of the first episode (R adds one)")
    play.add_argument(
        "--hint",
        metavar="optimal|MODEL",
        default=None,
        help="show advice: 'optimal' for the exact optimum's Q-values and the regret of each move (envs "
        "with an exact model), or a trained model file",
    )
    add_record_flag(play)
    add_env_flags(play)
    add_trust_flag(play)
    play.set_defaults(run=_play)

    enjoy = commands.add_parser("enjoy", help="watch a trained agent play in a window")
    enjoy.add_argument("model", metavar="MODEL", help="a qgym tabular model, or a DQN or QR-DQN .zip")
    enjoy.add_argument(
        "--env", default=None, help="the env ID (default: the run's; else guessed from a table's spaces)"
    )
    enjoy.add_argument("--episodes", type=positive_int, default=1, help="episodes to watch (default 1)")
    enjoy.add_argument("--fps", type=float, default=4.0, help="steps a second (default 4; + and - change it)")
    enjoy.add_argument("--seed", type=int, default=0, help="seed of the first episode (default 0)")
    add_record_flag(enjoy)
    add_env_flags(enjoy)
    add_trust_flag(enjoy)
    enjoy.set_defaults(run=_enjoy)

    plot = commands.add_parser(
        "plot", help="PNG pictures: learning curve vs the exact optimum, Q-table heat map, greedy policy"
    )
    plot.add_argument(
        "--run",
        dest="run_folder",
        action="append",
        default=None,
        help="a run folder (progress.csv, evaluations.npz, or the curves of qgym train --seeds N); "
        "repeat it to draw several multi-seed runs together",
    )
    plot.add_argument("--model", default=None, help="a trained model: Q-table and policy pictures")
    plot.add_argument(
        "--env", default=None, help="the env ID (for the optimum; guessed from a tabular model)"
    )
    plot.add_argument("--out", default="plots", help="folder for the PNG files (default ./plots)")
    plot.add_argument(
        "--crops", default=None, help="farm policy: the field's crop stages 0-6, one digit a plot (e.g. 0051)"
    )
    plot.add_argument("--max-states", type=positive_int, default=60, help="Q-table rows shown (default 60)")
    add_env_flags(plot)
    add_trust_flag(plot)
    plot.set_defaults(run=_plot)

    record = commands.add_parser("record", help="a GIF (or MP4) of a trained agent, no window needed")
    record.add_argument("model", metavar="MODEL", help="a qgym tabular model, or a DQN or QR-DQN .zip")
    record.add_argument("--out", required=True, help="FILE.gif or FILE.mp4 (mp4 needs qgym[video])")
    record.add_argument(
        "--env", default=None, help="the env ID (default: the run's; else guessed from a table's spaces)"
    )
    record.add_argument("--episodes", type=positive_int, default=1, help="episodes (default 1)")
    record.add_argument("--max-frames", type=positive_int, default=300, help="frame limit (default 300)")
    record.add_argument("--fps", type=float, default=6.0, help="frames a second (default 6)")
    record.add_argument("--seed", type=int, default=0, help="seed of the first episode (default 0)")
    add_env_flags(record)
    add_trust_flag(record)
    record.set_defaults(run=_record)


def _play(args: argparse.Namespace) -> int:
    given = command_line_env(args, args.env, "ID")
    from qgym.viewing.play import play

    assert given.env_id is not None
    return play(
        given.env_id,
        seed=args.seed,
        hint_path=args.hint,
        trust_pickle=args.trust_pickle,
        record_dir=args.record,
        env_kwargs=given.env_kwargs,
    )


def _enjoy(args: argparse.Namespace) -> int:
    given = command_line_env(args, args.env)
    from qgym.viewing.enjoy import enjoy

    enjoy(
        args.model,
        given.env_id,
        episodes=args.episodes,
        fps=args.fps,
        seed=args.seed,
        trust_pickle=args.trust_pickle,
        record_dir=args.record,
        env_kwargs=given.env_kwargs,
    )
    return 0


def _plot(args: argparse.Namespace) -> int:
    given = command_line_env(args, args.env)
    from qgym.viewing.plots import make_plots

    crops = None
    if args.crops is not None:
        if not args.crops.isdigit():
            raise ValueError(f"--crops must be digits 0-6, one per plot, got {args.crops!r}")
        crops = [int(digit) for digit in args.crops]
    written = make_plots(
        args.out,
        args.run_folder,
        args.model,
        given.env_id,
        crops,
        args.max_states,
        args.trust_pickle,
        print,
        env_kwargs=given.env_kwargs,
    )
    for path in written:
        print(f"wrote {path}")
    return 0


def _record(args: argparse.Namespace) -> int:
    given = command_line_env(args, args.env)
    from qgym.viewing.record import record

    # Frames are drawn off screen. Gymnasium's toy-text envs call pygame.init(), which starts SDL's
    # video and audio; without a display SDL prints "error: XDG_RUNTIME_DIR is invalid" (and then works).
    # This process opens no window, so SDL's drivers that need none are the right ones.
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

    record(
        args.model,
        args.out,
        given.env_id,
        args.episodes,
        args.max_frames,
        args.fps,
        args.seed,
        args.trust_pickle,
        env_kwargs=given.env_kwargs,
    )
    return 0
