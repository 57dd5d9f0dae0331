"""K independent tabular learners trained in lockstep on an exact model: one process, numpy arrays.

Each learner is what ``QLearning`` (or SARSA, Expected SARSA, Double Q-learning) would be with the same
hyperparameters on ``n_envs`` envs: its own tables and visit counts, its own epsilon-greedy draws, its
own ``n_envs`` episodes. The envs are the model itself, sampled: an outcome of ``(s, a)`` is drawn with
the model's probabilities, episodes start from its initial distribution and end when an outcome
terminates or ``max_episode_steps`` truncates them (the learner then bootstraps, as the one-env loops
do). A finished episode restarts in the same step, as in an SB3 VecEnv.

Learners never share a number. Learner ``k`` draws from a generator seeded by ``seeds[k]`` alone, in a
fixed order, so its tables depend on its seed and the settings, not on which other seeds run beside it.
Within a learner, the updates of its ``n_envs`` envs apply one after the other in env order, as in the
one-learner loops; across learners they go in one numpy pass each (their tables are disjoint). A
learner's random numbers are not those of ``QLearning.learn`` (which draws from ``random.Random`` and
the envs' own generators), so learner ``k`` is another run than ``QLearning(seed=seeds[k])``, from the
same distribution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qgym.agents import batch
from qgym.agents.algorithms import QLearning
from qgym.agents.base import TabularAlgorithm
from qgym.agents.lockstep_rules import (
    OutcomeSampler,
    StackedTables,
    epsilon_greedy,
    is_sarsa_rule,
    is_target_rule,
    rule_of,
)
from qgym.agents.next_values import ROWS, rows_greatest
from qgym.agents.schedules import linear_epsilon
from qgym.planning import TabularModel

__all__ = ["Lockstep", "OnlineReturns"]

_DRAWS = 4  # uniforms per env step: action, outcome, restart, the rule's own (SARSA's next action, the coin)
_BLOCK_FLOATS = 1 << 19  # uniforms held at once across learners: a bounded buffer, whatever the seeds


@dataclass(frozen=True)
class OnlineReturns:
    """Each learner's finished episodes while it explored: how many, and the mean of the latest ones."""

    episodes: NDArray[np.int64]
    """(K,) episodes finished so far."""
    recent_mean: NDArray[np.float64]
    """(K,) mean return of the last ``window`` episodes (NaN before the first)."""
    window: int


class Lockstep:
    """``len(seeds)`` learners of ``template``'s algorithm and settings, ``n_envs`` envs each, on ``model``.

    :param template: an untrained model of the algorithm, built with the hyperparameters every learner
        shares (its own tables give the initial values; its seed is not used).
    :param model: the exact model; an env's observation must be the model's state index.
    :param seeds: one seed per learner (distinct).
    :param n_envs: envs per learner.
    :param max_episode_steps: the time limit that truncates an episode, or None.

    Sub-env ``i`` is env ``i % n_envs`` of learner ``i // n_envs``.
    """

    def __init__(
        self,
        template: TabularAlgorithm,
        model: TabularModel,
        seeds: Sequence[int],
        n_envs: int = 1,
        max_episode_steps: int | None = None,
    ) -> None:
        _check(template, model, seeds, n_envs, max_episode_steps)
        self.template = template
        self.seeds = [int(seed) for seed in seeds]
        self.n_learners, self.n_envs = len(self.seeds), int(n_envs)
        self.max_episode_steps = max_episode_steps
        self.n_states, self.n_actions = model.n_states, model.n_actions
        self._stacked = StackedTables(template, self.n_learners)
        self.tables = self._stacked.tables
        """(n_tables, K * S, A): learner ``k``'s table ``t`` is ``tables[t, k * S:(k + 1) * S]``."""
        self.visits = self._stacked.visits
        self.num_timesteps = 0
        """Steps each learner has taken (over its envs)."""
        self._sampler = OutcomeSampler(model)
        self._generators = [np.random.Generator(np.random.PCG64(seed)) for seed in self.seeds]
        size = self.n_envs * self.n_learners
        self._block = max(1, _BLOCK_FLOATS // (_DRAWS * size))
        self._draws = np.empty((self.n_learners, 0, _DRAWS, self.n_envs))
        self._used = 0
        self._offsets = np.repeat(np.arange(self.n_learners, dtype=np.int64) * self.n_states, self.n_envs)
        self._window = int(template._stats_window_size)
        self._recent = np.full((self.n_learners, self._window), np.nan)
        self._episodes = np.zeros(self.n_learners, dtype=np.int64)
        self._states = np.zeros(size, dtype=np.int64)
        self._elapsed = np.zeros(size, dtype=np.int64)
        self._returns = np.zeros(size)
        self._pending = np.full(size, -1, dtype=np.int64)
        self._started = False
        self._rule = rule_of(template)
        self._has_pending = is_sarsa_rule(self._rule)
        # The compiled loops (numba, the fast extra) for single-table rules: the same bits.
        self._kernels = template._kernels() if self.tables.shape[0] == 1 else None
        self._compiled_rule = template._own_compiled_rule()

    def learn(
        self,
        total_timesteps: int,
        eval_freq: int | None = None,
        on_eval: Callable[[Lockstep], None] | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> Lockstep:
        """Train every learner for ``total_timesteps`` steps (over its envs), calling ``on_eval`` every
        ``eval_freq`` of them and ``on_progress`` with the steps each learner has taken after every step."""
        if not self._started:
            self._restart(np.ones(len(self._states), dtype=bool), self._next_draws()[2])
            self._started = True
        template, schedule = self.template, self.template.lr_schedule
        next_eval = eval_freq if eval_freq else None
        while self.num_timesteps < total_timesteps:
            progress = 1.0 - self.num_timesteps / total_timesteps
            epsilon = linear_epsilon(
                template.exploration_initial_eps,
                template.exploration_final_eps,
                template.exploration_fraction,
                progress,
            )
            self._step(epsilon, float(schedule(progress)))
            self.num_timesteps += self.n_envs
            if on_progress is not None:
                on_progress(self.num_timesteps)
            if next_eval is not None and on_eval is not None and self.num_timesteps >= next_eval:
                on_eval(self)
                while next_eval <= self.num_timesteps:
                    next_eval += eval_freq  # type: ignore[operator]
        return self

    def learner_tables(self, learner: int) -> NDArray[np.float64]:
        """A copy of learner ``learner``'s tables, (n_tables, S, A)."""
        rows = slice(learner * self.n_states, (learner + 1) * self.n_states)
        return np.array(self.tables[:, rows])

    def q_tables(self) -> NDArray[np.float64]:
        """(K, S, A): every learner's Q-table (the mean of both for Double Q-learning), as ``q_table``."""
        tables = self.tables.reshape(self.tables.shape[0], self.n_learners, self.n_states, self.n_actions)
        return np.asarray(tables.mean(axis=0))

    def greedy_policies(self) -> NDArray[np.int64]:
        """(K, S): every learner's greedy action per state, ties to the lowest (as ``predict``)."""
        tables = self.tables.reshape(self.tables.shape[0], self.n_learners, self.n_states, self.n_actions)
        return np.asarray(tables.sum(axis=0).argmax(axis=2), dtype=np.int64)

    def online_returns(self) -> OnlineReturns:
        """Each learner's episode count and mean return over its last episodes (SB3's ``ep_rew_mean``)."""
        kept = ~np.isnan(self._recent)
        counts = kept.sum(axis=1)
        totals = np.where(kept, self._recent, 0.0).sum(axis=1)
        means = np.full(self.n_learners, np.nan)
        np.divide(totals, counts, out=means, where=counts > 0)
        return OnlineReturns(self._episodes.copy(), means, self._window)

    def model(self, learner: int, env: Any = None) -> TabularAlgorithm:
        """Learner ``learner`` as an ordinary model of the template's class: it saves, loads and predicts
        like any other (``env`` defaults to the template's)."""
        template = self.template
        settings = template.hyperparameters() | {"seed": self.seeds[learner]}
        model = type(template)("TabularPolicy", env if env is not None else template.get_env(), **settings)
        rows = slice(learner * self.n_states, (learner + 1) * self.n_states)
        model.policy.tables[...] = self.tables[:, rows]
        model.policy.visits[...] = self.visits[:, rows]
        model.num_timesteps = self.num_timesteps
        return model

    # --- one step of every env of every learner --------------------------------------------------

    def _step(self, epsilon: float, alpha: float) -> None:
        draws = self._next_draws()
        states = self._states
        rows = self._offsets + states
        if self._kernels is not None:
            actions = self._kernels.epsilon_greedy(self.tables[0], rows, float(epsilon), draws[0])
        elif self.tables.shape[0] == 1:
            actions = epsilon_greedy(self.tables[0][rows], epsilon, draws[0])
        else:  # Double Q-learning acts on the sum of its tables
            actions = epsilon_greedy(self.tables[0][rows] + self.tables[1][rows], epsilon, draws[0])
        if self._has_pending:
            actions = np.where(self._pending >= 0, self._pending, actions)
        next_states, rewards, terminated = self._sampler.step(states, actions, draws[1])
        self._elapsed += 1
        self._returns += rewards
        done = terminated
        if self.max_episode_steps is not None:
            done = terminated | (self._elapsed >= self.max_episode_steps)
        next_rows = self._offsets + next_states
        if terminated.any():
            next_rows[terminated] = -1
        pending = self._update(rows, actions, rewards, next_rows, (alpha, epsilon), draws[3])
        self._states = next_states
        if pending is not None:
            self._pending = np.where(done, -1, pending)
        if done.any():
            self._finish(done)
            self._restart(done, draws[2])

    def _update(
        self,
        rows: NDArray[np.int64],
        actions: NDArray[np.int64],
        rewards: NDArray[np.float64],
        next_rows: NDArray[np.int64],
        schedules: tuple[float, float],
        draws: NDArray[np.float64],
    ) -> NDArray[np.int64] | None:
        """Every learner's updates, one env index a pass (env order within a learner)."""
        alpha, epsilon = schedules
        m = self.n_envs
        if self._kernels is not None and self._compiled_rule is not None and is_target_rule(self._rule):
            # Compiled: one loop in the transitions' order, each learner's env order (learners touch
            # disjoint rows, so learner after learner is the passes' order too).
            stacked = self._stacked
            powers = None if stacked.powers is None else stacked.decay_powers
            settings = (alpha, epsilon, self.template.gamma, self._compiled_rule)
            self._kernels.learn(
                self.tables[0], stacked.visits[0], (rows, actions, rewards, next_rows), settings, powers
            )
            return None
        if m == 1:
            return self._rule(self._stacked, rows, actions, rewards, next_rows, alpha, epsilon, draws)
        if is_target_rule(self._rule):
            self._target_passes(rows, actions, rewards, next_rows, alpha, epsilon)
            return None
        pending = np.full(len(rows), -1, dtype=np.int64)
        for env in range(m):
            part = slice(env, None, m)
            chosen = self._rule(self._stacked, rows[part], actions[part], rewards[part], next_rows[part],
                                alpha, epsilon, draws[part])  # fmt: skip
            if chosen is not None:
                pending[part] = chosen
        return pending if self._has_pending else None

    def _target_passes(
        self,
        rows: NDArray[np.int64],
        actions: NDArray[np.int64],
        rewards: NDArray[np.float64],
        next_rows: NDArray[np.int64],
        alpha: float,
        epsilon: float,
    ) -> None:
        """The target rule (Q-learning, Expected SARSA) inlined, one env index a pass: the passes are the
        hot loop of a step with many envs a learner."""
        m, target, q, stacked = self.n_envs, self.template._target, self.tables[0], self._stacked
        flat, visits = stacked.flat[0], stacked.flat_visits[0]
        cells = rows * self.n_actions + actions
        every: Any = alpha
        if stacked.powers is not None:  # the k-th update of a cell in env order counts visits + k
            every = batch.decayed_steps(visits[cells], cells, alpha, stacked.decay_powers)
        np.add.at(visits, cells, 1)
        # One row per env index, each learner's update in a column: contiguous rows for the passes.
        k = self.n_learners
        by_env = [np.ascontiguousarray(array.reshape(k, m).T) for array in (cells, rewards, next_rows)]
        env_cells, env_rewards, env_ahead = by_env
        env_steps = None if stacked.powers is None else np.ascontiguousarray(every.reshape(k, m).T)
        ends: list[bool] = np.asarray((env_ahead < 0).any(axis=1)).tolist()
        steps: Any = alpha
        # Q-learning's target inlined (r + gamma * max: the same floats, max is exact in any order).
        greatest = type(self.template)._target is QLearning._target
        gamma = self.template.gamma
        for env in range(m):
            at, reward, ahead = env_cells[env], env_rewards[env], env_ahead[env]
            if env_steps is not None:
                steps = env_steps[env]
            if greatest:
                goals = reward + gamma * rows_greatest(q.take(ahead, axis=0))
            else:
                goals = target(reward, q.take(ahead, axis=0), epsilon, ROWS)
            if ends[env]:
                goals = np.where(ahead < 0, target(reward, None, epsilon, ROWS), goals)
            old = flat.take(at)
            flat.put(at, old + steps * (goals - old))

    def _next_draws(self) -> NDArray[np.float64]:
        """This step's uniforms, (4, K * n_envs): each learner's from its own generator, in order."""
        if self._used == self._draws.shape[1]:
            block = np.empty((self.n_learners, self._block, _DRAWS, self.n_envs))
            for learner, generator in enumerate(self._generators):
                generator.random(out=block[learner].reshape(self._block, -1))
            self._draws, self._used = block, 0
        step = self._draws[:, self._used]  # (K, 4, n_envs)
        self._used += 1
        return np.ascontiguousarray(step.transpose(1, 0, 2)).reshape(_DRAWS, -1)

    def _restart(self, done: NDArray[np.bool_], draws: NDArray[np.float64]) -> None:
        self._states[done] = self._sampler.start(draws[done])
        self._elapsed[done] = 0
        self._returns[done] = 0.0

    def _finish(self, done: NDArray[np.bool_]) -> None:
        """Keep the finished episodes' returns, in env order within each learner."""
        index = np.flatnonzero(done)
        learners = index // self.n_envs  # ascending: each learner's episodes in env order
        if self.n_envs > self._window:  # a learner may end more episodes in a step than it keeps
            for i, learner in zip(index.tolist(), learners.tolist(), strict=True):
                self._recent[learner, self._episodes[learner] % self._window] = self._returns[i]
                self._episodes[learner] += 1
            return
        position = np.arange(len(index))
        first = np.ones(len(index), dtype=bool)
        first[1:] = learners[1:] != learners[:-1]
        rank = position - np.maximum.accumulate(np.where(first, position, 0))
        slots = (self._episodes[learners] + rank) % self._window
        self._recent[learners, slots] = self._returns[index]
        self._episodes += np.bincount(learners, minlength=self.n_learners)


def _check(
    template: TabularAlgorithm,
    model: TabularModel,
    seeds: Sequence[int],
    n_envs: int,
    max_episode_steps: int | None,
) -> None:
    if len(seeds) == 0:
        raise ValueError("seeds must hold at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct (a repeated seed repeats a learner), got {list(seeds)}")
    if not isinstance(n_envs, int) or n_envs < 1:
        raise ValueError(f"n_envs must be a positive integer, got {n_envs!r}")
    if max_episode_steps is not None and (not isinstance(max_episode_steps, int) or max_episode_steps < 1):
        raise ValueError(f"max_episode_steps must be a positive integer or None, got {max_episode_steps!r}")
    shape = template.policy.tables.shape[1:]
    if shape != (model.n_states, model.n_actions):
        raise ValueError(
            f"the model has {model.n_states} states and {model.n_actions} actions but the template's "
            f"table is {shape[0]} x {shape[1]}: the env's observation must be the model's state index"
        )
