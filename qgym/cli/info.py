"""``qgym list`` and ``qgym optimal``: what is registered, and the exact optimum played."""

from __future__ import annotations

import argparse
from typing import Any

import gymnasium as gym
import numpy as np

from qgym.cli.arguments import add_env_flags, command_line_env, positive_int
from qgym.envs import known_optimum, qgym_env_ids

__all__ = ["add_info_commands"]


def add_info_commands(commands: Any) -> None:
    """The ``list`` and ``optimal`` subcommands."""
    listing = commands.add_parser(
        "list", help="every registered qgym env with its spaces, horizon and optimum"
    )
    listing.set_defaults(run=_list)
    optimal = commands.add_parser(
        "optimal", help="play the exact optimal policy (from qgym.planning) and compare with the optimum"
    )
    optimal.add_argument(
        "env", metavar="ID", help="an env ID with an exact model, e.g. qgym/GridFarm-2x2-v0 (or module:ID)"
    )
    optimal.add_argument("--episodes", type=positive_int, default=200, help="episodes to play (default 200)")
    optimal.add_argument("--seed", type=int, default=0, help="seed of the first episode (default 0)")
    add_env_flags(optimal)
    optimal.set_defaults(run=_optimal)


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
    from qgym.scoring import share_of_optimum
    from qgym.training.envs import horizon_of, single_env
    from qgym.training.field_metrics import RecordCollector, field_lines
    from qgym.training.rollouts import OptimalPolicy, episode_returns

    given = command_line_env(args, args.env, "ID")
    assert given.env_id is not None
    kwargs = given.env_kwargs or {}
    env = single_env(given.env_id, **kwargs)
    horizon = horizon_of(given.env_id, kwargs)
    policy = OptimalPolicy(env, horizon)
    collector = RecordCollector(env)
    returns = episode_returns(env, policy, args.episodes, args.seed, collector)
    env.close()
    mean, optimum = float(np.mean(returns)), policy.optimum
    error = float(np.std(returns, ddof=1) / np.sqrt(len(returns))) if len(returns) > 1 else 0.0
    last = args.seed + args.episodes - 1
    print(f"{args.env}: the exact optimal policy played {args.episodes} episodes (seeds {args.seed}..{last})")
    print(f"  mean return      {mean:10.3f} +- {error:.3f} (standard error)")
    states = policy.model.n_states
    print(f"  exact optimum    {optimum:10.3f} (qgym.planning, {states:,} states, horizon {horizon})")
    print(f"  sampled mean     {share_of_optimum(mean, optimum)}")
    print(f"  {_luck(mean, optimum, error, args.episodes)}")
    played = collector.report()
    if played is not None:
        exact = collector.optimal(horizon)
        for line in field_lines(played, exact, who="played", other="from the model"):
            print(line)
    return 0


def _luck(mean: float, optimum: float, error: float, episodes: int) -> str:
    """Why the optimal policy's sampled mean is not exactly the optimum."""
    if error == 0.0 or abs(mean - optimum) <= 1e-9 * max(1.0, abs(optimum)):
        return "the policy is exactly optimal: its exact value is the optimum, 100%"
    side = "above" if mean > optimum else "below"
    return (
        f"the policy is exactly optimal (100% valued exactly); its sampled mean lands {side} the optimum "
        f"by luck of the draw, {abs(mean - optimum) / error:.1f} standard errors: a mean of {episodes} "
        "episodes scatters around the expectation"
    )


def _describe_space(space: gym.Space[Any]) -> str:
    if isinstance(space, gym.spaces.Discrete):
        return f"Discrete({space.n})"
    if isinstance(space, gym.spaces.MultiDiscrete):
        return f"MultiDiscrete({len(space.nvec)})"
    if isinstance(space, gym.spaces.Box):
        return f"Box{space.shape}"
    return type(space).__name__
