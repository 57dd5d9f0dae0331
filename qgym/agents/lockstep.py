"""K independent tabular learners trained in lockstep on an exact model: one process, numpy arrays.

Each learner is what its algorithm (Q-learning, SARSA, ...) would be with the same hyperparameters on
``n_envs`` envs: its own tables and visit counts, its own epsilon-greedy draws, its own ``n_envs``
episodes. The envs are the model itself, sampled: an outcome of ``(s, a)`` is drawn with the model's
probabilities, episodes start from its initial distribution and end when an outcome terminates or
``max_episode_steps`` truncates them (the learner then bootstraps, as the one-env loops do). A
finished episode restarts in the same step, as in an SB3 VecEnv.

Learners never share a number. Learner ``k`` draws from a generator seeded by ``seeds[k]`` alone, in a
fixed order, so its tables depend on its seed and the settings, not on which other seeds run beside it.
The learners' tables are stacked into one array of ``K * n_states`` rows, and each step applies the
rule (:meth:`qgym.agents.rules.Rule.learn_rows`, or its compiled form) one env index a pass: in a pass
every learner updates once, on rows no other learner touches, so one numpy pass is exact, and within a
learner the updates come in env order, as in the one-learner loops. A learner's random numbers are
not those of ``QLearning.learn`` (which draws from ``random.Random`` and the envs' own generators), so
learner ``k`` is another run than ``QLearning(seed=seeds[k])``, from the same distribution.

Nothing here imports torch or Stable-Baselines3: a many-seeds run needs neither until a learner is
turned into a model (:meth:`Lockstep.model`); :meth:`Lockstep.save` writes its model file directly.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from qgym.agents import kernels
from qgym.agents.exploration import choose_rows
from qgym.agents.file_format import ModelRecord, library_versions, write_model_file
from qgym.agents.model_sampler import ModelSampler
from qgym.agents.rules import BATCH, Rule, rule_class
from qgym.agents.schedules import learning_rate_function, linear_epsilon
from qgym.agents.settings import Hyperparameters, fresh_state
from qgym.agents.step_sizes import StepSizes
from qgym.planning import TabularModel

__all__ = ["LearnerSettings", "Lockstep", "OnlineReturns"]

_DRAWS = 4  # uniforms per env step: action, outcome, restart, the rule's own (SARSA's next action, the coin)
_BLOCK_FLOATS = 1 << 19  # uniforms held at once across learners: a bounded buffer, whatever the seeds

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]


@dataclass(frozen=True)
class LearnerSettings:
    """What every learner of a lockstep run shares: the algorithm (its ``--algo`` name) and its
    hyperparameters; the initial tables default to ``policy_kwargs``' ``initial_q_value`` (0.0)."""

    algo: str
    hyperparameters: Hyperparameters
    initial_tables: Floats | None = None
    env: Any = None
    """The env :meth:`Lockstep.model` puts a learner on when given none."""

    @classmethod
    def of_model(cls, model: Any) -> LearnerSettings:
        """The settings of an (untrained) tabular model: its algorithm, hyperparameters, tables and env."""
        settings = Hyperparameters(**model.hyperparameters())
        return cls(model.rule_class.name, settings, model.policy.tables, model.get_env())


@dataclass(frozen=True)
class OnlineReturns:
    """Each learner's finished episodes while it explored: how many, and the mean of the latest ones."""

    episodes: Ints
    """(K,) episodes finished so far."""
    recent_mean: Floats
    """(K,) mean return of the last ``window`` episodes (NaN before the first)."""
    window: int


class Lockstep:
    """``len(seeds)`` learners of one algorithm and settings, ``n_envs`` envs each, on ``model``.

    :param learners: the shared :class:`LearnerSettings`, or an untrained tabular model to copy them
        from (its seed is not used).
    :param model: the exact model; an env's observation must be the model's state index.
    :param seeds: one seed per learner (distinct).
    :param n_envs: envs per learner.
    :param max_episode_steps: the time limit that truncates an episode, or None.
    :param compiled: use the compiled loops of the ``fast`` extra (for single-table rules; those that
        name a compiled target also learn through them) when numba is installed; the bits are numpy's
        either way, so this only trades numba's loading time (about a second) for speed.

    Sub-env ``i`` is env ``i % n_envs`` of learner ``i // n_envs``.
    """

    def __init__(
        self,
        learners: LearnerSettings | Any,
        model: TabularModel,
        seeds: Sequence[int],
        n_envs: int = 1,
        max_episode_steps: int | None = None,
        compiled: bool = True,
    ) -> None:
        if not isinstance(learners, LearnerSettings):
            learners = LearnerSettings.of_model(learners)
        settings = learners.hyperparameters
        rule = rule_class(learners.algo)
        _check(rule, learners, model, seeds, n_envs, max_episode_steps)
        self.settings = settings
        self.default_env = learners.env
        self.rule: Rule = rule(settings.gamma, StepSizes(settings.visit_decay), **settings.rule_parameters)
        self.seeds = [int(seed) for seed in seeds]
        self.n_learners, self.n_envs = len(self.seeds), int(n_envs)
        self.max_episode_steps = max_episode_steps
        self.n_states, self.n_actions = model.n_states, model.n_actions
        initial = learners.initial_tables
        if initial is None:
            value = float(settings.policy_kwargs.get("initial_q_value", 0.0))
            initial = np.full((rule.n_tables, self.n_states, self.n_actions), value)
        stacked = np.repeat(np.asarray(initial, dtype=np.float64)[:, None], self.n_learners, axis=1)
        self.tables = stacked.reshape(rule.n_tables, self.n_learners * self.n_states, self.n_actions)
        """(n_tables, K * S, A): learner ``k``'s table ``t`` is ``tables[t, k * S:(k + 1) * S]``."""
        self.visits = np.zeros(self.tables.shape, dtype=np.int64)
        self.num_timesteps = 0
        """Steps each learner has taken (over its envs)."""
        self.sampler = ModelSampler(model)
        """The envs: the model sampled (any object with its ``step`` and ``start`` serves)."""
        self._generators = [np.random.Generator(np.random.PCG64(seed)) for seed in self.seeds]
        size = self.n_envs * self.n_learners
        self._block = max(1, _BLOCK_FLOATS // (_DRAWS * size))
        self._draws = np.empty((self.n_learners, 0, _DRAWS, self.n_envs))
        self._used = 0
        self._offsets = np.repeat(np.arange(self.n_learners, dtype=np.int64) * self.n_states, self.n_envs)
        self._window = int(settings.stats_window_size)
        self._recent = np.full((self.n_learners, self._window), np.nan)
        self._episodes = np.zeros(self.n_learners, dtype=np.int64)
        self._states = np.zeros(size, dtype=np.int64)
        self._elapsed = np.zeros(size, dtype=np.int64)
        self._returns = np.zeros(size)
        self._pending = np.full(size, -1, dtype=np.int64)
        self._started = False
        self._kernels = kernels.load() if compiled and rule.n_tables == 1 else None
        self._formula = rule.compiled_target()

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
        settings, alpha_at = self.settings, learning_rate_function(self.settings.learning_rate)
        next_eval = eval_freq if eval_freq else None
        while self.num_timesteps < total_timesteps:
            progress = 1.0 - self.num_timesteps / total_timesteps
            epsilon = linear_epsilon(
                settings.exploration_initial_eps,
                settings.exploration_final_eps,
                settings.exploration_fraction,
                progress,
            )
            self._step(epsilon, float(alpha_at(progress)))
            self.num_timesteps += self.n_envs
            if on_progress is not None:
                on_progress(self.num_timesteps)
            if next_eval is not None and on_eval is not None and self.num_timesteps >= next_eval:
                on_eval(self)
                while next_eval <= self.num_timesteps:
                    next_eval += eval_freq  # type: ignore[operator]
        return self

    def learner_tables(self, learner: int) -> Floats:
        """A copy of learner ``learner``'s tables, (n_tables, S, A)."""
        rows = slice(learner * self.n_states, (learner + 1) * self.n_states)
        return np.array(self.tables[:, rows])

    def q_tables(self) -> Floats:
        """(K, S, A): every learner's Q-table (the mean of both for Double Q-learning), as ``q_table``."""
        tables = self.tables.reshape(self.tables.shape[0], self.n_learners, self.n_states, self.n_actions)
        return np.asarray(tables.mean(axis=0))

    def greedy_policies(self) -> Ints:
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

    def model(self, learner: int, env: Any = None) -> Any:
        """Learner ``learner`` as an ordinary model of its algorithm on ``env`` (default: the env of the
        settings): it saves, loads and predicts like any other (imports torch and Stable-Baselines3)."""
        from qgym.agents.algorithms import algorithm_class

        algorithm = algorithm_class(self.rule.name or "")
        settings = self.settings.as_kwargs() | {"seed": self.seeds[learner]}
        rule_parameters = settings.pop("rule_parameters")
        on = env if env is not None else self.default_env
        model = algorithm("TabularPolicy", on, **settings, **rule_parameters)
        rows = slice(learner * self.n_states, (learner + 1) * self.n_states)
        model.policy.tables[...] = self.tables[:, rows]
        model.policy.visits[...] = self.visits[:, rows]
        model.num_timesteps = self.num_timesteps
        return model

    def save(
        self,
        learner: int,
        path: str | pathlib.Path,
        spaces_of_env: tuple[spaces.Space[Any], spaces.Space[Any]],
        n_envs: int,
    ) -> None:
        """Write learner ``learner``'s model file, the one :meth:`model` would ``save`` on an env with
        these (observation, action) spaces and ``n_envs`` envs, without building the model."""
        settings = Hyperparameters(**(self.settings.as_kwargs() | {"seed": self.seeds[learner]}))
        rows = slice(learner * self.n_states, (learner + 1) * self.n_states)
        state = fresh_state(settings, n_envs, self.num_timesteps)
        record = ModelRecord(
            self.rule.algorithm,
            spaces_of_env[0],
            spaces_of_env[1],
            settings.to_data(),
            state.to_data(),
            self.tables[:, rows],
            self.visits[:, rows],
            library_versions(),
        )
        write_model_file(record, path)

    # --- one step of every env of every learner --------------------------------------------------

    def _step(self, epsilon: float, alpha: float) -> None:
        draws = self._next_draws()
        states = self._states
        rows = self._offsets + states
        if self._kernels is not None:
            actions = self._kernels.epsilon_greedy(self.tables[0], rows, float(epsilon), draws[0])
        else:
            actions = choose_rows(self.rule.rows_action_values(self.tables, rows), epsilon, draws[0])
        if self.rule.own_draws:
            actions = np.where(self._pending >= 0, self._pending, actions)
        next_states, rewards, terminated = self.sampler.step(states, actions, draws[1])
        self._elapsed += 1
        self._returns += rewards
        done = terminated
        if self.max_episode_steps is not None:
            done = terminated | (self._elapsed >= self.max_episode_steps)
        next_rows = self._offsets + next_states
        if terminated.any():
            next_rows[terminated] = -1
        pending = self._update((rows, actions, rewards, next_rows), done, (alpha, epsilon), draws[3])
        self._states = next_states
        if pending is not None:
            self._pending = np.where(done, -1, pending)
        if done.any():
            self._finish(done)
            self._restart(done, draws[2])

    def _update(
        self,
        transitions: tuple[Ints, Ints, Floats, Ints],
        done: NDArray[np.bool_],
        schedules: tuple[float, float],
        draws: Floats,
    ) -> Ints | None:
        """Every learner's updates, one env index a pass (env order within a learner)."""
        alpha, epsilon = schedules
        if self._kernels is not None and self._formula is not None:
            # Compiled: one loop in the transitions' order, each learner's env order (learners touch
            # disjoint rows, so learner after learner is the passes' order too).
            step_sizes = self.rule.step_sizes
            powers = None if step_sizes.visit_decay is None else step_sizes.powers
            settings = (alpha, epsilon, self.rule.gamma, self._formula)
            self._kernels.learn(self.tables[0], self.visits[0], transitions, settings, powers)
            return None
        m = self.n_envs
        if m > 1 and self.rule.has_batch_form():
            self._target_passes(transitions, alpha, epsilon)
            return None
        learn = self.rule.learn_rows
        if m == 1:
            envs = np.arange(len(done))
            return learn(self.tables, self.visits, transitions, alpha, epsilon, draws, envs, done)
        pending: Ints | None = None
        sub_envs = np.arange(len(done))
        rows, actions, rewards, next_rows = transitions
        for env in range(m):
            part = slice(env, None, m)
            one_pass = (rows[part], actions[part], rewards[part], next_rows[part])
            chosen = learn(
                self.tables, self.visits, one_pass, alpha, epsilon, draws[part], sub_envs[part], done[part]
            )
            if chosen is not None:
                if pending is None:
                    pending = np.full(len(done), -1, dtype=np.int64)
                pending[part] = chosen
        return pending

    def _target_passes(
        self, transitions: tuple[Ints, Ints, Floats, Ints], alpha: float, epsilon: float
    ) -> None:
        """A rule with a batch form (its target alone; :meth:`Rule.learn_rows` would do the same,
        slower): the step's visit counts and step sizes at once (the k-th update of a pair within a
        learner counts n + k), then one pass per env index of targets and updates, on contiguous rows.
        These passes are the hot loop of a short run without the compiled loops."""
        rows, actions, rewards, next_rows = transitions
        k, m = self.n_learners, self.n_envs
        flat = self.tables[0].reshape(-1)
        cells = rows * self.n_actions + actions
        steps = self.rule.step_sizes.counted(self.visits[0], cells, alpha)

        def by_env(array: Any) -> Any:
            return np.ascontiguousarray(np.asarray(array).reshape(k, m).T)

        env_cells, env_rewards, env_ahead = by_env(cells), by_env(rewards), by_env(next_rows)
        env_steps = by_env(steps) if isinstance(steps, np.ndarray) else None
        ends: list[bool] = np.asarray((env_ahead < 0).any(axis=1)).tolist()
        value, gamma, q = self.rule.bootstrap, self.rule.gamma, self.tables[0]
        step: Any = steps
        for env in range(m):
            at, reward, ahead = env_cells[env], env_rewards[env], env_ahead[env]
            if env_steps is not None:
                step = env_steps[env]
            goals = reward + gamma * value(q.take(ahead, axis=0), epsilon, BATCH, None)
            if ends[env]:
                goals = np.where(ahead < 0, reward, goals)
            old = flat.take(at)
            flat.put(at, old + step * (goals - old))

    def _next_draws(self) -> Floats:
        """This step's uniforms, (4, K * n_envs): each learner's from its own generator, in order."""
        if self._used == self._draws.shape[1]:
            block = np.empty((self.n_learners, self._block, _DRAWS, self.n_envs))
            for learner, generator in enumerate(self._generators):
                generator.random(out=block[learner].reshape(self._block, -1))
            self._draws, self._used = block, 0
        step = self._draws[:, self._used]  # (K, 4, n_envs)
        self._used += 1
        return np.ascontiguousarray(step.transpose(1, 0, 2)).reshape(_DRAWS, -1)

    def _restart(self, done: NDArray[np.bool_], draws: Floats) -> None:
        self._states[done] = self.sampler.start(draws[done])
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
    rule: type[Rule],
    learners: LearnerSettings,
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
    if learners.initial_tables is not None:
        shape = learners.initial_tables.shape[1:]
        if shape != (model.n_states, model.n_actions):
            raise ValueError(
                f"the model has {model.n_states} states and {model.n_actions} actions but the learners' "
                f"table is {shape[0]} x {shape[1]}: the env's observation must be the model's state index"
            )
