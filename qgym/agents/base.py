"""The shared base of the tabular agents: an SB3 ``BaseAlgorithm`` around Q-tables and one rule.

An algorithm is a :class:`TabularAlgorithm` with a ``rule_class`` (:mod:`qgym.agents.rules`: what a TD
update bootstraps from); :mod:`qgym.agents.algorithms` makes one per registered rule. The base supplies
what a Stable-Baselines3 user expects: construction from an env or an env ID, ``learn`` with callbacks,
logger and progress bar (the loops are in :mod:`qgym.agents.loops`), ``predict``, ``save`` and
``load`` (:mod:`qgym.agents.save_load`; the file format is :mod:`qgym.agents.file_format`).
"""

from __future__ import annotations

import sys
from dataclasses import fields
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from numpy.typing import NDArray
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback
from stable_baselines3.common.utils import safe_mean

from qgym.agents import sb3_surface as sb3
from qgym.agents.exploration import choose_one
from qgym.agents.loops import TrainingLoops
from qgym.agents.policy import TabularPolicy
from qgym.agents.rules import Rule
from qgym.agents.save_load import ModelFiles
from qgym.agents.schedules import LearningRate
from qgym.agents.settings import Hyperparameters, generators
from qgym.agents.spaces import ActionIndexer, StateIndexer
from qgym.agents.step_sizes import StepSizes

__all__ = ["TabularAlgorithm"]

SelfTabular = TypeVar("SelfTabular", bound="TabularAlgorithm")
_DEFAULT = Hyperparameters()


class TabularAlgorithm(TrainingLoops, ModelFiles, BaseAlgorithm):
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
    :param rule_parameters: the rule's own hyperparameters, by name (e.g. n-step SARSA's ``n_steps``).
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "TabularPolicy": TabularPolicy,
        "MlpPolicy": TabularPolicy,
    }
    rule_class: ClassVar[type[Rule] | None] = None
    """The learning rule (set by :mod:`qgym.agents.algorithms` for each algorithm)."""
    n_tables: ClassVar[int] = 1
    """Q-tables the rule keeps (two for Double Q-learning)."""
    policy: TabularPolicy
    rule: Rule
    _rule_key: tuple[Any, ...] | None = None

    def __init__(
        self,
        policy: str | type[TabularPolicy],
        env: GymEnv | str | None,
        learning_rate: LearningRate = _DEFAULT.learning_rate,
        gamma: float = _DEFAULT.gamma,
        exploration_fraction: float = _DEFAULT.exploration_fraction,
        exploration_initial_eps: float = _DEFAULT.exploration_initial_eps,
        exploration_final_eps: float = _DEFAULT.exploration_final_eps,
        visit_decay: float | None = _DEFAULT.visit_decay,
        stats_window_size: int = _DEFAULT.stats_window_size,
        tensorboard_log: str | None = _DEFAULT.tensorboard_log,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = _DEFAULT.verbose,
        seed: int | None = _DEFAULT.seed,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
        **rule_parameters: Any,
    ) -> None:
        rule = type(self).rule_class
        if rule is None:
            raise TypeError(
                f"{type(self).__name__} has no learning rule; use one of the algorithms of qgym.agents "
                "(QLearning, SARSA, ...) or give the subclass a rule_class"
            )
        settings = Hyperparameters(
            learning_rate=learning_rate,
            gamma=gamma,
            exploration_fraction=exploration_fraction,
            exploration_initial_eps=exploration_initial_eps,
            exploration_final_eps=exploration_final_eps,
            visit_decay=visit_decay,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            policy_kwargs=dict(policy_kwargs or {}),
            verbose=verbose,
            seed=seed,
            rule_parameters=rule.check_parameters(rule_parameters),
        )
        _check_policy(policy, self.policy_aliases)
        if str(device) not in ("auto", "cpu"):
            raise ValueError(
                f"device must be 'auto' or 'cpu' (the Q-table lives in CPU memory), got {device!r}"
            )
        super().__init__(
            policy=policy,
            env=env,
            learning_rate=settings.learning_rate,
            policy_kwargs=dict(settings.policy_kwargs),
            stats_window_size=settings.stats_window_size,
            tensorboard_log=settings.tensorboard_log,
            verbose=settings.verbose,
            device="cpu",
            support_multi_env=True,
            monitor_wrapper=True,
            seed=None if settings.seed is None else int(settings.seed),
        )
        self.gamma = float(settings.gamma)
        self.exploration_fraction = float(settings.exploration_fraction)
        self.exploration_initial_eps = float(settings.exploration_initial_eps)
        self.exploration_final_eps = float(settings.exploration_final_eps)
        self.visit_decay = None if settings.visit_decay is None else float(settings.visit_decay)
        self.rule_parameters = dict(settings.rule_parameters)
        self.exploration_rate = self.exploration_initial_eps
        self._pending_actions: list[int | None] = []
        if self.env is not None:
            # Fail at construction, naming the wrapper, rather than deep inside learn().
            StateIndexer(self.observation_space, type(self).__name__)
            ActionIndexer(self.action_space, type(self).__name__)
        if _init_setup_model:
            self._setup_model()

    # --- SB3 interface ---------------------------------------------------------------------------

    def _setup_model(self) -> None:
        sb3.setup_lr_schedule(self)
        policy = self.policy_class(
            self.observation_space, self.action_space, n_tables=self.n_tables, **self.policy_kwargs
        )
        assert isinstance(policy, TabularPolicy)
        self.policy = policy
        self._states = self.policy.states
        self._actions = self.policy.actions
        self._prepare()
        self.set_random_seed(self.seed)

    def set_random_seed(self, seed: int | None = None) -> None:
        """Seed the agent's own generators (exploration, predict), the action space and the env.

        Unlike SB3's algorithms, the global ``random``/``numpy``/``torch`` generators are left alone.
        """
        self._rng, self._predict_rng = generators(seed)
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
        fresh_start = reset_num_timesteps or sb3.last_step(self)[0] is None
        total_timesteps, callback = sb3.learn_setup(
            self,
            int(total_timesteps),
            callback,
            reset_num_timesteps,
            tb_log_name or type(self).__name__,
            progress_bar,
        )
        if fresh_start or len(self._pending_actions) != self.n_envs:
            self._pending_actions = [None] * self.n_envs
            self._rule_key = None  # new episodes: a rule's memory of the last ones goes
        self._prepare()
        callback.on_training_start(locals(), globals())
        self._train(self.env, total_timesteps, callback, log_interval)
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
        batched = self._states.is_batch(observation)
        uniform = self._predict_rng.random
        rows = self._states.indices(observation).tolist()
        values = self.rule.action_values
        chosen = [choose_one(values(self._q_tables, row), self.exploration_rate, uniform) for row in rows]
        actions = np.asarray(chosen, dtype=np.int64) + self._actions.start
        return (actions if batched else actions.reshape(())), state

    def dump_logs(self) -> None:
        """Write the rollout and training statistics to the logger."""
        assert self.ep_info_buffer is not None
        assert self.ep_success_buffer is not None
        run = sb3.run_state(self)
        time_elapsed = max(run["seconds"], sys.float_info.epsilon)
        fps = int((self.num_timesteps - run["steps_at_start"]) / time_elapsed)
        self.logger.record("time/episodes", run["episode_num"], exclude="tensorboard")
        if len(self.ep_info_buffer) > 0 and len(self.ep_info_buffer[0]) > 0:
            self.logger.record("rollout/ep_rew_mean", safe_mean([info["r"] for info in self.ep_info_buffer]))
            self.logger.record("rollout/ep_len_mean", safe_mean([info["l"] for info in self.ep_info_buffer]))
        if len(self.ep_success_buffer) > 0:
            self.logger.record("rollout/success_rate", safe_mean(self.ep_success_buffer))
        self.logger.record("rollout/exploration_rate", self.exploration_rate)
        self.logger.record("time/fps", fps)
        self.logger.record("time/time_elapsed", int(time_elapsed), exclude="tensorboard")
        self.logger.record("time/total_timesteps", self.num_timesteps, exclude="tensorboard")
        self.logger.record("train/learning_rate", self.lr_schedule(run["progress_remaining"]))
        self.logger.record("train/n_updates", run["n_updates"], exclude="tensorboard")
        self.logger.dump(step=self.num_timesteps)

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
        return self._settings().as_kwargs()

    # --- helpers ---------------------------------------------------------------------------------

    def _settings(self) -> Hyperparameters:
        """The model's hyperparameters as they stand (SB3 users may set attributes like ``gamma``)."""
        values = {
            field.name: getattr(self, field.name)
            for field in fields(Hyperparameters)
            if field.name != "stats_window_size"  # SB3 keeps it under a private name
        }
        return Hyperparameters(**values, stats_window_size=sb3.stats_window_size(self))

    def _prepare(self) -> None:
        """The rule with the current hyperparameters (kept, with any memory of unfinished episodes,
        while they stay the same), and numpy views of the policy's storage."""
        assert self.rule_class is not None
        tables, visits = self.policy.tables, self.policy.visits
        self._q_tables = [tables[i] for i in range(self.n_tables)]
        self._visit_tables = [visits[i] for i in range(self.n_tables)]
        key = (self.gamma, self.visit_decay, tuple(sorted(self.rule_parameters.items())))
        if self._rule_key != key:
            self.rule = self.rule_class(self.gamma, StepSizes(self.visit_decay), **self.rule_parameters)
            self._rule_key = key


def _check_policy(policy: Any, aliases: dict[str, type[BasePolicy]]) -> None:
    if isinstance(policy, str):
        if policy not in aliases:
            raise ValueError(
                f"policy must be one of {sorted(aliases)} or a TabularPolicy class, got {policy!r}"
            )
    elif not (isinstance(policy, type) and issubclass(policy, TabularPolicy)):
        raise ValueError(f"policy must be one of {sorted(aliases)} or a TabularPolicy class, got {policy!r}")
