"""Observations straight into a network's first layer, without building one-hot rows.

Stable-Baselines3 feeds a ``Discrete(n)`` observation to an MLP as a one-hot row of ``n`` floats (a
``MultiDiscrete`` as one one-hot per component, side by side), so the first ``Linear`` multiplies a
matrix that is all zeros but one entry per component. That product is a column of the weight matrix
(a sum of ``K`` columns for ``K`` components): :class:`Inputs` reads those columns by index, an
embedding lookup, and leaves the layer's weights and their meaning exactly SB3's. On the 1x2 farm
(98 states, 256 units) that is a quarter of the forward pass. A ``Box`` goes through the layer as
SB3 feeds it (the observation as float32).

A ``Discrete(n)`` space with fewer states than a batch has transitions (the small rungs: 7 to 126
states, batches of 256) is cheaper still evaluated once per state: :meth:`Inputs.every_state` lists
the ``n`` states, the loop runs the online network on them and reads a batch's rows by index, and
:class:`TargetValues` keeps the target network's values of every state between two target updates
(the target network changes only there). A sum of per-sample gradients grouped by state is the same
gradient, so the arithmetic is SB3's, in ``n`` rows instead of twice the batch. The target table alone
pays wherever a space has fewer states than the batches between two target copies read (the 2x2
farm unravelled: 9,604 states, 32,000 rows between copies): :meth:`Inputs.all_states`.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

__all__ = ["FastNetwork", "Inputs", "TargetValues"]

_ONE_HOT_INPUTS = 1024
"""Up to this many one-hot inputs (a ``MultiDiscrete``'s components side by side), the first layer's
gradient is a product with the batch's one-hot rows: 3x faster than adding rows by index at 48 inputs."""


class Inputs:
    """How observations of one space become the first hidden layer of a network.

    :param space: the observation space (``Discrete``, one-dimensional ``MultiDiscrete`` or a
        non-image ``Box``: :meth:`refusal` says why not).
    """

    def __init__(self, space: gym.Space[Any]) -> None:
        reason = self.refusal(space)
        if reason is not None:
            raise ValueError(reason)
        self.indexed = isinstance(space, gym.spaces.Discrete | gym.spaces.MultiDiscrete)
        if isinstance(space, gym.spaces.MultiDiscrete):
            self._sizes = [int(n) for n in space.nvec]
            self._offsets = torch.as_tensor(
                np.concatenate([[0], np.cumsum(self._sizes)[:-1]]), dtype=torch.int64
            )
            self._width = len(self._sizes)
        else:
            self._sizes = [int(space.n)] if isinstance(space, gym.spaces.Discrete) else []
            self._offsets = torch.zeros(1, dtype=torch.int64)
            self._width = 1 if self.indexed else int(gym.spaces.flatdim(space))
        self._states = math.prod(self._sizes) if self.indexed else 0
        strides = [math.prod(self._sizes[k + 1 :]) for k in range(len(self._sizes))]
        self._strides = torch.as_tensor(strides, dtype=torch.int64)

    @staticmethod
    def refusal(space: gym.Space[Any]) -> str | None:
        """Why ``space`` cannot be read this way (None when it can)."""
        if isinstance(space, gym.spaces.Discrete):
            return None if int(space.start) == 0 else "a Discrete observation space must start at 0"
        if isinstance(space, gym.spaces.MultiDiscrete):
            if space.nvec.ndim == 1 and not np.any(space.start):
                return None
            return "a MultiDiscrete observation space must be one-dimensional and start at 0"
        if isinstance(space, gym.spaces.Box):
            if space.dtype == np.uint8 and len(space.shape) == 3:
                return "image observations go through SB3's own preprocessing"
            return None
        return f"observations of type {type(space).__name__} go through SB3's own preprocessing"

    def every_state(self, batch_size: int) -> torch.Tensor | None:
        """Every state of a ``Discrete`` space as :meth:`tensor` gives them, when there are fewer
        states than ``batch_size`` (a network is then cheaper run once per state than once per
        sample); None otherwise."""
        return self.all_states(batch_size - 1) if self._width == 1 else None

    def all_states(self, limit: int) -> torch.Tensor | None:
        """Every observation of a ``Discrete`` or ``MultiDiscrete`` space as :meth:`tensor` gives
        them, row :meth:`row_of` for each, when there are at most ``limit``; None otherwise."""
        if not self.indexed or self._states > limit:
            return None
        components = np.indices(self._sizes).reshape(self._width, -1).T  # row-major, as row_of counts
        return self.tensor(components)

    def row_of(self, inputs: torch.Tensor) -> torch.Tensor:
        """The row of each of a :meth:`tensor` batch among :meth:`all_states`."""
        if self._width == 1:
            return inputs[:, 0]
        return ((inputs - self._offsets) * self._strides).sum(dim=1)

    def tensor(self, observations: np.ndarray) -> torch.Tensor:
        """A batch of raw observations as the tensor :meth:`first_layer` reads: the one-hot
        positions (int64, one column per component) or the flattened floats."""
        batch = observations.shape[0]
        if self.indexed:
            indices = torch.as_tensor(np.asarray(observations, dtype=np.int64).reshape(batch, self._width))
            return indices + self._offsets if self._width > 1 else indices
        return torch.as_tensor(np.asarray(observations, dtype=np.float32).reshape(batch, self._width))

    def first_layer(self, layer: nn.Linear, inputs: torch.Tensor) -> torch.Tensor:
        """``layer`` applied to the one-hot encoding of ``inputs`` (or to the floats of a Box)."""
        if not self.indexed:
            return torch.nn.functional.linear(inputs, layer.weight, layer.bias)
        if self._width == 1:
            summed = layer.weight.t()[inputs[:, 0]]  # (batch, units): the one-hot's column
        else:  # a sum of one column per component, as an embedding bag (one pass, no 3-d gather)
            summed = torch.nn.functional.embedding_bag(inputs, layer.weight.t().contiguous(), mode="sum")
        return summed if layer.bias is None else summed + layer.bias


class FastNetwork:
    """A network's ``Sequential`` of layers, called on :meth:`Inputs.tensor` batches, and its
    gradient written out as matrix products.

    SB3's MLP is ``Linear`` layers with an activation between them. For ReLU (SB3's default for DQN)
    :meth:`gradients` computes the weights' gradients from the loss's gradient with respect to the
    output (the backward pass of an MLP is two products per layer and a mask per ReLU), without
    autograd's graph, whose bookkeeping dominates a small network's update; with another activation
    :attr:`hand_written_gradients` is False and the caller uses autograd.

    :param layers: SB3's MLP (``QNetwork.q_net``, ``QuantileNetwork.quantile_net``), whose first
        layer is a ``Linear``; the same modules and weights, only read differently.
    :param inputs: how the observations reach the first layer.
    """

    def __init__(self, layers: nn.Sequential, inputs: Inputs) -> None:
        first, *rest = list(layers)
        if not isinstance(first, nn.Linear):
            raise ValueError(f"the network must start with a Linear layer, got {type(first).__name__}")
        self.layers = layers
        self.inputs = inputs
        self._first, self._rest = first, rest
        linears = [first, *(layer for layer in rest if isinstance(layer, nn.Linear))]
        alternating = (
            all(isinstance(layer, nn.Linear if i % 2 else nn.ReLU) for i, layer in enumerate(rest))
            and len(rest) % 2 == 0
        )
        self._linears = linears if alternating and all(layer.bias is not None for layer in linears) else None

    @property
    def hand_written_gradients(self) -> bool:
        """True when :meth:`gradients` applies (Linear layers with biases, ReLU between them)."""
        return self._linears is not None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.inputs.first_layer(self._first, x)
        if self._linears is not None:  # the modules' own functions, without a module call per layer
            for linear in self._linears[1:]:
                hidden = torch.nn.functional.linear(torch.relu(hidden), linear.weight, linear.bias)
            return hidden
        for layer in self._rest:
            hidden = layer(hidden)
        return hidden

    def forward_kept(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The output without autograd, and every hidden layer's activations for :meth:`gradients`."""
        assert self._linears is not None
        with torch.no_grad():
            kept = []
            hidden = self.inputs.first_layer(self._first, x)
            for layer in self._linears[1:]:
                hidden = torch.relu_(hidden)
                kept.append(hidden)
                hidden = torch.nn.functional.linear(hidden, layer.weight, layer.bias)
        return hidden, kept

    @torch.no_grad()
    def gradients(
        self, x: torch.Tensor, kept: list[torch.Tensor], upstream: torch.Tensor
    ) -> list[torch.Tensor]:
        """The gradients of every weight and bias (in ``parameters()`` order) of a loss whose gradient
        with respect to the output is ``upstream``, from the activations :meth:`forward_kept` kept."""
        assert self._linears is not None
        grads: list[torch.Tensor] = []
        delta = upstream
        for layer, below in zip(reversed(self._linears[1:]), reversed(kept), strict=True):
            grads += [delta.sum(dim=0), delta.t().mm(below)]  # bias, weight (reversed below)
            delta = torch.ops.aten.threshold_backward(delta.mm(layer.weight), below, 0.0)  # ReLU's mask
        grads += [delta.sum(dim=0), self._first_layer_gradient(x, delta)]
        grads.reverse()
        return grads

    def _first_layer_gradient(self, x: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        weight = self._first.weight
        if not self.inputs.indexed:
            return delta.t().mm(x)
        if x.shape[1] > 1 and weight.shape[1] <= _ONE_HOT_INPUTS:  # a MultiDiscrete's few inputs: a product
            one_hot = torch.zeros((x.shape[0], weight.shape[1]), dtype=delta.dtype).scatter_(1, x, 1.0)
            return delta.t().mm(one_hot)
        rows = torch.zeros((weight.shape[1], weight.shape[0]), dtype=delta.dtype)
        for column in x.t():  # one component at a time: no (batch x components) copy of delta
            rows.index_add_(0, column, delta)
        return rows.t().contiguous()


class TargetValues:
    """The target network's outputs for a batch of next observations (:meth:`__call__`).

    With ``states`` (:meth:`Inputs.all_states`) the outputs of every state are computed once and
    read by row until :meth:`changed` says the target network was updated; without, the network
    runs on the batch as SB3 runs it.
    """

    def __init__(self, network: FastNetwork, states: torch.Tensor | None) -> None:
        self.network = network
        self.states = states
        self._table: torch.Tensor | None = None

    def changed(self) -> None:
        """The target network's weights changed: recompute the table when next asked."""
        self._table = None

    def __call__(self, next_observations: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            if self.states is None:
                return self.network(next_observations)
            if self._table is None:
                self._table = self.network(self.states)
            return self._table[self.network.inputs.row_of(next_observations)]
