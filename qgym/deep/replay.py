"""Whole vector steps written into SB3's replay buffer, and batches drawn from it as tensors.

The arrays are Stable-Baselines3's own ``ReplayBuffer`` (one row per vector step, one column per
env), so ``save_replay_buffer`` and SB3's ``train`` read what the fast loop wrote. A row is written
in one assignment per array instead of SB3's ``add`` with its copies, and a batch is drawn with the
model's own generator: uniform over the filled transitions, as SB3 draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from stable_baselines3.common.buffers import ReplayBuffer

from qgym.deep.network import Inputs

__all__ = ["Batch", "ReplayRing"]


@dataclass(frozen=True)
class Batch:
    """Transitions as tensors: network inputs (see :class:`Inputs`), actions, rewards, and 1.0
    where the episode terminated (no bootstrap; a time limit is not a termination)."""

    observations: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_observations: torch.Tensor
    terminated: torch.Tensor


class ReplayRing:
    """Writes and samples ``buffer``'s arrays in whole rows.

    :param buffer: SB3's ``ReplayBuffer`` (``n_envs`` columns, ``optimize_memory_usage`` off).
    :param inputs: how stored observations become network inputs.
    """

    def __init__(self, buffer: ReplayBuffer, inputs: Inputs) -> None:
        if buffer.optimize_memory_usage:
            raise ValueError("optimize_memory_usage stores one observation per row; the fast loop needs two")
        self.buffer = buffer
        self.inputs = inputs
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
    ) -> None:
        """One vector step: ``next_observations`` holds each finished env's last observation."""
        buffer = self.buffer
        row = buffer.pos
        buffer.observations[row] = observations.reshape(buffer.observations.shape[1:])
        buffer.next_observations[row] = next_observations.reshape(buffer.next_observations.shape[1:])
        buffer.actions[row] = actions.reshape(buffer.actions.shape[1:])
        buffer.rewards[row] = rewards
        buffer.dones[row] = terminated
        buffer.timeouts[row] = 0.0  # dones hold terminations only: nothing to mask
        buffer.pos = row + 1
        if buffer.pos == buffer.buffer_size:
            buffer.full = True
            buffer.pos = 0

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """``batch_size`` transitions drawn uniformly (with replacement) from those stored."""
        buffer = self.buffer
        rows = buffer.buffer_size if buffer.full else buffer.pos
        flat = rng.integers(0, rows * buffer.n_envs, size=batch_size)
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
