"""The fast loop's Adam step is torch's: the same update, bit for bit; subnormals flushed inside it only."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from qgym.deep.optimizer import AdamStep, flushes_subnormals, fused_adam


def _network(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3))


def _gradients(network: nn.Module, step: int) -> None:
    generator = torch.Generator().manual_seed(step)
    for parameter in network.parameters():  # some tiny, some large: Adam's moments and clipping both act
        scale = 1e-20 if step % 3 == 0 else 5.0
        parameter.grad = torch.randn(parameter.shape, generator=generator) * scale


def test_adam_step_equals_the_optimizers_own_step_bit_for_bit() -> None:
    mine, theirs = _network(), _network()
    mine_parameters, their_parameters = list(mine.parameters()), list(theirs.parameters())
    mine_optimizer = torch.optim.Adam(mine_parameters, lr=1e-3, eps=1e-6, weight_decay=0.01, fused=True)
    their_optimizer = torch.optim.Adam(their_parameters, lr=1e-3, eps=1e-6, weight_decay=0.01, fused=True)
    step = AdamStep(mine_optimizer, mine_parameters)
    for k in range(12):
        for optimizer in (mine_optimizer, their_optimizer):  # a schedule writes the rate as SB3's does
            optimizer.param_groups[0]["lr"] = 1e-3 * (1 - k / 12)
        _gradients(mine, k)
        _gradients(theirs, k)
        step()
        their_optimizer.step()
    for one, other in zip(mine_parameters, their_parameters, strict=True):
        assert torch.equal(one, other)
    for one, other in zip(mine_parameters, their_parameters, strict=True):
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(mine_optimizer.state[one][key], their_optimizer.state[other][key])
    assert not torch.equal(mine_parameters[0], next(iter(_network().parameters())))  # it did move


@pytest.mark.parametrize("settings", [{"fused": False}, {"fused": True, "amsgrad": True}])
def test_adam_step_leaves_other_adams_to_their_own_step(settings: dict[str, bool]) -> None:
    network = _network()
    parameters = list(network.parameters())
    optimizer = torch.optim.Adam(parameters, lr=1e-3, **settings)  # type: ignore[arg-type]
    calls: list[int] = []
    original = optimizer.step

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return original(*args, **kwargs)

    optimizer.step = counted  # type: ignore[method-assign]
    step = AdamStep(optimizer, parameters)
    for k in range(3):
        _gradients(network, k)
        step()
    assert len(calls) == 3


def test_fused_adam_keeps_the_moments_of_a_trained_optimizer() -> None:
    network = _network()
    parameters = list(network.parameters())
    plain = torch.optim.Adam(parameters, lr=1e-3)
    _gradients(network, 1)
    plain.step()
    fused = fused_adam(plain, parameters)
    assert fused.param_groups[0]["fused"] is True
    for parameter in parameters:
        assert torch.equal(fused.state[parameter]["exp_avg"], plain.state[parameter]["exp_avg"])
    assert fused_adam(fused, parameters) is fused


@pytest.mark.parametrize("flushing_before", [False, True])
def test_adam_step_flushes_subnormals_inside_the_step_only(flushing_before: bool) -> None:
    # a gradient of 1e-20 makes a second moment of 1e-43, a subnormal float: the CPU's slow path made
    # the fused step up to 8x slower; flushed to zero it leaves the update itself unchanged (eps 1e-8
    # dominates the denominator), and the thread's own setting is left as it was found
    mine, theirs = [nn.Parameter(torch.ones(4))], [nn.Parameter(torch.ones(4))]
    mine_optimizer = torch.optim.Adam(mine, lr=1e-3, fused=True)
    their_optimizer = torch.optim.Adam(theirs, lr=1e-3, fused=True)
    for parameter in (*mine, *theirs):
        parameter.grad = torch.full((4,), 1e-20)
    their_optimizer.step()
    torch.set_flush_denormal(flushing_before)
    try:
        AdamStep(mine_optimizer, mine)()
        assert flushes_subnormals() is flushing_before
    finally:
        torch.set_flush_denormal(False)
    assert torch.equal(mine_optimizer.state[mine[0]]["exp_avg_sq"], torch.zeros(4))
    assert float(their_optimizer.state[theirs[0]]["exp_avg_sq"][0]) > 0.0  # subnormal where not flushed
    assert torch.equal(mine[0], theirs[0])
