"""The loops that feed a tabular rule its transitions, with SB3's callbacks and episode bookkeeping.

Three loops, one per kind of env, all following ``DummyVecEnv``'s auto-reset semantics:

* a lone env (what ``QLearning("TabularPolicy", env)`` gets: SB3 wraps it in a ``Monitor`` and a
  one-env ``DummyVecEnv``) is stepped directly, without the ``DummyVecEnv``'s copies;
* any other VecEnv goes through its ``step``, one env's update after the other;
* a VecEnv of several envs, for a rule with a batch form (Q-learning, Expected SARSA), takes the
  batched loop: actions for all envs at once, updates bit-identical to one env after the other.

The first two use the random numbers in the same order, so a seed gives the same table either way.
:class:`TrainingLoops` is a mixin of :class:`qgym.agents.base.TabularAlgorithm`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback, ConvertCallback
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from qgym.agents.batched_rule import BatchedRule
from qgym.agents.schedules import LearningRate, constant_value, linear_epsilon
from qgym.agents.spaces import ActionIndexer, StateIndexer

__all__ = ["TrainingLoops"]

Uniform = Callable[[], float]


class TrainingLoops(BatchedRule):
    """The three learning loops; the algorithm supplies the rule (``_update``, or ``_target`` that
    :class:`BatchedRule` applies to a batch)."""

    # Stepping a lone env directly is an optimization only; tests switch it off to compare loops.
    _direct_stepping: bool = True

    if TYPE_CHECKING:  # provided by TabularAlgorithm and SB3's BaseAlgorithm
        env: VecEnv | None
        num_timesteps: int
        learning_rate: LearningRate
        exploration_rate: float
        exploration_initial_eps: float
        exploration_final_eps: float
        exploration_fraction: float
        lr_schedule: Callable[[float], float]
        _states: StateIndexer
        _actions: ActionIndexer
        _rng: random.Random
        _last_obs: Any
        _last_episode_starts: Any
        _pending_actions: list[int | None]
        _n_updates: int
        _episode_num: int
        _current_progress_remaining: float
        observation_space: gym.Space[Any]

        def _update(
            self, state: int, action: int, reward: float, next_state: int | None, alpha: float, epsilon: float
        ) -> int | None: ...

        def _epsilon_greedy(self, state: int, epsilon: float, uniform: Uniform) -> int: ...

        def _update_info_buffer(
            self, infos: list[dict[str, Any]], dones: np.ndarray | None = None
        ) -> None: ...

        def dump_logs(self) -> None: ...

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
        observation: Any = self._states.first(self._last_obs)
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
                    self._end_episodes([info], log_interval)
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
            self._pending_actions = list(pending)
            step = (actions, new_obs, rewards, dones, infos)
            finished = [infos[i] for i in np.flatnonzero(dones).tolist()]
            if not self._end_vec_step(
                callback if notify else None, step, total_timesteps, log_interval, finished
            ):
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
        deterministic) run than the per-env loop would.

        Updates: exactly the per-env loop's: applied one after the other in env order (a later env
        sees an earlier env's update of the same pair or of its next state), with the same float
        operations, so for the same transitions the table and visit counts are bit-identical. Runs of
        updates that cannot see each other go through the rule's batch form in one numpy pass; see
        :meth:`_learn_from_batch`.
        """
        indices, index = self._states.indices, self._states.index
        offset = self._actions.start
        n_envs = env.num_envs
        constant_alpha = constant_value(self.learning_rate)
        notify = _needs_per_step_calls(callback)
        # qgym's adapter and monitor step as arrays, with info dicts only for the envs that finished.
        step_arrays = getattr(type(env), "step_arrays", None)
        states = indices(self._last_obs)
        self._pending_actions = [None] * n_envs
        while self.num_timesteps < total_timesteps:
            epsilon, alpha = self._next_step_schedules(total_timesteps, constant_alpha)
            if notify:
                callback.on_rollout_start()
            chosen = self._batch_epsilon_greedy(states, epsilon)
            actions = chosen + offset
            infos: list[dict[str, Any]] | None = None
            if step_arrays is not None:
                step = step_arrays(env, actions)
                new_obs, rewards, dones = step.observations, step.rewards, step.dones
                finished, finished_infos = step.finished, step.finished_infos
                if notify:
                    infos = step.infos()
            else:
                new_obs, rewards, dones, infos = env.step(actions)
                finished = np.flatnonzero(dones)
                finished_infos = [infos[i] for i in finished.tolist()]
            self.num_timesteps += n_envs
            self._n_updates += n_envs
            next_states = indices(new_obs)
            bootstrap = next_states.copy()
            for i, info in zip(finished.tolist(), finished_infos, strict=True):
                last = _bootstrap_state(info, index)
                bootstrap[i] = -1 if last is None else last
            self._learn_from_batch(states, chosen, rewards, bootstrap, alpha, epsilon)
            states = next_states
            step = (actions, new_obs, rewards, dones, infos)
            if not self._end_vec_step(
                callback if notify else None, step, total_timesteps, log_interval, finished_infos
            ):
                break
            if notify:
                callback.on_rollout_end()

    def _next_step_schedules(self, total_timesteps: int, constant_alpha: float | None) -> tuple[float, float]:
        """Epsilon and step size for the next step; also sets SB3's progress and exploration attributes."""
        progress = 1.0 - self.num_timesteps / total_timesteps
        self._current_progress_remaining = progress
        self.exploration_rate = linear_epsilon(
            self.exploration_initial_eps, self.exploration_final_eps, self.exploration_fraction, progress
        )
        alpha = constant_alpha if constant_alpha is not None else self.lr_schedule(progress)
        return self.exploration_rate, alpha

    def _end_vec_step(
        self,
        callback: BaseCallback | None,
        step: tuple[Any, Any, Any, np.ndarray, list[dict[str, Any]] | None],
        total_timesteps: int,
        log_interval: int | None,
        finished_infos: list[dict[str, Any]],
    ) -> bool:
        """After one VecEnv step (actions, new observations, rewards, dones, infos): the model's last
        observation, the callback (the only reader of ``infos``) and the episode bookkeeping from the
        finished envs' infos; False when a callback stops training."""
        actions, new_obs, rewards, dones, infos = step
        self._last_obs = new_obs
        self._last_episode_starts = dones
        keep_going = True
        if callback is not None:
            callback.update_locals(
                {"actions": actions, "new_obs": new_obs, "rewards": rewards, "dones": dones, "infos": infos}
                | {"total_timesteps": total_timesteps}
            )
            keep_going = callback.on_step()
        if finished_infos:
            self._end_episodes(finished_infos, log_interval)
        return keep_going

    def _end_episodes(self, finished_infos: list[dict[str, Any]], log_interval: int | None) -> None:
        """Episode statistics from the finished envs' infos (``Monitor``'s ``info["episode"]``) and
        periodic log dumps."""
        self._update_info_buffer(finished_infos, np.ones(len(finished_infos), dtype=bool))
        for _ in finished_infos:
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
