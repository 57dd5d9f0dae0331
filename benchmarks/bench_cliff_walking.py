"""Sutton & Barto Example 6.6 (Cliff Walking): online return of Q-learning vs SARSA at epsilon 0.1.

Each run learns for 500 episodes on ``CliffWalking-v1`` with epsilon 0.1, alpha 0.5 and no discount,
and records the return of every episode *while learning* (the Monitor's episode rewards). Q-learning
learns the optimal edge path but, exploring, keeps falling off (its returns tend to -50.8, the exact
value of epsilon-greedy on Q*, greedy ties at random); SARSA learns the safe path (its returns tend
to -20.7, the exact value of the best epsilon-greedy policy). Both references are computed exactly.

    python benchmarks/bench_cliff_walking.py [--runs 50] [--episodes 500]
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import StopTrainingOnMaxEpisodes
from stable_baselines3.common.logger import Logger

from qgym import planning
from qgym.agents import SARSA, DoubleQLearning, ExpectedSARSA, QLearning, TabularAlgorithm

EPSILON, ALPHA = 0.1, 0.5


def online_returns(cls: type[TabularAlgorithm], seed: int, episodes: int) -> tuple[list[float], float]:
    """Returns of every training episode, and the exact return of the final greedy policy."""
    model = cls(
        "TabularPolicy",
        gym.make("CliffWalking-v1"),
        learning_rate=ALPHA,
        gamma=1.0,
        exploration_fraction=0.0,
        exploration_initial_eps=EPSILON,
        exploration_final_eps=EPSILON,
        seed=seed,
    )
    model.set_logger(Logger(folder=None, output_formats=[]))  # silent, and no log folder
    model.learn(10**8, callback=StopTrainingOnMaxEpisodes(max_episodes=episodes))
    env = model.get_env()
    assert env is not None
    mdp = planning.model_of(gym.make("CliffWalking-v1"))
    greedy = model.predict(np.arange(mdp.n_states), deterministic=True)[0]
    greedy_return = planning.expected_return(
        mdp, planning.evaluate_policy(mdp, greedy, gamma=1.0, horizon=1_000)
    )
    return list(env.envs[0].get_episode_rewards()), greedy_return  # type: ignore[attr-defined]


def exact_references() -> tuple[float, float, float]:
    """(optimal return, epsilon-greedy on Q* with random ties, best epsilon-greedy policy's return)."""
    mdp = planning.model_of(gym.make("CliffWalking-v1"))
    q_star = planning.value_iteration(mdp, gamma=1.0).q
    best = q_star == q_star.max(axis=1, keepdims=True)
    behaviour = (1 - EPSILON) * best / best.sum(axis=1, keepdims=True) + EPSILON / mdp.n_actions
    on_q_star = planning.expected_return(mdp, planning.evaluate_policy(mdp, behaviour, gamma=1.0))
    # The SARSA fixed point: values of the best epsilon-greedy policy (an epsilon-soft Bellman equation).
    values = np.zeros(mdp.n_states)
    for _ in range(100_000):
        q = mdp.backup(values, 1.0)
        new_values = (1 - EPSILON) * q.max(axis=1) + EPSILON * q.mean(axis=1)
        if np.max(np.abs(new_values - values)) < 1e-12:
            break
        values = new_values
    optimum = planning.expected_return(mdp, q_star.max(axis=1))
    return optimum, on_q_star, planning.expected_return(mdp, values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--episodes", type=int, default=500)
    args = parser.parse_args()
    optimum, on_q_star, best_soft = exact_references()
    print(
        f"exact: optimal return {optimum:.1f}; epsilon-greedy on Q* {on_q_star:.2f}; "
        f"best epsilon-greedy {best_soft:.2f}"
    )
    print(
        f"online return per episode, mean of {args.runs} runs of {args.episodes} episodes "
        "(epsilon 0.1, alpha 0.5)"
    )
    print(
        f"| {'algorithm':15} | {'episodes 1-100':>14} | {'episodes 101-end':>16} | {'last 100':>9} "
        f"| {'greedy (median)':>15} |"
    )
    print(f"|{'-' * 17}|{'-' * 15}:|{'-' * 17}:|{'-' * 10}:|{'-' * 16}:|")
    for cls in (QLearning, SARSA, ExpectedSARSA, DoubleQLearning):
        results = [online_returns(cls, seed, args.episodes) for seed in range(args.runs)]
        returns = np.array([r for r, _ in results])
        greedy = float(np.median([g for _, g in results]))
        print(
            f"| {cls.__name__:15} | {returns[:, :100].mean():>14.1f} | {returns[:, 100:].mean():>16.1f} "
            f"| {returns[:, -100:].mean():>9.1f} | {greedy:>15.1f} |"
        )


if __name__ == "__main__":
    main()
