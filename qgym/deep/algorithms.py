"""DQN and QR-DQN as Stable-Baselines3 defines them, learning on :class:`qgym.deep.loop.FastLoop`.

Each is SB3's class (``stable_baselines3.DQN``, ``sb3_contrib.QRDQN``) with the same constructor,
policy, ``predict``, ``save`` and ``load``; only ``learn`` runs the fast loop, and each adds its
loss and its gradient with respect to the network's outputs (SB3's ``smooth_l1_loss``; sb3-contrib's
``quantile_huber_loss``: ``tests/deep`` checks both against the libraries' own, through autograd).
"""

from __future__ import annotations

import sb3_contrib
import stable_baselines3
import torch
from torch import nn

from qgym.deep.loop import FastLoop
from qgym.deep.network import TargetValues
from qgym.deep.replay import Batch

__all__ = ["DQN", "QRDQN"]

_NOT_SAVED = ["_rng"]  # the loop's generator: rebuilt from ``seed``, never written to a file


class DQN(FastLoop, stable_baselines3.DQN):
    """Stable-Baselines3's DQN (Mnih et al. 2015): the same arguments, files and results' meaning,
    trained by the fast loop (see :mod:`qgym.deep.loop` for what it changes and when it steps aside).

    The TD target is ``r + gamma * max_a' Q_target(s', a')`` (no bootstrap after a termination;
    with ``n_steps`` > 1, the next rewards' discounted sum and gamma to their number), fitted with
    the Huber loss (``smooth_l1_loss``) as SB3 fits it.
    """

    def _networks(self) -> tuple[nn.Module, nn.Module]:
        return self.q_net, self.q_net_target

    def _layers(self, network: nn.Module) -> nn.Sequential:
        layers: nn.Sequential = network.q_net  # type: ignore[assignment]
        return layers

    def _q_values(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs

    def _loss_gradient(
        self, batch: Batch, outputs: torch.Tensor, target: TargetValues
    ) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            next_q = target(batch.next_observations).max(dim=1).values
            targets = batch.td_targets(next_q, self.gamma)
            chosen = batch.actions[:, None]
            error = outputs.gather(1, chosen).squeeze(1) - targets
            # smooth_l1_loss (beta 1): e**2 / 2 where |e| < 1, |e| - 1/2 beyond; its slope is e clamped
            size = error.abs()
            loss = torch.where(size < 1.0, 0.5 * error * error, size - 0.5).mean()
            slope = error.clamp_(-1.0, 1.0).div_(error.shape[0])
            upstream = torch.zeros_like(outputs).scatter_(1, chosen, slope[:, None])
        return loss, upstream

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), *_NOT_SAVED]


class QRDQN(FastLoop, sb3_contrib.QRDQN):
    """sb3-contrib's QR-DQN (Dabney et al. 2017): ``n_quantiles`` quantiles of the return per action,
    fitted with the quantile Huber loss, acting on their mean; trained by the fast loop."""

    def _networks(self) -> tuple[nn.Module, nn.Module]:
        return self.quantile_net, self.quantile_net_target

    def _layers(self, network: nn.Module) -> nn.Sequential:
        layers: nn.Sequential = network.quantile_net  # type: ignore[assignment]
        return layers

    def _q_values(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.view(outputs.shape[0], self.n_quantiles, -1).mean(dim=1)

    def _loss_gradient(
        self, batch: Batch, outputs: torch.Tensor, target: TargetValues
    ) -> tuple[torch.Tensor, torch.Tensor]:
        size, quantiles = batch.actions.shape[0], self.n_quantiles
        with torch.no_grad():
            following = target(batch.next_observations).view(size, quantiles, -1)
            greedy = following.mean(dim=1, keepdim=True).argmax(dim=2, keepdim=True)
            following = following.gather(2, greedy.expand(size, quantiles, 1)).squeeze(2)
            targets = batch.td_targets(following, self.gamma)
            chosen = batch.actions[:, None, None].expand(size, quantiles, 1)
            current = outputs.view(size, quantiles, -1).gather(2, chosen).squeeze(2)
            # sb3-contrib's quantile_huber_loss: |tau_i - 1{delta_ij < 0}| * huber(delta_ij), delta the
            # target minus the quantile, summed over quantiles i and averaged over the batch and j. With
            # c = min(|delta|, 1): huber = c * (|delta| - c / 2), and its slope is sign(delta) * c, so
            # (tau_i - 1{delta_ij < 0}) * c is each pair's weighted slope, in few passes over (B, N, N)
            delta = targets[:, None, :] - current[:, :, None]
            taus = (torch.arange(quantiles, dtype=delta.dtype) + 0.5).div_(quantiles).view(1, -1, 1)
            terms = torch.where(delta < 0, taus - 1.0, taus)
            size_of = delta.abs_()
            clipped = size_of.clamp(max=1.0)
            terms.mul_(clipped)
            mean_over = delta.shape[0] * delta.shape[2]
            slope = terms.sum(dim=2).div_(-mean_over)
            huber_over_c = size_of.sub_(clipped, alpha=0.5)
            loss = torch.dot(terms.abs_().view(-1), huber_over_c.view(-1)).div_(mean_over)
            upstream = torch.zeros(size, quantiles, outputs.shape[1] // quantiles, dtype=outputs.dtype)
            upstream.scatter_(2, chosen, slope[:, :, None])
        return loss, upstream.view_as(outputs)

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), *_NOT_SAVED]
