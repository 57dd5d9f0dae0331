"""``qgym train``, ``eval`` and ``tune``: parsing here, the work in :mod:`qgym.training`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import gymnasium as gym

from qgym.cli.arguments import add_trust_flag, positive_int
from qgym.training.registry import ALGORITHMS, check_algorithm, check_env_id

__all__ = ["add_training_commands"]


def add_training_commands(commands: Any) -> None:
    """The ``train``, ``eval`` and ``tune`` subcommands."""
    train = commands.add_parser("train", help="train an agent from a preset and compare it with the optimum")
    train.add_argument("--algo", required=True, help=", ".join(ALGORITHMS))
    train.add_argument("--env", required=True, metavar="ID", help="an env ID, e.g. qgym/GridFarm-1x2-v0")
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
        help="override hyperparameters, RL Zoo's syntax: --hyperparams learning_rate:0.05 gamma:0.9",
    )
    train.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar (default: on when the output is a terminal)",
    )
    train.add_argument("-v", "--verbose", type=int, default=0, help="SB3 verbosity 0, 1 or 2")
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
    _add_distributed_flags(train)
    train.set_defaults(run=_train)

    evaluate = commands.add_parser("eval", help="mean return of a trained model and %% of the exact optimum")
    evaluate.add_argument("model", metavar="MODEL", help="a run folder, or a model file qgym saved (.zip)")
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
    add_trust_flag(evaluate)
    evaluate.set_defaults(run=_eval)

    tune = commands.add_parser("tune", help="search hyperparameters with Optuna; write the best as a preset")
    tune.add_argument("--algo", required=True, help=", ".join(ALGORITHMS))
    tune.add_argument("--env", required=True, metavar="ID", help="an env ID, e.g. qgym/Trading-Chain-v0")
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
    tune.set_defaults(run=_tune)

    compare = commands.add_parser(
        "compare", help="two multi-seed runs: probability of improvement and IQM difference, with intervals"
    )
    compare.add_argument("first", metavar="RUN_A", help="a run folder written by qgym train --seeds N")
    compare.add_argument("second", metavar="RUN_B", help="another, on the same env")
    compare.set_defaults(run=_compare)


def _add_distributed_flags(train: argparse.ArgumentParser) -> None:
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
    from qgym import training
    from qgym.training.presets import parse_hyperparams

    if args.seeds is not None:
        return _train_seeds(args)
    if args.jobs is not None:
        raise ValueError("--jobs goes with --seeds N: one seed trains in one process")
    for flag in ("ray_address", "resume"):
        if getattr(args, flag) is not None:
            name = flag.replace("_", "-")
            raise ValueError(f"--{name} goes with --seeds N: one seed trains in this process")
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
        print(f"trained for {steps:,} steps ({asked:,} asked; {_step_unit(run.model)})")
    else:
        print(f"trained for {steps:,} steps")
    print(run.evaluation.summary(field_metrics=False))
    if run.evaluation.metrics is not None:
        optimal = " beside the optimal policy's" if run.evaluation.optimal_metrics is not None else ""
        print(f"{run.evaluation.metrics.title}{optimal}: qgym eval {run.folder}")
    return 130 if run.interrupted else 0


def _train_seeds(args: argparse.Namespace) -> int:
    from qgym.training.presets import parse_hyperparams
    from qgym.training.seeds import train_seeds

    run = train_seeds(
        args.algo,
        args.env,
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
    from qgym import training
    from qgym.training.field_metrics import run_context
    from qgym.training.models import guess_env_id, locate_model
    from qgym.viewing.agent import load_agent

    model = locate_model(args.model)
    env_id = check_env_id(args.env) if args.env is not None else guess_env_id(model)
    context = run_context(model)
    env = gym.make(env_id, **(context.env_kwargs or {}))  # the env the run trained on (its spaces)
    agent = load_agent(model, env, env_id, args.trust_pickle)
    env.close()
    seed = context.evaluation_seed if args.seed is None else args.seed
    if args.folds is not None:
        print(f"{model} on {env_id}:")
        return _eval_folds(args, agent, env_id, seed, context.env_kwargs)
    evaluation = training.evaluate(
        agent.model,
        env_id,
        args.episodes,
        seed=seed,
        env_wrapper=agent.env_wrapper,
        env_kwargs=context.env_kwargs,
        split=args.split,
        training_seeds=context.training_seeds,
    )
    print(f"{model} on {env_id}:")
    print(evaluation.summary())
    if args.plot is not None:
        from qgym.viewing.field_plots import write_evaluation_plots

        written = write_evaluation_plots(
            evaluation.first_chart, evaluation.metrics, evaluation.optimal_metrics, args.plot
        )
        print(
            f"wrote {', '.join(str(path) for path in written)}"
            if written
            else f"{env_id} has no field figures"
        )
    return 0


def _eval_folds(args: argparse.Namespace, agent: Any, env_id: str, seed: int, env_kwargs: Any) -> int:
    """``qgym eval --folds K``: the model on K consecutive folds of the user's out-of-sample prices."""
    from qgym.training.walk_forward import evaluate_folds, fold_lines

    folds, note = evaluate_folds(
        agent.model, env_id, args.folds, args.episodes, seed, agent.env_wrapper, env_kwargs, args.split
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
        pruner=args.pruner,
        ray_address=args.ray_address,
    )
    tuning.write_preset_block(out, args.env, result.best_block)
    if result.interrupted:
        print(f"stopped by Ctrl-C after {result.n_trials_done} trials; the best preset so far goes to {out}")
    pruned = f", {result.n_pruned} more pruned" if result.n_pruned else ""
    print(f"study {result.study_name} in {result.storage}: {result.n_trials_done} trials run here{pruned}")
    print(f"best score {result.best_value:.2f} ({meaning})")
    print(f"best preset block, written to {out}:")
    print(yaml.safe_dump({args.env: result.best_block}, sort_keys=False).rstrip())
    return 130 if result.interrupted else 0
