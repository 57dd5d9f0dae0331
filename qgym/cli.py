"""The ``qgym`` command line: ``main(argv) -> int``, so every subcommand is testable in-process."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from qgym.envs import known_optimum, qgym_env_ids
from qgym.training.registry import ALGORITHMS, check_algorithm, check_env_id
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

    listing = commands.add_parser(
        "list", help="every registered qgym env with its spaces, horizon and optimum"
    )
    listing.set_defaults(run=_list)

    optimal = commands.add_parser(
        "optimal", help="play the exact optimal policy (from qgym.planning) and compare with the optimum"
    )
    optimal.add_argument("env", metavar="ID", help="an env ID with an exact model, e.g. qgym/GridFarm-2x2-v0")
    optimal.add_argument("--episodes", type=_positive_int, default=200, help="episodes to play (default 200)")
    optimal.add_argument("--seed", type=int, default=0, help="seed of the first episode (default 0)")
    optimal.set_defaults(run=_optimal)
    _add_viewing_commands(commands)
    _add_training_commands(commands)
    return parser


def _list(args: argparse.Namespace) -> int:
    rows = [("ID", "observations", "actions", "horizon", "weather", "optimum")]
    for env_id in qgym_env_ids():
        spec = gym.spec(env_id)
        env = spec.make()
        optimum = known_optimum(env_id)
        deterministic = getattr(getattr(env.unwrapped, "config", None), "is_deterministic", False)
        rows.append(
            (
                env_id,
                _describe_space(env.observation_space),
                _describe_space(env.action_space),
                str(spec.max_episode_steps),
                "deterministic" if deterministic else "stochastic",
                "-" if optimum is None else f"{optimum:.4f}",
            )
        )
        env.close()
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def _optimal(args: argparse.Namespace) -> int:
    from qgym.training.rollouts import OptimalPolicy, episode_returns

    env = gym.make(check_env_id(args.env))
    horizon = env.spec.max_episode_steps if env.spec else None
    if horizon is None:
        raise ValueError(f"{args.env} has no max_episode_steps, so its finite-horizon optimum is undefined")
    policy = OptimalPolicy(env, horizon)
    returns = episode_returns(env, policy, args.episodes, args.seed)
    env.close()
    mean, optimum = float(np.mean(returns)), policy.optimum
    error = float(np.std(returns, ddof=1) / np.sqrt(len(returns))) if len(returns) > 1 else 0.0
    print(f"{args.env}: the optimal policy played {args.episodes} episodes (seeds {args.seed}..)")
    print(f"  mean return      {mean:10.3f} +- {error:.3f} (standard error)")
    states = policy.model.n_states
    print(f"  exact optimum    {optimum:10.3f} (qgym.planning, {states:,} states, horizon {horizon})")
    print(f"  ratio            {mean / optimum:10.1%}" if optimum else "")
    return 0


def _describe_space(space: gym.Space[Any]) -> str:
    if isinstance(space, gym.spaces.Discrete):
        return f"Discrete({space.n})"
    if isinstance(space, gym.spaces.MultiDiscrete):
        return f"MultiDiscrete({len(space.nvec)})"
    if isinstance(space, gym.spaces.Box):
        return f"Box{space.shape}"
    return type(space).__name__


def _add_trust_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trust-pickle",
        action="store_true",
        help="load a Stable-Baselines3 zip qgym did not write; SB3 runs any code stored in it, so use this "
        "only for files you trust (qgym's own models never need it)",
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


# --- play, enjoy, plot, record: parsing here, the work in qgym.viewing ------------------------------


def _add_viewing_commands(commands: Any) -> None:
    play = commands.add_parser("play", help="play an env yourself in a window, one key press per step")
    play.add_argument("env", metavar="ID", help="a qgym env ID, e.g. qgym/GridFarm-2x2-v0")
    play.add_argument("--seed", type=int, default=None, help="seed of the first episode (R adds one)")
    play.add_argument(
        "--hint",
        metavar="optimal|MODEL",
        default=None,
        help="show advice: 'optimal' for the exact optimum's Q-values and the regret of each move (envs "
        "with an exact model), or a trained model file",
    )
    play.add_argument(
        "--record",
        metavar="DIR",
        default=None,
        help="keep the episodes as a Minari dataset in DIR (qgym[minari])",
    )
    _add_trust_flag(play)
    play.set_defaults(run=_play)

    enjoy = commands.add_parser("enjoy", help="watch a trained agent play in a window")
    enjoy.add_argument("model", metavar="MODEL", help="a qgym tabular model, or a DQN or QR-DQN .zip")
    enjoy.add_argument("--env", default=None, help="the env ID (guessed from a tabular model's spaces)")
    enjoy.add_argument("--episodes", type=_positive_int, default=1, help="episodes to watch (default 1)")
    enjoy.add_argument("--fps", type=float, default=4.0, help="steps a second (default 4; + and - change it)")
    enjoy.add_argument("--seed", type=int, default=0, help="seed of the first episode (default 0)")
    enjoy.add_argument(
        "--record",
        metavar="DIR",
        default=None,
        help="keep the episodes as a Minari dataset in DIR (qgym[minari])",
    )
    _add_trust_flag(enjoy)
    enjoy.set_defaults(run=_enjoy)

    plot = commands.add_parser(
        "plot", help="PNG pictures: learning curve vs the exact optimum, Q-table heat map, greedy policy"
    )
    plot.add_argument(
        "--run", dest="run_folder", default=None, help="a run folder with progress.csv and/or evaluations.npz"
    )
    plot.add_argument("--model", default=None, help="a trained model: Q-table and policy pictures")
    plot.add_argument(
        "--env", default=None, help="the env ID (for the optimum; guessed from a tabular model)"
    )
    plot.add_argument("--out", default="plots", help="folder for the PNG files (default ./plots)")
    plot.add_argument(
        "--crops", default=None, help="farm policy: the field's crop stages 0-6, one digit a plot (e.g. 0051)"
    )
    plot.add_argument("--max-states", type=_positive_int, default=60, help="Q-table rows shown (default 60)")
    _add_trust_flag(plot)
    plot.set_defaults(run=_plot)

    record = commands.add_parser("record", help="a GIF (or MP4) of a trained agent, no window needed")
    record.add_argument("model", metavar="MODEL", help="a qgym tabular model, or a DQN or QR-DQN .zip")
    record.add_argument("--out", required=True, help="FILE.gif or FILE.mp4 (mp4 needs qgym[video])")
    record.add_argument("--env", default=None, help="the env ID (guessed from a tabular model's spaces)")
    record.add_argument("--episodes", type=_positive_int, default=1, help="episodes (default 1)")
    record.add_argument("--max-frames", type=_positive_int, default=300, help="frame limit (default 300)")
    record.add_argument("--fps", type=float, default=6.0, help="frames a second (default 6)")
    record.add_argument("--seed", type=int, default=0, help="seed of the first episode (default 0)")
    _add_trust_flag(record)
    record.set_defaults(run=_record)


def _play(args: argparse.Namespace) -> int:
    from qgym.viewing.play import play

    return play(
        args.env, seed=args.seed, hint_path=args.hint, trust_pickle=args.trust_pickle, record_dir=args.record
    )


def _enjoy(args: argparse.Namespace) -> int:
    from qgym.viewing.enjoy import enjoy

    enjoy(
        args.model,
        args.env,
        episodes=args.episodes,
        fps=args.fps,
        seed=args.seed,
        trust_pickle=args.trust_pickle,
        record_dir=args.record,
    )
    return 0


def _plot(args: argparse.Namespace) -> int:
    from qgym.viewing.plots import make_plots

    crops = None
    if args.crops is not None:
        if not args.crops.isdigit():
            raise ValueError(f"--crops must be digits 0-6, one per plot, got {args.crops!r}")
        crops = [int(digit) for digit in args.crops]
    written = make_plots(
        args.out, args.run_folder, args.model, args.env, crops, args.max_states, args.trust_pickle
    )
    for path in written:
        print(f"wrote {path}")
    return 0


def _record(args: argparse.Namespace) -> int:
    from qgym.viewing.record import record

    record(
        args.model, args.out, args.env, args.episodes, args.max_frames, args.fps, args.seed, args.trust_pickle
    )
    return 0


# --- train, eval, tune: parsing here, the work in qgym.training / tuning -------------------------


def _add_training_commands(commands: Any) -> None:
    train = commands.add_parser("train", help="train an agent from a preset and compare it with the optimum")
    train.add_argument("--algo", required=True, help=", ".join(ALGORITHMS))
    train.add_argument("--env", required=True, metavar="ID", help="an env ID, e.g. qgym/GridFarm-1x2-v0")
    train.add_argument("--preset", default=None, metavar="FILE", help="preset file (default: shipped)")
    train.add_argument(
        "-n", "--n-timesteps", type=_positive_int, default=None, help="steps (default: the preset's)"
    )
    train.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    train.add_argument("--log-folder", default="logs", help="where run folders go (default ./logs)")
    train.add_argument("--eval-freq", type=int, default=0, help="evaluate every N steps (default 0: never)")
    train.add_argument("--eval-episodes", type=_positive_int, default=100, help="final evaluation episodes")
    train.add_argument(
        "-params",
        "--hyperparams",
        nargs="+",
        default=[],
        metavar="KEY:VALUE",
        help="override hyperparameters, RL Zoo's syntax: --hyperparams learning_rate:0.05 gamma:0.9",
    )
    train.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar (default: on when the output is a terminal)",
    )
    train.add_argument("-v", "--verbose", type=int, default=0, help="SB3 verbosity 0, 1 or 2")
    train.set_defaults(run=_train)

    evaluate = commands.add_parser("eval", help="mean return of a trained model and %% of the exact optimum")
    evaluate.add_argument("model", metavar="MODEL", help="a run folder, or a model file qgym saved (.zip)")
    evaluate.add_argument(
        "--env", default=None, metavar="ID", help="the env ID (default: the run's, from its config.yml)"
    )
    evaluate.add_argument("--episodes", type=_positive_int, default=100, help="episodes (default 100)")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the first episode (default 0)")
    _add_trust_flag(evaluate)
    evaluate.set_defaults(run=_eval)

    tune = commands.add_parser("tune", help="search hyperparameters with Optuna; write the best as a preset")
    tune.add_argument("--algo", required=True, help=", ".join(ALGORITHMS))
    tune.add_argument("--env", required=True, metavar="ID", help="an env ID, e.g. qgym/Trading-Chain-v0")
    tune.add_argument("--trials", type=_positive_int, required=True, help="trials this process runs")
    tune.add_argument("--storage", default=None, help="Optuna storage URL (default sqlite:///qgym-tune.db)")
    tune.add_argument("--study-name", default=None, help="study name (default ALGO-ENV)")
    tune.add_argument("-n", "--n-timesteps", type=_positive_int, default=None, help="steps a trial")
    tune.add_argument("--seed", type=int, default=0, help="seed of the first trial (default 0)")
    tune.add_argument(
        "--out", default=None, help="preset file the best block goes to (default tuned-ALGO.yml)"
    )
    tune.set_defaults(run=_tune)


def _train(args: argparse.Namespace) -> int:
    from qgym import training
    from qgym.training.presets import parse_hyperparams

    run = training.train(
        args.algo,
        args.env,
        preset_path=args.preset,
        hyperparams=parse_hyperparams(args.hyperparams, args.algo) if args.hyperparams else None,
        n_timesteps=args.n_timesteps,
        seed=args.seed,
        log_folder=args.log_folder,
        eval_freq=args.eval_freq,
        eval_episodes=args.eval_episodes,
        progress=sys.stdout.isatty() if args.progress is None else args.progress,
        verbose=args.verbose,
        report=lambda line: print(line, flush=True),
    )
    steps, asked = run.model.num_timesteps, run.config["hyperparameters"]["n_timesteps"]
    if run.interrupted:
        print(f"stopped by Ctrl-C after {steps:,} of {asked:,} steps")
    elif steps != asked:
        envs = run.model.n_envs
        print(
            f"trained for {steps:,} steps ({asked:,} asked; {envs} envs step together, so steps come "
            f"in multiples of {envs})"
        )
    else:
        print(f"trained for {steps:,} steps")
    print(run.evaluation.summary())
    return 130 if run.interrupted else 0


def _eval(args: argparse.Namespace) -> int:
    from qgym import training
    from qgym.training.models import guess_env_id, locate_model
    from qgym.viewing.agent import load_agent

    model = locate_model(args.model)
    env_id = check_env_id(args.env) if args.env is not None else guess_env_id(model)
    env = gym.make(env_id)
    agent = load_agent(model, env, env_id, args.trust_pickle)
    env.close()
    evaluation = training.evaluate(
        agent.model, env_id, args.episodes, seed=args.seed, env_wrapper=agent.env_wrapper
    )
    print(f"{model} on {env_id}:")
    print(evaluation.summary())
    return 0


def _tune(args: argparse.Namespace) -> int:
    import yaml

    try:
        import optuna  # noqa: F401
    except ImportError:
        raise ValueError("qgym tune needs Optuna: pip install 'qgym[tune]'") from None
    from qgym.training import tuning

    check_algorithm(args.algo)
    check_env_id(args.env)
    out = args.out or f"tuned-{args.algo}.yml"
    tuning.check_writable(out)  # before hours of trials, not after
    meaning = tuning.score_meaning(args.env)
    print(f"tuning {args.algo} on {args.env}: {args.trials} trials; a trial's score is {meaning}")
    result = tuning.tune(
        args.algo,
        args.env,
        args.trials,
        storage=args.storage,
        study_name=args.study_name,
        n_timesteps=args.n_timesteps,
        seed=args.seed,
        report=lambda line: print(line, flush=True),
    )
    tuning.write_preset_block(out, args.env, result.best_block)
    if result.interrupted:
        print(f"stopped by Ctrl-C after {result.n_trials_done} trials; the best preset so far goes to {out}")
    print(f"study {result.study_name} in {result.storage}: {result.n_trials_done} trials run here")
    print(f"best score {result.best_value:.2f} ({meaning})")
    print(f"best preset block, written to {out}:")
    print(yaml.safe_dump({args.env: result.best_block}, sort_keys=False).rstrip())
    return 130 if result.interrupted else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
