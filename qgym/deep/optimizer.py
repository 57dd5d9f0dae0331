"""One Adam step of the fast loop: SB3's Adam, with less around it.

``torch.optim.Adam.step`` rebuilds its lists of parameters, gradients and moments, and checks its
groups, on every call: on a DQN of 256x256 units that bookkeeping cost as much as the arithmetic
(``benchmarks/results.md``: 144 us a step against 67 us for the fused kernel alone). :class:`AdamStep`
builds the lists once and calls torch's functional ``adam`` with the optimizer's own group settings
and state tensors, so the update is the same fused kernel on the same tensors, bit for bit, and the
optimizer saves and loads as before.

Inside that step only, subnormal floats (below 1.2e-38) are flushed to zero: Adam's second moments of
near-zero gradients go subnormal, and the CPU's slow path for them made the step up to 12x slower
(MountainCar, Acrobot). There they do not change the update, whose denominator ``sqrt(v) + eps`` is
``eps`` (SB3's 1e-5) to float32 precision: MountainCar's seed 0 makes the same five checkpoints with
the flush and without (``benchmarks/results.md``). The whole loop is not flushed: subnormal
activations and gradients would then count as zero in the products too, where a run can feel them.
"""

from __future__ import annotations

import torch
import torch.optim.adam as functional
from torch import nn

__all__ = ["AdamStep", "flushes_subnormals", "fused_adam"]


def fused_adam(optimizer: torch.optim.Optimizer, parameters: list[nn.Parameter]) -> torch.optim.Optimizer:
    """``optimizer`` rebuilt once as torch's fused Adam (the same update in one kernel per step
    instead of a loop over tensors), keeping its state; returned as it is when it already is one or
    has several parameter groups."""
    if optimizer.defaults.get("fused"):
        return optimizer
    groups = [{k: v for k, v in group.items() if k not in ("params", "foreach", "fused")} for group in
              optimizer.param_groups]  # fmt: skip
    if len(groups) != 1:
        return optimizer
    fused = torch.optim.Adam(parameters, **groups[0], fused=True)
    if optimizer.state:  # a model trained before or loaded: keep Adam's moments and step counts
        fused.load_state_dict(optimizer.state_dict())
        for group in fused.param_groups:  # the saved groups say foreach/fused None: fuse them again
            group["fused"], group["foreach"] = True, None
    return fused


class AdamStep:
    """``optimizer.step()`` for a fused Adam of one parameter group whose gradients are set.

    The first step (Adam creates its moments there) goes through ``optimizer.step``; later ones call
    the functional ``adam`` on the lists kept from it, reading the group's learning rate (SB3's
    schedule writes it) and settings each time. Any other optimizer always takes its own ``step``.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, parameters: list[nn.Parameter]) -> None:
        self.optimizer = optimizer
        self.parameters: list[torch.Tensor] = list(parameters)
        group = optimizer.param_groups[0]
        self._direct = (
            isinstance(optimizer, torch.optim.Adam)
            and len(optimizer.param_groups) == 1
            and bool(group.get("fused"))
            and not group.get("amsgrad")
            and not group.get("capturable")
            and not group.get("differentiable")
            and list(group["params"]) == self.parameters
        )
        self._state: tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]] | None = None
        self._flush = True
        self._restore = not flushes_subnormals()  # leave the thread's setting as it was found

    @torch.no_grad()
    def __call__(self) -> None:
        """Apply one Adam update from the parameters' ``grad``, with subnormal floats flushed to zero."""
        if not self._direct:
            self.optimizer.step()
            return
        if self._flush and not torch.set_flush_denormal(True):
            self._flush = False  # this CPU cannot flush them (no SSE3)
        try:
            self._step()
        finally:
            if self._flush and self._restore:
                torch.set_flush_denormal(False)

    def _step(self) -> None:
        if self._state is None:
            self.optimizer.step()
            states = [self.optimizer.state[p] for p in self.parameters]
            self._state = (
                [s["exp_avg"] for s in states],
                [s["exp_avg_sq"] for s in states],
                [s["step"] for s in states],
            )
            return
        group = self.optimizer.param_groups[0]
        beta1, beta2 = group["betas"]
        exp_avgs, exp_avg_sqs, steps = self._state
        functional.adam(
            self.parameters,
            [p.grad for p in self.parameters],  # type: ignore[misc]
            exp_avgs,
            exp_avg_sqs,
            [],
            steps,
            fused=True,
            decoupled_weight_decay=bool(group.get("decoupled_weight_decay", False)),
            amsgrad=False,
            beta1=beta1,
            beta2=beta2,
            lr=group["lr"],
            weight_decay=group["weight_decay"],
            eps=group["eps"],
            maximize=group["maximize"],
        )


def flushes_subnormals() -> bool:
    """Whether this thread flushes subnormal float32 results to zero (torch has no getter for it)."""
    return float(torch.tensor(1e-39, dtype=torch.float32) * 1.0) == 0.0
