"""``qgym train``, ``eval`` and ``tune``: parsing here, the work in :mod:`qgym.training`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from qgym.cli.arguments import (
    CommandLineEnv,
    add_env_flags,
    add_trust_flag,
    command_line_env,
    positive_int,
)
from qgym.cli.distributed import add_seed_flags, add_tune_flags, check_one_seed
from qgym.training.registry import ALGORITHMS, check_algorithm

__all__ = ["add_training_commands"]


def add_training_commands(commands: Any) -> None:
    """The ``train``, ``eval`` and ``tune`` subcommands."""
    train = commands.add_parser("train", help="train an agent from a preset and compare it with the optimum")
    train.add_argument("--algo", required=True, help=", ".join(ALGORITHMS))
    train.add_argument(
        "--env",
        required=True,
        metavar="ID",
        help="an env ID, e.g. qgym/GridFarm-1x2-v0, or module:ID for an env your module registers",
    )
    train.add_argument("--preset", default=None, metavar="FILE", help="preset file (default: shipped)")
    train.add_argument(
        "-n", "--n-timesteps", type=positive_int, default=None, help="steps (default: the preset's)"
    )
    train.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    train.add_argument("--log-folder", default="logs", help="where run folders go (default ./logs)")
    train.add_argument("--eval-freq", type=int, default=0, help="evaluate every N steps (default 0: never)")
    train.add_argument("--eval-episodes", type=positive_int, default=100, help="final evaluation episodes")
    train.add_argument(
        "-params",
        "--hyperparams",
        nargs="+",
        default=[],
        metavar="KEY:VALUE",
        help="override hyperparameters, RL Zoo's syntax: --hyperparams learning_rate:0.05 gamma:0.9; the "
        "slides' names work too: alpha (a constant step size), gamma, epsilon (a constant exploration "
        "rate), epsilon_start, epsilon_end, epsilon_fraction",
    )
    add_env_flags(train)
    train.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar (default: on when the output is a terminal)",
    )
    train.add_argument("-v", "--verbose", type=int, default=0, help="SB3 verbosity 0, 1 or 2")
    train.add_argument(
        "--exact-curve",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="tables on an env with an exact model: value the greedy policy exactly 20 times over training "
        "(exact_returns.csv; qgym plot draws it); on one env it slows training (default: on)",
    )
    train.add_argument(
        "--seeds",
        type=_count("--seeds"),
        default=None,
        metavar="N",
        help="train N seeds (from --seed on) into one run folder and report their statistics; tables on "
        "an exact model train in lockstep in one process",
    )
    train.add_argument(
        "--jobs",
        type=_count("--jobs"),
        default=None,
        metavar="J",
        help="with --seeds, processes training seeds at once when they cannot run in lockstep (DQN, "
        "QR-DQN; default: the number of cores)",
    )
    add_seed_flags(train)
    train.set_defaults(run=_train)

    evaluate = commands.add_parser("eval", help="mean return of a trained model and %% of the exact optimum")
    evaluate.add_argument(
        "model",
        metavar="MODEL",
        help="a run folder (a multi-seed one: every seed), or a model file qgym saved (.zip)",
    )
    evaluate.add_argument(
        "--env", default=None, metavar="ID", help="the env ID (default: the run's, from its config.yml)"
    )
    evaluate.add_argument("--episodes", type=positive_int, default=100, help="episodes (default 100)")
    evaluate.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the first episode (default: the run's seed + 20,000, the episodes of its own final "
        "evaluation, disjoint from the seeds it trained on; 20,000 for a model without its run folder)",
    )
    evaluate.add_argument(
        "--split",
        choices=("train", "test", "all"),
        default=None,
        help="with your own prices: the part to evaluate on (default: test when the run trained on train)",
    )
    evaluate.add_argument(
        "--folds",
        type=positive_int,
        default=None,
        metavar="K",
        help="with your own prices: walk-forward, the out-of-sample prices cut into K consecutive folds, "
        "the figures of each",
    )
    evaluate.add_argument(
        "--plot",
        default=None,
        metavar="FOLDER",
        help="write episode.png (the first episode: equity and drawdown beside buy and hold, or a farm's "
        "season) and figures.png (the field figures beside the optimal policy's) in FOLDER",
    )
    add_env_flags(evaluate)
    add_trust_flag(evaluate)
    evaluate.set_defaults(run=_eval)

    tune = commands.add_parser("tune", help="search hyperparameters with Optuna; write the best as a preset")
    tune.add_argument("--algo", required=True, help=", ".join(ALGORITHMS))
    tune.add_argument(
        "--env", required=True, metavar="ID", help="an env ID, e.g. qgym/Trading-Chain-v0 (or module:ID)"
    )
    tune.add_argument("--trials", type=positive_int, required=True, help="trials this process runs")
    tune.add_argument(
        "--storage",
        default=None,
        help="Optuna storage: a database URL (default sqlite:///qgym-tune.db; postgresql://...) or a journal "
        "file PATH.log",
    )
    tune.add_argument("--study-name", default=None, help="study name (default ALGO-ENV)")
    tune.add_argument("-n", "--n-timesteps", type=positive_int, default=None, help="steps a trial")
    tune.add_argument("--seed", type=int, default=0, help="seed of the first trial (default 0)")
    tune.add_argument(
        "--out", default=None, help="preset file the best block goes to (default tuned-ALGO.yml)"
    )
    add_tune_flags(tune)
    add_env_flags(tune, env_kwargs=False)
    tune.set_defaults(run=_tune)

    compare = commands.add_parser(
        "compare", help="two multi-seed runs: probability of improvement and IQM difference, with intervals"
    )
    compare.add_argument("first", metavar="RUN_A", help="a run folder written by qgym train --seeds N")
    compare.add_argument("second", metavar="RUN_B", help="another, on the same env")
    compare.set_defaults(run=_compare)


def _count(flag: str) -> Any:
    """An argparse type: a whole number of at least 1, else a sentence naming ``flag``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{flag} takes a whole number of at least 1, got {text!r}"
            ) from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{flag} takes a whole number of at least 1, got {text}")
        return value

    return parse


def _train(args: argparse.Namespace) -> int:
    check_algorithm(args.algo)  # names first: a typo costs no import of torch
    env = command_line_env(args, args.env)
    from qgym import training
    from qgym.training.presets import parse_hyperparams

    if args.seeds is not None:
        return _train_seeds(args, env)
    if args.jobs is not None:
        raise ValueError("--jobs goes with --seeds N: one seed trains in one process")
    check_one_seed(args)
    assert env.env_id is not None
    run = training.train(
        args.algo,
        env.env_id,
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
        env_kwargs=env.env_kwargs,
        gym_packages=env.modules,
        exact_curve=args.exact_curve,
    )
    steps, asked = run.model.num_timesteps, run.config["hyperparameters"]["n_timesteps"]
    if run.interrupted:
        print(f"stopped by Ctrl-C after {steps:,} of {asked:,} steps")
    elif steps != asked:
        print(f"trained for {steps:,} steps ({asked:,} asked; {_step_unit(run.model)})")
    else:
        print(f"trained for {steps:,} steps")
    print(run.evaluation.summary(field_metrics=False))
    if run.evaluation.metrics is not None:
        optimal = " beside the optimal policy's" if run.evaluation.optimal_metrics is not None else ""
        print(f"{run.evaluation.metrics.title}{optimal}: qgym eval {run.folder}")
    return 130 if run.interrupted else 0


def _train_seeds(args: argparse.Namespace, env: CommandLineEnv) -> int:
    from qgym.training.presets import parse_hyperparams
    from qgym.training.seeds import train_seeds

    assert env.env_id is not None
    run = train_seeds(
        args.algo,
        env.env_id,
        args.seeds,
        seed=args.seed,
        preset_path=args.preset,
        hyperparams=parse_hyperparams(args.hyperparams, args.algo) if args.hyperparams else None,
        n_timesteps=args.n_timesteps,
        log_folder=args.log_folder,
        eval_freq=args.eval_freq or None,
        jobs=args.jobs,
        progress=sys.stdout.isatty() if args.progress is None else args.progress,
        report=lambda line: print(line, flush=True),
        ray_address=args.ray_address,
        ray_cpus=args.ray_cpus,
        ray_gpus=args.ray_gpus,
        resume=args.resume,
        env_kwargs=env.env_kwargs,
        gym_packages=env.modules,
    )
    done = len(run.results)
    if run.interrupted:
        print(f"stopped by Ctrl-C: {done} of {args.seeds} seeds kept")
    for line in run.summary():
        print(line)
    print(f"per seed: {run.folder / 'seeds.csv'}; curves: qgym plot --run {run.folder}")
    return 130 if run.interrupted else 0


def _compare(args: argparse.Namespace) -> int:
    from qgym.training.comparison import compare_runs

    for line in compare_runs(args.first, args.second):
        print(line)
    return 0


def _step_unit(model: Any) -> str:
    """Why SB3 trains a little past the steps asked: it collects whole rounds of steps."""
    envs = int(model.n_envs)
    train_freq = getattr(model, "train_freq", None)
    per_env = int(train_freq.frequency) if train_freq is not None and train_freq.unit.value == "step" else 1
    if per_env == 1:
        return f"{envs} envs step together, so steps come in multiples of {envs}"
    return (
        f"SB3 collects train_freq={per_env} steps per env between updates, with {envs} env"
        f"{'s' if envs > 1 else ''}, so steps come in multiples of {per_env * envs}"
    )


def _eval(args: argparse.Namespace) -> int:
    from qgym.training.run_evaluation import evaluate_run, load_run, seed_folders

    given = command_line_env(args, args.env)
    folders = seed_folders(args.model)
    if folders is not None:
        if args.folds is not None or args.plot is not None:
            raise ValueError(
                f"--folds and --plot take one run; {args.model} holds a run per seed: give one, "
                f"e.g. {folders[0]}"
            )
        from qgym.training.run_evaluation import evaluate_seeds

        for line in evaluate_seeds(
            folders,
            given.env_id,
            given.env_kwargs,
            args.episodes,
            args.seed,
            args.trust_pickle,
            report=lambda line: print(line, flush=True),
            split=args.split,
        ):
            print(line)
        return 0
    if args.folds is not None:
        run = load_run(args.model, given.env_id, given.env_kwargs, args.trust_pickle)
        print(f"{run.where}:")
        return _eval_folds(args, run)
    evaluation, where = evaluate_run(
        args.model,
        given.env_id,
        given.env_kwargs,
        args.episodes,
        args.seed,
        args.trust_pickle,
        split=args.split,
    )
    print(f"{where}:")
    print(evaluation.summary())
    if args.plot is not None:
        from qgym.viewing.field_plots import write_evaluation_plots

        written = write_evaluation_plots(
            evaluation.first_chart, evaluation.metrics, evaluation.optimal_metrics, args.plot
        )
        print(
            f"wrote {', '.join(str(path) for path in written)}"
            if written
            else f"{evaluation.env_id} has no field figures"
        )
    return 0


def _eval_folds(args: argparse.Namespace, run: Any) -> int:
    """``qgym eval --folds K``: the model on K consecutive folds of the user's out-of-sample prices."""
    from qgym.training.walk_forward import evaluate_folds, fold_lines

    folds, note = evaluate_folds(
        run.loaded.model,
        run.env.env_id,
        args.folds,
        args.episodes,
        run.seed(args.seed),
        run.loaded.env_wrapper,
        run.env.env_kwargs,
        args.split,
    )
    if note is not None:
        print(note)
    for line in fold_lines(folds):
        print(line)
    return 0


def _tune(args: argparse.Namespace) -> int:
    import yaml

    try:
        import optuna  # noqa: F401
    except ImportError:
        raise ValueError("qgym tune needs Optuna: pip install 'qgym[tune]'") from None
    from qgym.training import tuning

    check_algorithm(args.algo)
    env_id = command_line_env(args, args.env).env_id
    assert env_id is not None
    out = args.out or f"tuned-{args.algo}.yml"
    tuning.check_writable(out)  # before hours of trials, not after
    meaning = tuning.score_meaning(env_id)
    print(f"tuning {args.algo} on {env_id}: {args.trials} trials; a trial's score is {meaning}")
    result = tuning.tune(
        args.algo,
        env_id,
        args.trials,
        storage=args.storage,
        study_name=args.study_name,
        n_timesteps=args.n_timesteps,
        seed=args.seed,
        report=lambda line: print(line, flush=True),
        pruner=args.pruner,
        ray_address=args.ray_address,
    )
    tuning.write_preset_block(out, env_id, result.best_block)
    if result.interrupted:
        print(f"stopped by Ctrl-C after {result.n_trials_done} trials; the best preset so far goes to {out}")
    pruned = f", {result.n_pruned} more pruned" if result.n_pruned else ""
    print(f"study {result.study_name} in {result.storage}: {result.n_trials_done} trials run here{pruned}")
    print(f"best score {result.best_value:.2f} ({meaning})")
    print(f"best preset block, written to {out}:")
    print(yaml.safe_dump({env_id: result.best_block}, sort_keys=False).rstrip())
    return 130 if result.interrupted else 0
