"""The loops that feed a tabular rule its transitions, with SB3's callbacks and episode bookkeeping.

Three loops, one per kind of env, all following ``DummyVecEnv``'s auto-reset semantics:

* a lone env (what ``QLearning("TabularPolicy", env)`` gets: SB3 wraps it in a ``Monitor`` and a
  one-env ``DummyVecEnv``) is stepped directly, without the ``DummyVecEnv``'s copies;
* any other VecEnv goes through its ``step``, one env's update after the other;
* a VecEnv of several envs, for a rule with a batch form (Q-learning, Expected SARSA), takes the
  batched loop: actions for all envs at once, updates bit-identical to one env after the other,
  compiled (:mod:`qgym.agents.kernels`) when numba is installed, else through numpy
  (:mod:`qgym.agents.batch`).

The first two use the random numbers in the same order, so a seed gives the same table either way.
Every loop applies the model's rule (:class:`qgym.agents.rules.Rule`) and reaches SB3's run state only
through :mod:`qgym.agents.sb3_surface`. :class:`TrainingLoops` is a mixin of
:class:`qgym.agents.base.TabularAlgorithm`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray
from stable_baselines3.common.callbacks import BaseCallback, ConvertCallback
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from qgym.agents import batch, kernels
from qgym.agents import sb3_surface as sb3
from qgym.agents.exploration import choose_for_states, choose_one, uniforms
from qgym.agents.rules import Rule
from qgym.agents.schedules import LearningRate, constant_value, linear_epsilon
from qgym.agents.spaces import ActionIndexer, StateIndexer

__all__ = ["TrainingLoops"]


class TrainingLoops:
    """The three learning loops over the model's rule (``self.rule``) and tables."""

    if TYPE_CHECKING:  # provided by TabularAlgorithm and SB3's public API
        env: VecEnv | None
        num_timesteps: int
        learning_rate: LearningRate
        exploration_rate: float
        exploration_initial_eps: float
        exploration_final_eps: float
        exploration_fraction: float
        lr_schedule: Callable[[float], float]
        observation_space: gym.Space[Any]
        rule: Rule
        _states: StateIndexer
        _actions: ActionIndexer
        _rng: random.Random
        _q_tables: list[NDArray[np.float64]]
        _visit_tables: list[NDArray[np.int64]]
        _pending_actions: list[int | None]

        def dump_logs(self) -> None: ...

    def _train(
        self, env: VecEnv, total_timesteps: int, callback: BaseCallback, log_interval: int | None
    ) -> None:
        """Run the loop that fits ``env`` and the rule."""
        if type(env) is DummyVecEnv and env.num_envs == 1:
            self._train_direct(env.envs[0], total_timesteps, callback, log_interval)
        elif self.rule.has_batch_form() and env.num_envs > 1:
            self._train_batched(env, total_timesteps, callback, log_interval)
        else:
            self._train_vectorized(env, total_timesteps, callback, log_interval)

    def _train_direct(
        self, env: gym.Env[Any, Any], total_timesteps: int, callback: BaseCallback, log_interval: int | None
    ) -> None:
        """The lone env inside a plain one-env DummyVecEnv, stepped without the DummyVecEnv's copies."""
        index = self._states.index
        learn, values = self.rule.learn_one, self.rule.action_values
        tables, visits = self._q_tables, self._visit_tables
        uniform = self._rng.random
        offset = self._actions.start
        constant_alpha = constant_value(self.learning_rate)
        notify = _needs_per_step_calls(callback)
        last_observations, last_starts = sb3.last_step(self)
        assert last_observations is not None
        observation: Any = self._states.first(last_observations)  # a Tuple's too (SB3 gives its parts)
        state = index(observation)
        pending = self._pending_actions[0]
        episode_start = last_starts is None or bool(last_starts[0])
        try:
            while self.num_timesteps < total_timesteps:
                epsilon, alpha = self._next_step_schedules(total_timesteps, constant_alpha)
                if notify:
                    callback.on_rollout_start()
                action = (
                    pending if pending is not None else choose_one(values(tables, state), epsilon, uniform)
                )
                next_observation, reward, terminated, truncated, info = env.step(action + offset)
                sb3.count_steps(self, 1)
                next_state = index(next_observation)
                done = terminated or truncated
                transition = (state, action, float(reward), None if terminated else next_state)
                chosen = learn(tables, visits, transition, alpha, epsilon, uniform, 0, done)
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
            last = np.expand_dims(np.asarray(observation, dtype=self.observation_space.dtype), 0)
            sb3.set_last_step(self, last, np.array([episode_start]))
            self._pending_actions = [pending]

    def _train_vectorized(
        self, env: VecEnv, total_timesteps: int, callback: BaseCallback, log_interval: int | None
    ) -> None:
        """Any VecEnv through its ``step``, the updates one env after the other."""
        indices, index = self._states.indices, self._states.index
        learn, values = self.rule.learn_one, self.rule.action_values
        tables, visits = self._q_tables, self._visit_tables
        uniform = self._rng.random
        offset = self._actions.start
        n_envs = env.num_envs
        constant_alpha = constant_value(self.learning_rate)
        notify = _needs_per_step_calls(callback)
        states: list[int] = indices(sb3.last_step(self)[0]).tolist()
        pending = list(self._pending_actions)
        while self.num_timesteps < total_timesteps:
            epsilon, alpha = self._next_step_schedules(total_timesteps, constant_alpha)
            if notify:
                callback.on_rollout_start()
            chosen_actions = [
                p if p is not None else choose_one(values(tables, s), epsilon, uniform)
                for s, p in zip(states, pending, strict=True)
            ]
            actions = np.asarray(chosen_actions, dtype=np.int64) + offset
            new_obs, rewards, dones, infos = env.step(actions)
            sb3.count_steps(self, n_envs)
            next_states: list[int] = indices(new_obs).tolist()
            # One env after the other: when two envs update the same (s, a) in one step, the second
            # update sees the first, exactly as if the transitions had come one at a time.
            for i in range(n_envs):
                done = bool(dones[i])
                bootstrap = _bootstrap_state(infos[i], index) if done else next_states[i]
                transition = (states[i], chosen_actions[i], float(rewards[i]), bootstrap)
                chosen = learn(tables, visits, transition, alpha, epsilon, uniform, i, done)
                pending[i] = None if done else chosen
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

        Actions: :func:`qgym.agents.exploration.choose_for_states` for the whole batch, one uniform per
        env drawn from the agent's seeded generator (53-bit floats from ``self._rng.getrandbits``):
        the same distribution as the per-env loop, another use of the random numbers, so a seed gives
        another (still deterministic) run than the per-env loop would.

        Updates: exactly the per-env loop's: applied one after the other in env order (a later env
        sees an earlier env's update of the same pair or of its next state), with the same float
        operations, so for the same transitions the table and visit counts are bit-identical.
        """
        indices, index = self._states.indices, self._states.index
        offset = self._actions.start
        n_envs = env.num_envs
        constant_alpha = constant_value(self.learning_rate)
        notify = _needs_per_step_calls(callback)
        compiled = kernels.load()
        formula = self.rule.compiled_target() if compiled is not None else None
        # qgym's adapter and monitor step as arrays, with info dicts only for the envs that finished.
        step_arrays = getattr(type(env), "step_arrays", None)
        states = indices(sb3.last_step(self)[0])
        self._pending_actions = [None] * n_envs
        while self.num_timesteps < total_timesteps:
            epsilon, alpha = self._next_step_schedules(total_timesteps, constant_alpha)
            if notify:
                callback.on_rollout_start()
            draws = uniforms(self._rng.getrandbits, len(states))
            q = self._q_tables[0]
            if compiled is not None:
                chosen = compiled.epsilon_greedy(q, states, float(epsilon), draws)
            else:
                chosen = choose_for_states(q, states, epsilon, draws)
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
            sb3.count_steps(self, n_envs)
            next_states = indices(new_obs)
            bootstrap = next_states.copy()
            for i, info in zip(finished.tolist(), finished_infos, strict=True):
                last = _bootstrap_state(info, index)
                bootstrap[i] = -1 if last is None else last
            transitions = (states, chosen, rewards, bootstrap)
            if compiled is not None and formula is not None:
                step_sizes = self.rule.step_sizes
                powers = None if step_sizes.visit_decay is None else step_sizes.powers
                settings = (alpha, epsilon, self.rule.gamma, formula)
                compiled.learn(q, self._visit_tables[0], transitions, settings, powers)
            else:
                batch.learn_from_batch(q, self._visit_tables[0], transitions, alpha, epsilon, self.rule)
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
        sb3.set_progress(self, progress)
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
        sb3.set_last_step(self, new_obs, dones)
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
        sb3.episode_statistics(self, finished_infos)
        for _ in finished_infos:
            episodes = sb3.finish_episode(self)
            if log_interval is not None and episodes % log_interval == 0:
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
