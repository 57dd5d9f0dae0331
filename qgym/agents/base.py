"""The shared base of the tabular agents: an SB3 ``BaseAlgorithm`` with its own lean learning loop.

A subclass supplies one rule, :meth:`TabularAlgorithm._update` (the temporal-difference update of
one transition); the base supplies everything a Stable-Baselines3 user expects: construction from
an env or an env ID, ``learn`` with callbacks, logger and progress bar, ``predict``, ``save``/``load``.

Three loops feed the rule. A lone env (what ``QLearning("TabularPolicy", env)`` gets: SB3 wraps it in
a ``Monitor`` and a one-env ``DummyVecEnv``) is stepped directly, without the ``DummyVecEnv``'s copies;
any other VecEnv goes through its ``step``. Both follow ``DummyVecEnv``'s auto-reset semantics and use
the random numbers in the same order, so a seed gives the same table either way. A rule with a batch
form (:meth:`TabularAlgorithm._update_batch`: Q-learning, Expected SARSA) on a VecEnv of several envs
takes a third, batched loop (:meth:`TabularAlgorithm._train_batched`): actions for all envs at once
(same distribution, another use of the random numbers), updates bit-identical to one env after the other.
"""

from __future__ import annotations

import io
import math
import pathlib
import random
import sys
import time
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import gymnasium as gym
import numpy as np
import torch as th
from numpy.typing import NDArray
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, ConvertCallback
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback
from stable_baselines3.common.utils import safe_mean
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from qgym.agents import persistence
from qgym.agents.policy import TabularPolicy
from qgym.agents.schedules import LearningRate, constant_value, linear_epsilon
from qgym.agents.spaces import ActionIndexer, StateIndexer

__all__ = ["TabularAlgorithm"]

SelfTabular = TypeVar("SelfTabular", bound="TabularAlgorithm")
Uniform = Callable[[], float]
_POLICY_KWARGS = frozenset({"initial_q_value"})


class TabularAlgorithm(BaseAlgorithm):
    """Base of the tabular temporal-difference agents (one Q-value per state and action).

    :param policy: ``"TabularPolicy"`` (``"MlpPolicy"`` is accepted as an alias, as RL Zoo presets
        say) or the :class:`TabularPolicy` class.
    :param env: the environment or its Gymnasium ID; a VecEnv with any number of envs works.
        Observations must be Discrete or MultiDiscrete (wrap a Box with
        ``qgym.wrappers.DiscretizeObservation``); actions Discrete.
    :param learning_rate: step size alpha: a number, or a schedule of SB3's ``progress_remaining``.
    :param gamma: discount factor.
    :param exploration_fraction: fraction of training over which epsilon goes from
        ``exploration_initial_eps`` to ``exploration_final_eps`` (linearly, as in DQN).
    :param exploration_initial_eps: initial probability of a random action.
    :param exploration_final_eps: final probability of a random action.
    :param visit_decay: exponent w of a per-(state, action) step size ``max(n ** -w, learning_rate)``,
        with ``n`` the number of updates of that pair so far (``learning_rate`` is then the floor);
        None for the plain ``learning_rate``. Values in (0.5, 1] satisfy the Robbins-Monro conditions.
    :param stats_window_size: episodes averaged in ``rollout/ep_rew_mean`` and friends.
    :param tensorboard_log: folder of TensorBoard logs (needs the ``tensorboard`` package), or None.
    :param policy_kwargs: keyword arguments of the policy: ``initial_q_value``.
    :param verbose: 0 silent, 1 training logs, 2 debug.
    :param seed: seed of the agent's own random generators, of the action space and of the env.
    :param device: ``"auto"`` or ``"cpu"``: the table always lives in CPU memory.
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "TabularPolicy": TabularPolicy,
        "MlpPolicy": TabularPolicy,
    }
    n_tables: ClassVar[int] = 1
    policy: TabularPolicy
    # Stepping a lone env directly is an optimization only; tests switch it off to compare loops.
    _direct_stepping: bool = True
    # Whether the rule has a batch form (:meth:`_update_batch`); subclasses that have one set it.
    _has_batch_rule: ClassVar[bool] = False
    # Tests switch this off to run a VecEnv of several envs through the per-env loop.
    _batched_stepping: bool = True
    # (visit_decay, n ** -visit_decay for n = 0, 1, ...): the batched loop's step sizes.
    _decay_cache: tuple[float, NDArray[np.float64]] | None = None

    def __init__(
        self,
        policy: str | type[TabularPolicy],
        env: GymEnv | str | None,
        learning_rate: LearningRate = 0.1,
        gamma: float = 0.99,
        exploration_fraction: float = 0.1,
        exploration_initial_eps: float = 1.0,
        exploration_final_eps: float = 0.05,
        visit_decay: float | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        _check_hyperparameters(
            learning_rate,
            gamma,
            exploration_fraction,
            exploration_initial_eps,
            exploration_final_eps,
            visit_decay,
        )
        _check_policy(policy, self.policy_aliases)
        if str(device) not in ("auto", "cpu"):
            raise ValueError(
                f"device must be 'auto' or 'cpu' (the Q-table lives in CPU memory), got {device!r}"
            )
        unknown = set(policy_kwargs or {}) - _POLICY_KWARGS
        if unknown:
            raise ValueError(f"policy_kwargs accepts only {sorted(_POLICY_KWARGS)}, got {sorted(unknown)}")
        if not (isinstance(stats_window_size, int) and stats_window_size >= 1):
            raise ValueError(f"stats_window_size must be a positive integer, got {stats_window_size!r}")
        if seed is not None and not isinstance(seed, int | np.integer):
            raise ValueError(f"seed must be an integer or None, got {seed!r}")
        super().__init__(
            policy=policy,
            env=env,
            learning_rate=learning_rate,
            policy_kwargs=dict(policy_kwargs or {}),
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device="cpu",
            support_multi_env=True,
            monitor_wrapper=True,
            seed=None if seed is None else int(seed),
        )
        self.gamma = float(gamma)
        self.exploration_fraction = float(exploration_fraction)
        self.exploration_initial_eps = float(exploration_initial_eps)
        self.exploration_final_eps = float(exploration_final_eps)
        self.visit_decay = None if visit_decay is None else float(visit_decay)
        self.exploration_rate = self.exploration_initial_eps
        self._pending_actions: list[int | None] = []
        if self.env is not None:
            # Fail at construction, naming the wrapper, rather than deep inside learn().
            StateIndexer(self.observation_space, type(self).__name__)
            ActionIndexer(self.action_space, type(self).__name__)
        if _init_setup_model:
            self._setup_model()

    # --- the rule a subclass supplies ------------------------------------------------------------

    def _update(
        self, state: int, action: int, reward: float, next_state: int | None, alpha: float, epsilon: float
    ) -> int | None:
        """Apply the TD update of one transition; ``next_state`` is None when the episode terminated.

        Returns the action already chosen in ``next_state`` (SARSA) or None. ``alpha`` is the
        scheduled step size before the visit-count decay (:meth:`_step_size` applies it).
        """
        raise NotImplementedError

    def _update_batch(
        self,
        rows: list[list[float]],
        states: list[int],
        actions: list[int],
        rewards: list[float],
        next_states: list[int],
        steps: list[float],
        epsilon: float,
    ) -> None:
        """Apply the updates of a batch one after the other, in order, on ``rows`` (table rows as lists).

        ``states``/``next_states`` index ``rows`` (``next_states[i]`` is -1 when the episode
        terminated); ``steps`` are the step sizes, visit decay already applied. Each update must do
        exactly the float operations of :meth:`_update`, so the table comes out bit-identical.
        """
        raise NotImplementedError

    # --- SB3 interface ---------------------------------------------------------------------------

    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        policy = self.policy_class(
            self.observation_space, self.action_space, n_tables=self.n_tables, **self.policy_kwargs
        )
        assert isinstance(policy, TabularPolicy)
        self.policy = policy
        self._states = self.policy.states
        self._actions = self.policy.actions
        self._bind_tables()
        self.set_random_seed(self.seed)

    def set_random_seed(self, seed: int | None = None) -> None:
        """Seed the agent's own generators (exploration, predict), the action space and the env.

        Unlike SB3's algorithms, the global ``random``/``numpy``/``torch`` generators are left alone.
        """
        train_seed, predict_seed = np.random.SeedSequence(seed).generate_state(2, dtype=np.uint64)
        self._rng = random.Random(int(train_seed))
        self._predict_rng = random.Random(int(predict_seed))
        if seed is None:
            return
        self.action_space.seed(seed)
        if self.env is not None:
            self.env.seed(seed)

    def learn(
        self: SelfTabular,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int | None = 100,
        tb_log_name: str | None = None,
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfTabular:
        """Train for ``total_timesteps`` env steps (summed over envs); ``log_interval`` is in episodes."""
        if not isinstance(total_timesteps, int | np.integer) or total_timesteps < 0:
            raise ValueError(f"total_timesteps must be a non-negative integer, got {total_timesteps!r}")
        if log_interval is not None and log_interval < 1:
            raise ValueError(
                f"log_interval must be a positive number of episodes or None, got {log_interval}"
            )
        if self.env is None:
            raise ValueError("this model has no env: pass one to load(path, env=...) or call set_env(env)")
        fresh_start = reset_num_timesteps or self._last_obs is None
        total_timesteps, callback = self._setup_learn(
            int(total_timesteps),
            callback,
            reset_num_timesteps,
            tb_log_name or type(self).__name__,
            progress_bar,
        )
        if fresh_start or len(self._pending_actions) != self.n_envs:
            self._pending_actions = [None] * self.n_envs
        self._bind_tables()
        callback.on_training_start(locals(), globals())
        direct = self._direct_env()
        if direct is not None:
            self._train_direct(direct, total_timesteps, callback, log_interval)
        elif self._has_batch_rule and self._batched_stepping and self.env.num_envs > 1:
            self._train_batched(self.env, total_timesteps, callback, log_interval)
        else:
            self._train_vectorized(self.env, total_timesteps, callback, log_interval)
        callback.on_training_end()
        return self

    def predict(
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """Actions for one observation or a batch: greedy (ties to the lowest action) when
        ``deterministic``, else epsilon-greedy at the current ``exploration_rate`` with ties broken at
        random, drawing from the agent's own seeded generator."""
        if deterministic or self.exploration_rate <= 0.0:
            return self.policy.predict(observation, state, episode_start, deterministic=True)
        if isinstance(observation, dict):
            raise ValueError(
                f"{type(self).__name__} takes Discrete or MultiDiscrete observations, not a dict"
            )
        batch = self._states.is_batch(observation)
        uniform = self._predict_rng.random
        rows = self._states.indices(observation).tolist()
        chosen = [self._epsilon_greedy(row, self.exploration_rate, uniform) for row in rows]
        actions = np.asarray(chosen, dtype=np.int64) + self._actions.start
        return (actions if batch else actions.reshape(())), state

    def dump_logs(self) -> None:
        """Write the rollout and training statistics to the logger."""
        assert self.ep_info_buffer is not None
        assert self.ep_success_buffer is not None
        time_elapsed = max((time.time_ns() - self.start_time) / 1e9, sys.float_info.epsilon)
        fps = int((self.num_timesteps - self._num_timesteps_at_start) / time_elapsed)
        self.logger.record("time/episodes", self._episode_num, exclude="tensorboard")
        if len(self.ep_info_buffer) > 0 and len(self.ep_info_buffer[0]) > 0:
            self.logger.record("rollout/ep_rew_mean", safe_mean([info["r"] for info in self.ep_info_buffer]))
            self.logger.record("rollout/ep_len_mean", safe_mean([info["l"] for info in self.ep_info_buffer]))
        if len(self.ep_success_buffer) > 0:
            self.logger.record("rollout/success_rate", safe_mean(self.ep_success_buffer))
        self.logger.record("rollout/exploration_rate", self.exploration_rate)
        self.logger.record("time/fps", fps)
        self.logger.record("time/time_elapsed", int(time_elapsed), exclude="tensorboard")
        self.logger.record("time/total_timesteps", self.num_timesteps, exclude="tensorboard")
        self.logger.record("train/learning_rate", self.lr_schedule(self._current_progress_remaining))
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.dump(step=self.num_timesteps)

    def save(
        self,
        path: str | pathlib.Path | io.BufferedIOBase,
        exclude: Any = None,
        include: Any = None,
    ) -> None:
        """Save to a zip of plain JSON and ``.npy`` arrays (no pickle), atomically when ``path`` is a path.

        As in SB3, ``.zip`` is appended to a path without suffix. ``exclude``/``include`` exist for
        signature compatibility: a tabular model always saves the same complete set of fields.
        """
        if exclude or include:
            raise ValueError(
                "exclude and include are not supported: a tabular model saves a fixed set of fields"
            )
        persistence.save_model(self, path)

    @classmethod
    def load(
        cls: type[SelfTabular],
        path: str | pathlib.Path | io.BufferedIOBase,
        env: GymEnv | None = None,
        device: th.device | str = "auto",
        custom_objects: dict[str, Any] | None = None,
        print_system_info: bool = False,
        force_reset: bool = True,
        **kwargs: Any,
    ) -> SelfTabular:
        """Load a model saved by :meth:`save`, never unpickling anything.

        ``env`` (optional) must have the saved spaces, as SB3's ``check_for_correct_spaces`` checks.
        ``custom_objects`` replaces saved hyperparameters (names it does not know are ignored, as in
        SB3); ``kwargs`` override hyperparameters too. Calling ``TabularAlgorithm.load`` returns
        whichever algorithm the file holds. The file holds no env state, so training after a load
        always starts with a reset (``force_reset`` is accepted for compatibility).
        """
        del force_reset
        return persistence.load_model(cls, path, env, device, custom_objects, print_system_info, kwargs)

    # --- what users read -------------------------------------------------------------------------

    @property
    def q_table(self) -> NDArray[np.float64]:
        """A copy of the Q-table, shape (n_states, n_actions) (the mean of both tables for Double Q)."""
        return np.asarray(self.policy.tables.mean(axis=0), dtype=np.float64)

    @property
    def visit_counts(self) -> NDArray[np.int64]:
        """A copy of the number of updates of each (state, action), shape (n_states, n_actions)."""
        return np.asarray(self.policy.visits.sum(axis=0), dtype=np.int64)

    def hyperparameters(self) -> dict[str, Any]:
        """The constructor arguments that define this model (what ``save`` stores besides tables)."""
        return {
            "learning_rate": self.learning_rate,
            "gamma": self.gamma,
            "exploration_fraction": self.exploration_fraction,
            "exploration_initial_eps": self.exploration_initial_eps,
            "exploration_final_eps": self.exploration_final_eps,
            "visit_decay": self.visit_decay,
            "stats_window_size": self._stats_window_size,
            "tensorboard_log": self.tensorboard_log,
            "policy_kwargs": dict(self.policy_kwargs),
            "verbose": self.verbose,
            "seed": self.seed,
        }

    # --- helpers for the rules -------------------------------------------------------------------

    def _bind_tables(self) -> None:
        """Cache numpy views of the policy's storage for the hot loop."""
        tables, visits = self.policy.tables, self.policy.visits
        self._q_tables = [tables[i] for i in range(self.n_tables)]
        self._visit_tables = [visits[i] for i in range(self.n_tables)]
        self._q = self._q_tables[0]

    def _step_size(self, table: int, state: int, action: int, alpha: float) -> float:
        """Count the visit of (state, action) in ``table`` and return its step size."""
        visits = self._visit_tables[table]
        n = visits.item(state, action) + 1
        visits[state, action] = n
        if self.visit_decay is None:
            return alpha
        return max(math.pow(n, -self.visit_decay), alpha)

    def _action_values(self, state: int) -> list[float]:
        """The values the behaviour policy compares in ``state``."""
        return self._q[state].tolist()  # type: ignore[no-any-return]

    def _epsilon_greedy(self, state: int, epsilon: float, uniform: Uniform) -> int:
        """Epsilon-greedy action index with ties among the greedy actions broken uniformly at random."""
        if uniform() < epsilon:
            return int(uniform() * self._actions.n_actions)
        values = self._action_values(state)
        best = max(values)
        if values.count(best) == 1:
            return values.index(best)
        ties = [i for i, value in enumerate(values) if value == best]
        return ties[int(uniform() * len(ties))]

    # --- the two loops ---------------------------------------------------------------------------

    def _direct_env(self) -> gym.Env[Any, Any] | None:
        """The lone env inside a plain one-env DummyVecEnv, which can be stepped without the copies."""
        env = self.env
        if self._direct_stepping and type(env) is DummyVecEnv and env.num_envs == 1:
            return env.envs[0]
        return None

    def _train_direct(
        self, env: gym.Env[Any, Any], total_timesteps: int, callback: BaseCallback, log_interval: int | None
    ) -> None:
        index, act, update = self._states.index, self._epsilon_greedy, self._update
        uniform = self._rng.random
        offset = self._actions.start
        constant_alpha = constant_value(self.learning_rate)
        notify = _needs_per_step_calls(callback)
        assert self._last_obs is not None
        observation: Any = np.asarray(self._last_obs)[0]
        state = index(observation)
        pending = self._pending_actions[0]
        episode_start = self._last_episode_starts is None or bool(self._last_episode_starts[0])
        try:
            while self.num_timesteps < total_timesteps:
                epsilon, alpha = self._next_step_schedules(total_timesteps, constant_alpha)
                if notify:
                    callback.on_rollout_start()
                action = pending if pending is not None else act(state, epsilon, uniform)
                next_observation, reward, terminated, truncated, info = env.step(action + offset)
                self.num_timesteps += 1
                self._n_updates += 1
                next_state = index(next_observation)
                chosen = update(
                    state, action, float(reward), None if terminated else next_state, alpha, epsilon
                )
                done = terminated or truncated
                if done:
                    info["TimeLimit.truncated"] = truncated and not terminated
                    info["terminal_observation"] = next_observation
                    next_observation, _ = env.reset()
                    next_state = index(next_observation)
                    chosen = None
                observation, state, pending, episode_start = next_observation, next_state, chosen, done
                keep_going = True
                if notify:
                    callback.update_locals(
                        _step_locals(action + offset, observation, float(reward), done, info, total_timesteps)
                    )
                    keep_going = callback.on_step()
                if done:
                    self._end_episodes([info], np.array([True]), log_interval)
                if not keep_going:
                    break
                if notify:
                    callback.on_rollout_end()
        finally:
            self._last_obs = np.expand_dims(np.asarray(observation, dtype=self.observation_space.dtype), 0)
            self._last_episode_starts = np.array([episode_start])
            self._pending_actions = [pending]

    def _train_vectorized(
        self, env: VecEnv, total_timesteps: int, callback: BaseCallback, log_interval: int | None
    ) -> None:
        indices, index, act, update = (
            self._states.indices,
            self._states.index,
            self._epsilon_greedy,
            self._update,
        )
        uniform = self._rng.random
        offset = self._actions.start
        n_envs = env.num_envs
        constant_alpha = constant_value(self.learning_rate)
        notify = _needs_per_step_calls(callback)
        states: list[int] = indices(self._last_obs).tolist()
        pending = list(self._pending_actions)
        while self.num_timesteps < total_timesteps:
            epsilon, alpha = self._next_step_schedules(total_timesteps, constant_alpha)
            if notify:
                callback.on_rollout_start()
            chosen_actions = [
                p if p is not None else act(s, epsilon, uniform) for s, p in zip(states, pending, strict=True)
            ]
            actions = np.asarray(chosen_actions, dtype=np.int64) + offset
            new_obs, rewards, dones, infos = env.step(actions)
            self.num_timesteps += n_envs
            self._n_updates += n_envs
            next_states: list[int] = indices(new_obs).tolist()
            # One env after the other: when two envs update the same (s, a) in one step, the second
            # update sees the first, exactly as if the transitions had come one at a time.
            for i in range(n_envs):
                bootstrap: int | None = next_states[i]
                if dones[i]:
                    bootstrap = _bootstrap_state(infos[i], index)
                chosen = update(states[i], chosen_actions[i], float(rewards[i]), bootstrap, alpha, epsilon)
                pending[i] = None if dones[i] else chosen
            states = next_states
            self._last_obs = new_obs  # type: ignore[assignment]
            self._last_episode_starts = dones
            self._pending_actions = list(pending)
            step_locals: dict[str, Any] = {"actions": actions, "new_obs": new_obs, "rewards": rewards}
            step_locals |= {"dones": dones, "infos": infos, "total_timesteps": total_timesteps}
            if not self._end_vec_step(callback if notify else None, step_locals, log_interval):
                break
            if notify:
                callback.on_rollout_end()

    def _train_batched(
        self, env: VecEnv, total_timesteps: int, callback: BaseCallback, log_interval: int | None
    ) -> None:
        """The loop over a VecEnv of several envs for a rule with a batch form (Q-learning, Expected SARSA).

        Actions: epsilon-greedy for the whole batch at once, one uniform ``u`` per env drawn from the
        agent's seeded generator (53-bit floats from ``self._rng.getrandbits``): the env explores when
        ``u < epsilon``, taking action ``floor(u / epsilon * n_actions)``; otherwise it takes the
        greedy action, ties broken by ``(u - epsilon) / (1 - epsilon)``. Same distribution as the
        per-env loop, different use of the random numbers, so a seed gives another (still
        deterministic) run than with ``_batched_stepping`` off.

        Updates: exactly the per-env loop's: applied one after the other in env order (a later env
        sees an earlier env's update of the same pair or of its next state), with the same float
        operations, so for the same transitions the table and visit counts are bit-identical. See
        :meth:`_learn_from_batch`.
        """
        indices, index = self._states.indices, self._states.index
        offset = self._actions.start
        n_envs = env.num_envs
        constant_alpha = constant_value(self.learning_rate)
        notify = _needs_per_step_calls(callback)
        states = indices(self._last_obs)
        self._pending_actions = [None] * n_envs
        while self.num_timesteps < total_timesteps:
            epsilon, alpha = self._next_step_schedules(total_timesteps, constant_alpha)
            if notify:
                callback.on_rollout_start()
            chosen = self._batch_epsilon_greedy(states, epsilon)
            actions = chosen + offset
            new_obs, rewards, dones, infos = env.step(actions)
            self.num_timesteps += n_envs
            self._n_updates += n_envs
            next_states = indices(new_obs)
            bootstrap = next_states.copy()
            for i in np.flatnonzero(dones).tolist():
                last = _bootstrap_state(infos[i], index)
                bootstrap[i] = -1 if last is None else last
            self._learn_from_batch(states, chosen, rewards, bootstrap, alpha, epsilon)
            states = next_states
            self._last_obs = new_obs  # type: ignore[assignment]
            self._last_episode_starts = dones
            step_locals: dict[str, Any] = {"actions": actions, "new_obs": new_obs, "rewards": rewards}
            step_locals |= {"dones": dones, "infos": infos, "total_timesteps": total_timesteps}
            if not self._end_vec_step(callback if notify else None, step_locals, log_interval):
                break
            if notify:
                callback.on_rollout_end()

    def _batch_epsilon_greedy(self, states: NDArray[np.int64], epsilon: float) -> NDArray[np.int64]:
        """Epsilon-greedy action indices of a batch of states (see :meth:`_train_batched`)."""
        n, n_actions = len(states), self._actions.n_actions
        bits = np.frombuffer(self._rng.getrandbits(64 * n).to_bytes(8 * n, "little"), dtype="<u8")
        uniforms = (bits >> np.uint64(11)).astype(np.float64) * 2.0**-53
        assert self.n_tables == 1, "the batched loop serves single-table rules"
        q = self._q
        # Greedy actions and ties per table row when the table has fewer rows than the batch.
        per_row = q.shape[0] <= n
        values = q if per_row else q[states]
        greedy = values.argmax(axis=1)
        is_best = values == values.max(axis=1)[:, None]
        tie_counts = is_best.sum(axis=1)
        if per_row:
            greedy, tie_counts = greedy[states], tie_counts[states]
        chosen = greedy
        tied = np.flatnonzero(tie_counts > 1)
        if tied.size and epsilon < 1.0:
            ties = is_best[states[tied]] if per_row else is_best[tied]
            draws = (uniforms[tied] - epsilon) / (1.0 - epsilon)
            n_ties = ties.sum(axis=1)
            rank = np.minimum((draws * n_ties).astype(np.int64), n_ties - 1)  # draws may round to 1
            chosen[tied] = (np.cumsum(ties, axis=1) > rank[:, None]).argmax(axis=1)
        if epsilon > 0.0:
            explore = np.flatnonzero(uniforms < epsilon)
            chosen[explore] = np.minimum(
                (uniforms[explore] / epsilon * n_actions).astype(np.int64), n_actions - 1
            )
        return np.asarray(chosen, dtype=np.int64)

    def _learn_from_batch(
        self,
        states: NDArray[np.int64],
        actions: NDArray[np.int64],
        rewards: NDArray[Any],
        next_states: NDArray[np.int64],
        alpha: float,
        epsilon: float,
    ) -> None:
        """Update the table from a batch of transitions as the per-env loop would, one after the other.

        ``next_states[i]`` is -1 when episode ``i`` terminated. Visit counts and visit-decay step
        sizes come from numpy (the ``k``-th update of a pair in the batch gets count ``n + k``);
        the value updates run in one pass of plain Python floats over the rows the batch touches,
        the same operations as :meth:`_update`, so the result is bit-identical to it.
        """
        n_actions = self._actions.n_actions
        visits = self._visit_tables[0].reshape(-1)
        cells = states * n_actions + actions
        if self.visit_decay is None:
            steps = [alpha] * len(cells)
            np.add.at(visits, cells, 1)
        else:
            order = np.argsort(cells, kind="stable")
            ordered = cells[order]
            first = np.ones(len(cells), dtype=bool)
            first[1:] = ordered[1:] != ordered[:-1]
            position = np.arange(len(cells))
            rank = np.empty(len(cells), dtype=np.int64)
            rank[order] = position - np.maximum.accumulate(np.where(first, position, 0))
            counts = visits[cells] + rank + 1
            steps = np.maximum(self._decay_powers(int(counts.max()))[counts], alpha).tolist()
            np.add.at(visits, cells, 1)
        q = self._q
        terminal = next_states < 0
        if q.shape[0] <= 2 * len(cells):
            rows = q.tolist()
            local_states, local_next = states, next_states
        else:
            touched, inverse = np.unique(
                np.concatenate((states, np.where(terminal, states, next_states))), return_inverse=True
            )
            rows = q[touched].tolist()
            local_states = inverse[: len(cells)]
            local_next = np.where(terminal, -1, inverse[len(cells) :])
        self._update_batch(
            rows,
            local_states.tolist(),
            actions.tolist(),
            rewards.astype(np.float64).tolist(),
            local_next.tolist(),
            steps,
            epsilon,
        )
        if q.shape[0] <= 2 * len(cells):
            q[...] = rows
        else:
            q[touched] = rows

    def _decay_powers(self, largest: int) -> NDArray[np.float64]:
        """``n ** -visit_decay`` for n = 0..largest, each from ``math.pow`` as :meth:`_step_size` does."""
        assert self.visit_decay is not None
        cached = self._decay_cache
        if cached is None or cached[0] != self.visit_decay or len(cached[1]) <= largest:
            size = max(2 * largest, 1024)
            powers = [0.0] + [math.pow(n, -self.visit_decay) for n in range(1, size + 1)]
            cached = (self.visit_decay, np.array(powers))
            self._decay_cache = cached
        return cached[1]

    def _next_step_schedules(self, total_timesteps: int, constant_alpha: float | None) -> tuple[float, float]:
        """Epsilon and step size for the next step; also sets SB3's progress and exploration attributes."""
        progress = 1.0 - self.num_timesteps / total_timesteps
        self._current_progress_remaining = progress
        self.exploration_rate = linear_epsilon(*self._exploration(), progress)
        alpha = constant_alpha if constant_alpha is not None else self.lr_schedule(progress)
        return self.exploration_rate, alpha

    def _end_vec_step(
        self, callback: BaseCallback | None, step_locals: dict[str, Any], log_interval: int | None
    ) -> bool:
        """Callback and episode bookkeeping after one VecEnv step; False when a callback stops training."""
        keep_going = True
        if callback is not None:
            callback.update_locals(step_locals)
            keep_going = callback.on_step()
        if step_locals["dones"].any():
            self._end_episodes(step_locals["infos"], step_locals["dones"], log_interval)
        return keep_going

    def _exploration(self) -> tuple[float, float, float]:
        return self.exploration_initial_eps, self.exploration_final_eps, self.exploration_fraction

    def _end_episodes(self, infos: list[dict[str, Any]], dones: np.ndarray, log_interval: int | None) -> None:
        """Episode statistics (from ``Monitor``'s ``info["episode"]``) and periodic log dumps."""
        self._update_info_buffer(infos, dones)
        for _ in range(int(np.count_nonzero(dones))):
            self._episode_num += 1
            if log_interval is not None and self._episode_num % log_interval == 0:
                self.dump_logs()


def _bootstrap_state(info: dict[str, Any], index: Callable[[Any], int]) -> int | None:
    """The state to bootstrap from at the end of an episode: the last one if truncated, none if terminated."""
    if not info.get("TimeLimit.truncated", False):
        return None
    if "terminal_observation" not in info:
        raise ValueError(
            "a truncated episode needs infos[i]['terminal_observation'] to bootstrap from; use an SB3 VecEnv "
            "(DummyVecEnv, SubprocVecEnv), which provides it"
        )
    return index(info["terminal_observation"])


def _needs_per_step_calls(callback: BaseCallback) -> bool:
    """False only for the do-nothing callback SB3 builds when ``learn`` gets no callback."""
    return not (type(callback) is ConvertCallback and callback.callback is None)


def _step_locals(
    action: int, new_obs: Any, reward: float, done: bool, info: dict[str, Any], total_timesteps: int
) -> dict[str, Any]:
    """A one-env step in the batched form SB3 callbacks read (``self.locals["rewards"]`` etc.)."""
    info.setdefault("TimeLimit.truncated", False)  # as DummyVecEnv sets it on every step
    return {
        "actions": np.array([action]),
        "new_obs": np.array([new_obs]),
        "rewards": np.array([reward], dtype=np.float32),
        "dones": np.array([done]),
        "infos": [info],
        "total_timesteps": total_timesteps,
    }


def _check_policy(policy: Any, aliases: dict[str, type[BasePolicy]]) -> None:
    if isinstance(policy, str):
        if policy not in aliases:
            raise ValueError(
                f"policy must be one of {sorted(aliases)} or a TabularPolicy class, got {policy!r}"
            )
    elif not (isinstance(policy, type) and issubclass(policy, TabularPolicy)):
        raise ValueError(f"policy must be one of {sorted(aliases)} or a TabularPolicy class, got {policy!r}")


def _check_hyperparameters(
    learning_rate: LearningRate,
    gamma: float,
    exploration_fraction: float,
    exploration_initial_eps: float,
    exploration_final_eps: float,
    visit_decay: float | None,
) -> None:
    constant = constant_value(learning_rate)
    if constant is None and not callable(learning_rate):
        raise ValueError(
            f"learning_rate must be a number in [0, 1] or a schedule callable, got {learning_rate!r}"
        )
    if constant is not None and not 0.0 <= constant <= 1.0:
        raise ValueError(f"learning_rate must be in [0, 1], got {constant}")
    for name, value in (
        ("gamma", gamma),
        ("exploration_fraction", exploration_fraction),
        ("exploration_initial_eps", exploration_initial_eps),
        ("exploration_final_eps", exploration_final_eps),
    ):
        if not (isinstance(value, int | float) and not isinstance(value, bool) and 0.0 <= value <= 1.0):
            raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    if visit_decay is not None and not (isinstance(visit_decay, int | float) and 0.0 < visit_decay <= 1.0):
        raise ValueError(f"visit_decay must be None or a number in (0, 1], got {visit_decay!r}")
