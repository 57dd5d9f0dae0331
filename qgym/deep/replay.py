"""Whole vector steps written into SB3's replay buffer, and batches drawn from it as tensors.

The arrays are Stable-Baselines3's own ``ReplayBuffer`` (one row per vector step, one column per
env), so ``save_replay_buffer`` and SB3's ``train`` read what the fast loop wrote. A row is written
in one assignment per array instead of SB3's ``add`` with its copies, and a batch is drawn with the
model's own generator: uniform over the filled transitions, as SB3 draws it. With SB3's
``NStepReplayBuffer`` (``n_steps`` > 1), a sample's reward is the discounted sum of the next ``n_steps``
rewards of its env, cut at the episode's end and at the newest row, as SB3 defines it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from stable_baselines3.common.buffers import NStepReplayBuffer, ReplayBuffer

from qgym.deep.network import Inputs

__all__ = ["Batch", "ReplayRing"]


@dataclass(frozen=True)
class Batch:
    """Transitions as tensors: network inputs (see :class:`Inputs`), actions, rewards, and 1.0
    where the episode terminated (no bootstrap; a time limit is not a termination). With n-step
    returns, ``rewards`` are their discounted sums and ``discounts`` what multiplies the bootstrap
    (gamma to the number of rewards summed); None means gamma."""

    observations: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_observations: torch.Tensor
    terminated: torch.Tensor
    discounts: torch.Tensor | None = None

    def td_targets(self, following: torch.Tensor, gamma: float) -> torch.Tensor:
        """``r + (1 - terminated) * discount * following``: the TD target, ``discount`` gamma (or the
        n-step ``discounts``), each sample's scalars broadcast over ``following``'s trailing axes
        (a QR-DQN's quantiles)."""
        shape = (-1,) + (1,) * (following.dim() - 1)
        discount = gamma if self.discounts is None else self.discounts.view(shape)
        return self.rewards.view(shape) + (1.0 - self.terminated.view(shape)) * discount * following


class ReplayRing:
    """Writes and samples ``buffer``'s arrays in whole rows.

    :param buffer: SB3's ``ReplayBuffer`` or ``NStepReplayBuffer`` (``n_envs`` columns,
        ``optimize_memory_usage`` off).
    :param inputs: how stored observations become network inputs.
    """

    def __init__(self, buffer: ReplayBuffer, inputs: Inputs) -> None:
        if buffer.optimize_memory_usage:
            raise ValueError("optimize_memory_usage stores one observation per row; the fast loop needs two")
        self.buffer = buffer
        self.inputs = inputs
        n_step = buffer if isinstance(buffer, NStepReplayBuffer) else None
        self.n_steps = 1 if n_step is None else int(n_step.n_steps)
        # an n-step sequence's offsets, and gamma to the powers 0..n_steps: built once for every batch
        self._offsets = np.arange(self.n_steps)
        gamma = 1.0 if n_step is None else float(n_step.gamma)
        self._powers = gamma ** np.arange(self.n_steps + 1, dtype=np.float32)
        # the arrays seen as one transition per row (views, written through ``add``): transition
        # ``k`` is row ``k // n_envs``, column ``k % n_envs``, so a batch is one take per array
        size = buffer.buffer_size * buffer.n_envs
        arrays = (buffer.observations, buffer.next_observations, buffer.actions, buffer.rewards,
                  buffer.dones, buffer.timeouts)  # fmt: skip
        self._columns = [array.reshape(size, -1) for array in arrays]
        if not all(np.may_share_memory(c, a) for c, a in zip(self._columns, arrays, strict=True)):
            raise ValueError("the replay buffer's arrays are not contiguous: the fast loop reads them by row")

    def add(
        self,
        observations: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_observations: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
    ) -> None:
        """One vector step: ``next_observations`` holds each finished env's last observation;
        ``terminated`` and ``truncated`` are 1.0 where an episode ended at its goal or at a time
        limit (stored as SB3 stores them: ``dones`` for either end, ``timeouts`` for the limit)."""
        buffer = self.buffer
        row = buffer.pos
        buffer.observations[row] = observations.reshape(buffer.observations.shape[1:])
        buffer.next_observations[row] = next_observations.reshape(buffer.next_observations.shape[1:])
        buffer.actions[row] = actions.reshape(buffer.actions.shape[1:])
        buffer.rewards[row] = rewards
        buffer.dones[row] = np.maximum(terminated, truncated)
        buffer.timeouts[row] = truncated
        buffer.pos = row + 1
        if buffer.pos == buffer.buffer_size:
            buffer.full = True
            buffer.pos = 0

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """``batch_size`` transitions drawn uniformly (with replacement) from those stored."""
        buffer = self.buffer
        rows = buffer.buffer_size if buffer.full else buffer.pos
        flat = rng.integers(0, rows * buffer.n_envs, size=batch_size)
        if self.n_steps > 1:
            return self._n_step_batch(flat)
        observations, next_observations, actions, rewards, dones, timeouts = (
            np.take(column, flat, axis=0) for column in self._columns
        )
        return Batch(
            self.inputs.tensor(observations),
            torch.as_tensor(actions[:, 0].astype(np.int64)),
            torch.as_tensor(rewards[:, 0]),
            self.inputs.tensor(next_observations),
            torch.as_tensor(dones[:, 0] * (1.0 - timeouts[:, 0])),
        )

    def _n_step_batch(self, flat: np.ndarray) -> Batch:
        """Transitions ``flat`` with n-step returns: each looks ``n_steps`` rows ahead in its column,
        up to and including the first row where its episode ended or the newest row written."""
        buffer, offsets, powers = self.buffer, self._offsets, self._powers
        observations, next_observations, actions, rewards, dones, timeouts = self._columns
        n_envs = buffer.n_envs
        ahead = (flat[:, None] + n_envs * offsets) % (buffer.buffer_size * n_envs)  # (batch, n_steps)
        newest = (buffer.pos - 1) % buffer.buffer_size  # the rows after it are another episode's
        # ``dones`` holds either end, a time limit too (SB3's loop and :meth:`add` store it so)
        ended = (dones[ahead, 0] > 0) | (ahead // n_envs == newest)
        counted = np.where(ended.any(axis=1), ended.argmax(axis=1), offsets[-1])  # the last reward's index
        returns = (rewards[ahead, 0] * powers[:-1] * (offsets <= counted[:, None])).sum(axis=1)
        last = ahead[np.arange(flat.size), counted]
        discounts = powers[counted + 1]  # the bootstrap's: gamma to the number of rewards summed
        return Batch(
            self.inputs.tensor(np.take(observations, flat, axis=0)),
            torch.as_tensor(np.take(actions, flat, axis=0)[:, 0].astype(np.int64)),
            torch.as_tensor(returns.astype(np.float32)),
            self.inputs.tensor(np.take(next_observations, last, axis=0)),
            torch.as_tensor(dones[last, 0] * (1.0 - timeouts[last, 0])),
            torch.as_tensor(discounts),
        )
