"""The fast off-policy loop: DQN's collect-and-train cycle with SB3's meaning and little of its overhead.

Stable-Baselines3's ``OffPolicyAlgorithm.learn`` spends most of a small DQN's time around the
arithmetic (measured with py-spy in ``benchmarks/bench_dqn.py``'s notes): a ``predict`` through the
policy's preprocessing for every vector step, per-step bookkeeping, a replay ``add`` with copies and
a ``sample`` that re-wraps arrays, clipping that walks the parameters one by one, Adam's per-tensor
loop. :class:`FastLoop.learn` keeps every hyperparameter's meaning (``train_freq`` and
``gradient_steps`` per vector step, ``learning_starts`` and ``target_update_interval`` in env steps,
the exploration and learning-rate schedules over progress, ``n_steps`` returns, the Huber or
quantile loss, gradient clipping at ``max_grad_norm``, SB3's callbacks and logger) and does the same
work in fewer, larger operations: the network's first layer read by index
(:mod:`qgym.deep.network`), whole vector steps into the replay buffer (:mod:`qgym.deep.replay`), a
fused Adam called without torch's per-call bookkeeping (:mod:`qgym.deep.optimizer`), one clipping
pass, and info dicts only for the envs that finished (qgym's vector envs). Subnormal floats are
flushed to zero inside Adam's step only, where they slow the kernel and do not change the update;
elsewhere they are left as torch leaves them.

Where one of its assumptions does not hold (another policy or features extractor, a custom replay
buffer, ``optimize_memory_usage``, episodic ``train_freq``, ``VecNormalize``, image or dict
observations), ``learn`` is SB3's own: :meth:`FastLoop.fast_path_refusal` names the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from stable_baselines3.common.buffers import NStepReplayBuffer, ReplayBuffer
from stable_baselines3.common.torch_layers import FlattenExtractor
from stable_baselines3.common.type_aliases import TrainFrequencyUnit
from stable_baselines3.common.utils import polyak_update
from torch import nn

from qgym.deep.network import FastNetwork, Inputs, TargetValues
from qgym.deep.optimizer import AdamStep, fused_adam
from qgym.deep.replay import Batch, ReplayRing

__all__ = ["TABLE_STATES", "FastLoop"]

TABLE_STATES = 65_536
"""The most states whose target values are kept as a table between target copies (a QR-DQN's 225
outputs a state make 59 MB there), however many rows the batches between two copies read."""


class FastLoop:
    """A mixin for SB3's DQN and QR-DQN: :meth:`learn` runs the fast loop where it applies.

    The algorithm supplies :meth:`_networks` (its online and target networks), :meth:`_layers` (a
    network's MLP), :meth:`_loss_gradient` (its TD loss on a :class:`Batch` and the loss's gradient
    with respect to the outputs) and :meth:`_q_values` (Q-values from the outputs, to act).
    """

    if TYPE_CHECKING:  # provided by SB3's OffPolicyAlgorithm
        env: Any
        policy: Any
        logger: Any
        seed: int | None
        num_timesteps: int
        learning_starts: int
        batch_size: int
        gradient_steps: int
        train_freq: Any
        target_update_interval: int
        tau: float
        gamma: float
        exploration_rate: float
        exploration_schedule: Any
        replay_buffer: Any
        replay_buffer_class: Any
        n_envs: int
        action_space: Any
        observation_space: Any
        ep_info_buffer: Any
        _n_calls: int
        _n_updates: int
        _episode_num: int
        _last_obs: Any
        _current_progress_remaining: float
        _vec_normalize_env: Any
        optimize_memory_usage: bool

        def _setup_learn(self, *args: Any, **kwargs: Any) -> Any: ...
        def _update_current_progress_remaining(self, num_timesteps: int, total_timesteps: int) -> None: ...
        def _update_learning_rate(self, optimizers: Any) -> None: ...
        def _update_info_buffer(self, infos: Any, dones: Any = None) -> None: ...
        def dump_logs(self) -> None: ...

    _rng: np.random.Generator | None = None

    # --- what the algorithm supplies ----------------------------------------------------------

    def _networks(self) -> tuple[nn.Module, nn.Module]:
        """The online and the target network (SB3's ``QNetwork`` or ``QuantileNetwork``)."""
        raise NotImplementedError

    def _layers(self, network: nn.Module) -> nn.Sequential:
        """The MLP of ``network``, after its features extractor."""
        raise NotImplementedError

    def _q_values(self, outputs: torch.Tensor) -> torch.Tensor:
        """Q-values ``(batch, actions)`` from the online network's outputs."""
        raise NotImplementedError

    def _loss_gradient(
        self, batch: Batch, outputs: torch.Tensor, target: TargetValues
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The TD loss of one batch and its gradient with respect to ``outputs`` (the online
        network's outputs on the batch's observations), without autograd; ``target`` gives the
        target network's outputs on the next observations."""
        raise NotImplementedError

    # --- the loop -------------------------------------------------------------------------------

    def fast_path_refusal(self) -> str | None:
        """Why ``learn`` would run SB3's own loop for this model (None: the fast loop runs)."""
        from stable_baselines3.common.vec_env import VecEnv

        if not isinstance(self.env, VecEnv):
            return "the model has no VecEnv"
        if self.replay_buffer_class not in (None, ReplayBuffer, NStepReplayBuffer):
            return f"the replay buffer is {self.replay_buffer_class.__name__}, a custom class"
        if type(self.replay_buffer) not in (ReplayBuffer, NStepReplayBuffer) or self.optimize_memory_usage:
            return "the replay buffer is not SB3's ReplayBuffer or NStepReplayBuffer"
        if self.train_freq.unit != TrainFrequencyUnit.STEP:
            return "train_freq counts episodes"
        if self._vec_normalize_env is not None:
            return "VecNormalize changes observations between acting and storing"
        for network in self._networks():
            if type(network.features_extractor) is not FlattenExtractor:
                return "the policy has its own features extractor"
            layers = self._layers(network)
            if not (len(layers) and isinstance(layers[0], nn.Linear)):
                return "the network does not start with a Linear layer"
        if not isinstance(self.policy.optimizer, torch.optim.Adam):
            return f"the optimizer is {type(self.policy.optimizer).__name__}, not Adam"
        return Inputs.refusal(self.observation_space)

    def learn(
        self,
        total_timesteps: int,
        callback: Any = None,
        log_interval: int = 4,
        tb_log_name: str = "run",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> Any:
        """SB3's ``learn`` (same arguments, same callbacks and logs), on the fast loop where it applies."""
        if self.fast_path_refusal() is not None:
            return super().learn(  # type: ignore[misc]
                total_timesteps, callback, log_interval, tb_log_name, reset_num_timesteps, progress_bar
            )
        total_timesteps, callback = self._setup_learn(
            total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar
        )
        callback.on_training_start(locals(), globals())
        self._fast_loop(total_timesteps, callback, log_interval)
        callback.on_training_end()
        return self

    def _fast_loop(self, total_timesteps: int, callback: Any, log_interval: int | None) -> None:
        env = self.env
        n_envs = env.num_envs
        step_arrays = getattr(type(env), "step_arrays", None)
        inputs = Inputs(self.observation_space)
        ring = ReplayRing(self.replay_buffer, inputs)
        modules = self._networks()
        online, target_network = (FastNetwork(self._layers(network), inputs) for network in modules)
        parameters = [p for p in modules[0].parameters() if p.requires_grad]
        reads_infos = _reads_infos(callback)
        optimizer = self.policy.optimizer = fused_adam(self.policy.optimizer, parameters)
        adam_step = AdamStep(optimizer, parameters)
        rng = self._generator()
        every = self.train_freq.frequency
        gradient_steps = self.gradient_steps if self.gradient_steps >= 0 else every * n_envs
        target_every = max(self.target_update_interval // n_envs, 1)
        states = inputs.every_state(self.batch_size)
        read_between_copies = self.batch_size * gradient_steps * target_every // every
        tabled = min(read_between_copies - 1, TABLE_STATES)
        target = TargetValues(target_network, inputs.all_states(tabled) if states is None else states)
        n_actions = int(self.action_space.n)
        observations = self._last_obs
        self.policy.set_training_mode(True)
        vec_steps = 0
        while self.num_timesteps < total_timesteps:
            if vec_steps % every == 0:
                callback.on_rollout_start()
            actions = self._act(observations, online, rng, n_actions, n_envs)
            if step_arrays is not None:
                step = step_arrays(env, actions)
                new_obs, rewards, dones = step.observations, step.rewards, step.dones
                finished, finished_infos = step.finished, step.finished_infos
                infos = step.infos() if reads_infos else None
            else:
                new_obs, rewards, dones, infos = env.step(actions)
                finished = np.flatnonzero(dones)
                finished_infos = [infos[i] for i in finished.tolist()]
            self.num_timesteps += n_envs
            vec_steps += 1
            callback.update_locals(locals())
            if not callback.on_step():
                break
            next_observations, terminated = new_obs, np.zeros(n_envs, dtype=np.float32)
            truncated = np.zeros(n_envs, dtype=np.float32)
            if finished.size:
                self._update_info_buffer(finished_infos, np.ones(finished.size, dtype=bool))
                next_observations = np.array(new_obs, copy=True)
                for i, info in zip(finished.tolist(), finished_infos, strict=True):
                    next_observations[i] = info["terminal_observation"]
                    cut = info.get("TimeLimit.truncated", False)
                    terminated[i], truncated[i] = (0.0, 1.0) if cut else (1.0, 0.0)
            ring.add(observations, actions, rewards, next_observations, terminated, truncated)
            observations = self._last_obs = new_obs
            self._update_current_progress_remaining(self.num_timesteps, total_timesteps)
            self._n_calls += 1
            if self._n_calls % target_every == 0:
                polyak_update(modules[0].parameters(), modules[1].parameters(), self.tau)
                target.changed()
            self.exploration_rate = self.exploration_schedule(self._current_progress_remaining)
            for _ in range(finished.size):
                self._episode_num += 1
                if log_interval is not None and self._episode_num % log_interval == 0:
                    self.logger.record("rollout/exploration_rate", self.exploration_rate)
                    self.dump_logs()
            if vec_steps % every == 0:
                callback.on_rollout_end()
                if self.num_timesteps > self.learning_starts and gradient_steps > 0:
                    self._train_fast(ring, rng, gradient_steps, online, target, parameters, adam_step, states)

    def _act(
        self,
        observations: np.ndarray,
        online: FastNetwork,
        rng: np.random.Generator,
        n_actions: int,
        n_envs: int,
    ) -> np.ndarray:
        """Epsilon-greedy actions, one draw per env; uniform before ``learning_starts``."""
        if self.num_timesteps < self.learning_starts:
            return rng.integers(0, n_actions, size=n_envs)
        explore = rng.random(n_envs) < self.exploration_rate
        random_actions = rng.integers(0, n_actions, size=n_envs)
        if explore.all():
            return random_actions
        with torch.no_grad():
            greedy = self._q_values(online(online.inputs.tensor(observations))).argmax(dim=1)
        return np.where(explore, random_actions, greedy.numpy())

    def _train_fast(
        self,
        ring: ReplayRing,
        rng: np.random.Generator,
        gradient_steps: int,
        online: FastNetwork,
        target: TargetValues,
        parameters: list[nn.Parameter],
        adam_step: AdamStep,
        states: torch.Tensor | None = None,
    ) -> None:
        """``gradient_steps`` updates of the online network (SB3's ``train``, leaner). With
        ``states`` (every state of a small ``Discrete`` space) the network runs once per state and
        a batch reads its rows; the gradient, summed by state, is the same."""
        optimizer = adam_step.optimizer
        self._update_learning_rate(optimizer)
        total = torch.zeros(())
        by_hand = online.hand_written_gradients
        limit = vars(self).get("max_grad_norm")  # DQN's is a float, QR-DQN's may be None
        for _ in range(gradient_steps):
            batch = ring.sample(self.batch_size, rng)
            rows = batch.observations if states is None else states
            if by_hand:  # the MLP's gradients as matrix products, no autograd graph
                outputs, kept = online.forward_kept(rows)
            else:  # another activation: autograd from the outputs down
                optimizer.zero_grad(set_to_none=True)
                attached = online(rows)
                outputs = attached.detach()
            index = batch.observations[:, 0] if states is not None else None
            picked = outputs if index is None else outputs[index]
            loss, upstream = self._loss_gradient(batch, picked, target)
            if index is not None:  # each sample's gradient added to its state's row
                upstream = torch.zeros_like(outputs).index_add_(0, index, upstream)
            if by_hand:
                gradients = online.gradients(rows, kept, upstream)
                for parameter, gradient in zip(parameters, gradients, strict=True):
                    parameter.grad = gradient
            else:
                torch.autograd.backward(attached, upstream)
            if limit is not None:
                torch.nn.utils.clip_grad_norm_(parameters, limit, foreach=True)
            adam_step()
            total += loss
        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", float(total) / gradient_steps)

    def _generator(self) -> np.random.Generator:
        """The model's own random stream for exploration and replay sampling (from ``seed``)."""
        if self._rng is None:
            self._rng = np.random.default_rng(self.seed)
        return self._rng


def _reads_infos(callback: Any) -> bool:
    """True unless the callback is SB3's empty list or a progress bar (which ignore ``infos``)."""
    from stable_baselines3.common.callbacks import CallbackList, ProgressBarCallback

    inner = callback.callbacks if isinstance(callback, CallbackList) else [callback]
    return any(not isinstance(c, ProgressBarCallback) for c in inner)
