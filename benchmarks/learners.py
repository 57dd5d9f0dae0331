"""The learners the benchmark times: a textbook Q-learning loop, the qgym agents, a batched reference, DQN.

Every function trains from scratch and returns ``(env steps, seconds, greedy policy's % of the exact
optimum or None)``. They run in a fresh process each (see ``run_all.py``) so each also gets its own
peak RSS.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from typing import Any

import gymnasium as gym
import numpy as np

import qgym  # noqa: F401  (registers the qgym IDs)
from qgym import planning
from qgym.envs import known_optimum

# Hyperparameters shared by every tabular learner: QLearning's defaults.
ALPHA, GAMMA = 0.1, 0.99
EPS_START, EPS_END, EPS_FRACTION = 1.0, 0.05, 0.1

Result = tuple[int, float, float | None]


def percent_of_optimum(env_id: str, q_table: np.ndarray) -> float | None:
    """Exact expected return of the greedy policy over the registered horizon, as % of the optimum
    (the registered one of a qgym ID, else backward induction on the env's toy-text model)."""
    env = gym.make(env_id)
    optimum = known_optimum(env_id)
    if optimum is None and not hasattr(env.unwrapped, "P"):
        return None
    model = planning.model_of(env)
    horizon = gym.spec(env_id).max_episode_steps
    assert horizon is not None
    if optimum is None:
        optimum = planning.expected_return(model, planning.backward_induction(model, horizon).values)
    return 100.0 * planning.policy_return(model, planning.greedy_policy(q_table), horizon=horizon) / optimum


def epsilon(done_fraction: float) -> float:
    """Linear decay from EPS_START to EPS_END over the first EPS_FRACTION of training (as DQN)."""
    return EPS_START + (EPS_END - EPS_START) * min(1.0, done_fraction / EPS_FRACTION)


def textbook_q_learning(env_id: str, steps: int, seed: int) -> Result:
    """The loop of any RL course: one env, a numpy table, epsilon-greedy, one update per step."""
    env = gym.make(env_id)
    n_actions = int(env.action_space.n)  # type: ignore[attr-defined]
    q = np.zeros((int(env.observation_space.n), n_actions))  # type: ignore[attr-defined]
    rng = np.random.default_rng(seed)
    state, _ = env.reset(seed=seed)
    start = time.perf_counter()
    for t in range(steps):
        if rng.random() < epsilon(t / steps):
            action = int(rng.integers(n_actions))
        else:
            action = int(np.argmax(q[state]))
        next_state, reward, terminated, truncated, _ = env.step(action)
        target = float(reward) if terminated else float(reward) + GAMMA * float(q[next_state].max())
        q[state, action] += ALPHA * (target - q[state, action])
        state = env.reset()[0] if terminated or truncated else next_state
    seconds = time.perf_counter() - start
    return steps, seconds, percent_of_optimum(env_id, q)


def agent_q_learning(env_id: str, steps: int, seed: int, num_envs: int, kernels: bool = True) -> Result:
    """``qgym.agents.QLearning.learn``: on the env itself (num_envs=0) or on the adapted native vector env;
    ``kernels=False`` keeps the batched loop on its numpy path even when numba is installed. (numba's
    import and the kernels' loading, once a process, happen before the timing.)"""
    from qgym.agents import QLearning
    from qgym.agents import kernels as compiled
    from qgym.vec_adapter import make_sb3_vec_env

    os.environ["QGYM_KERNELS"] = "on" if kernels else "off"  # this worker process only
    env: Any = gym.make(env_id) if num_envs == 0 else make_sb3_vec_env(env_id, num_envs, seed=seed)
    model = QLearning("TabularPolicy", env, learning_rate=ALPHA, gamma=GAMMA, seed=seed)
    if kernels and num_envs > 0:
        compiled.load()
    start = time.perf_counter()
    model.learn(steps)
    seconds = time.perf_counter() - start
    return model.num_timesteps, seconds, percent_of_optimum(env_id, model.q_table)


def batched_q_learning(env_id: str, steps: int, seed: int, num_envs: int) -> Result:
    """Reference only (not the agents' code): synchronous Q-learning over the native vector env in numpy.

    Each step updates every (s, a) of the batch from the same table; when several sub-envs hit the
    same pair, one of their updates is kept. Steps after an episode end are NEXT_STEP reset steps,
    not transitions, and are neither learned from nor counted.
    """
    venv = gym.make_vec(env_id, num_envs=num_envs)
    n_actions = int(venv.single_action_space.n)  # type: ignore[attr-defined]
    q = np.zeros((int(venv.single_observation_space.n), n_actions))  # type: ignore[attr-defined]
    rng = np.random.default_rng(seed)
    obs, _ = venv.reset(seed=seed)
    done_before = np.zeros(num_envs, dtype=bool)
    learned = 0
    start = time.perf_counter()
    while learned < steps:
        explore = rng.random(num_envs) < epsilon(learned / steps)
        actions = np.where(explore, rng.integers(n_actions, size=num_envs), q[obs].argmax(axis=1))
        next_obs, rewards, terminated, truncated, _ = venv.step(actions)
        valid = ~done_before
        targets = rewards + GAMMA * q[next_obs].max(axis=1) * ~terminated
        states, chosen = obs[valid], actions[valid]
        q[states, chosen] += ALPHA * (targets[valid] - q[states, chosen])
        learned += int(valid.sum())
        done_before = terminated | truncated
        obs = next_obs
    seconds = time.perf_counter() - start
    return learned, seconds, percent_of_optimum(env_id, q)


def update_times(n_states: int, crowd: int, size: int, repeats: int) -> tuple[float, ...]:
    """Seconds (the least of ``repeats``) to learn from one batch of ``size`` random transitions among
    the first ``crowd`` of ``n_states`` states (4 actions): the reference's synchronous numpy update,
    ``QLearning``'s batched update compiled (nan without numba) and on its numpy path, and
    ``QLearning``'s update one transition at a time. Seconds of CPU (``time.process_time``): the batch
    is too short for wall time on shared cores."""
    from gymnasium import spaces

    from qgym.agents import QLearning, batch
    from qgym.agents import kernels as compiled

    class Table(gym.Env[int, int]):
        observation_space = spaces.Discrete(n_states)
        action_space = spaces.Discrete(4)

    rng = np.random.default_rng(0)
    states, actions = rng.integers(crowd, size=size), rng.integers(4, size=size)
    rewards, next_states = rng.normal(size=size).astype(np.float32), rng.integers(crowd, size=size)
    model = QLearning("TabularPolicy", Table(), learning_rate=ALPHA, gamma=GAMMA, seed=0)
    start_table = rng.normal(size=(n_states, 4))

    def reference() -> None:
        q = model.policy.tables[0]
        targets = rewards + GAMMA * q[next_states].max(axis=1)
        q[states, actions] += ALPHA * (targets - q[states, actions])

    kernels = compiled.load()
    transitions = (states, actions, rewards, next_states)
    q, visits = model.policy.tables[0], model.policy.visits[0]

    def batched() -> None:
        assert kernels is not None
        formula = model.rule.compiled_target()
        assert formula is not None
        kernels.learn(q, visits, transitions, (ALPHA, 0.05, GAMMA, formula), None)

    def numpy_path() -> None:
        batch.learn_from_batch(q, visits, transitions, ALPHA, 0.05, model.rule)

    def one_at_a_time() -> None:
        columns = (states.tolist(), actions.tolist(), rewards.tolist(), next_states.tolist())
        tables, visit_tables = list(model.policy.tables), list(model.policy.visits)
        for one in zip(*columns, strict=True):
            model.rule.learn_one(tables, visit_tables, one, ALPHA, 0.05, random.random)

    times = []
    for run in (reference, batched, numpy_path, one_at_a_time):
        if run is batched and kernels is None:
            times.append(float("nan"))
            continue
        best = float("inf")
        for _ in range(repeats):
            model.policy.tables[0][...] = start_table
            began = time.process_time()
            run()
            best = min(best, time.process_time() - began)
        times.append(best)
    return tuple(times)


def nothing() -> Result:
    """Nothing at all: the peak RSS of a fresh worker process, for comparison."""
    return 0, 1.0, None


def import_sb3() -> Result:
    """Import Stable-Baselines3 (and so torch) and stop: what the import alone adds to the peak RSS."""
    import stable_baselines3  # noqa: F401

    return 0, 1.0, None


def import_sb3_and_kernels() -> Result:
    """Import Stable-Baselines3 and load qgym's compiled kernels (numba): what the batched loop adds."""
    import stable_baselines3  # noqa: F401

    from qgym.agents import kernels

    kernels.load()
    return 0, 1.0, None


def sb3_dqn(env_id: str, steps: int, seed: int, num_envs: int) -> Result:
    """SB3 DQN with its defaults and one torch thread: on the env itself (num_envs=0) or the adapter."""
    import torch
    from stable_baselines3 import DQN
    from stable_baselines3.common.logger import configure

    from qgym.vec_adapter import make_sb3_vec_env

    torch.set_num_threads(1)
    env: Any = gym.make(env_id) if num_envs == 0 else make_sb3_vec_env(env_id, num_envs, seed=seed)
    model = DQN("MlpPolicy", env, seed=seed)
    with tempfile.TemporaryDirectory(prefix="qgym-bench-") as folder:
        os.environ.setdefault("SB3_LOGDIR", folder)
        model.set_logger(configure(folder, []))
        start = time.perf_counter()
        model.learn(steps)
        seconds = time.perf_counter() - start
    return model.num_timesteps, seconds, None
