"""The pieces of one qgym.deep gradient step against torch's own calls, as ratios in one process.

    python benchmarks/bench_update.py            # a 256x256 network on 6 inputs, batches of 128

Each line times torch's call and qgym.deep's for the same arithmetic on the same tensors (one torch
thread, interleaved rounds, the median of each), and prints both and their ratio: Adam's step
(``optimizer.step()`` against :class:`qgym.deep.optimizer.AdamStep`), with ordinary gradients and
with gradients whose squares are subnormal (Adam's second moments of near-zero gradients, which
qgym.deep's step flushes to zero), and ReLU's mask in the backward pass.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from qgym.deep.optimizer import AdamStep

ROUNDS, CALLS = 7, 400


def _seconds(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    for _ in range(CALLS):
        call()
    return (time.perf_counter() - start) / CALLS


def _compare(name: str, theirs: Callable[[], object], mine: Callable[[], object]) -> None:
    for call in (theirs, mine):
        _seconds(call)  # warm up
    their_times, my_times = [], []
    for _ in range(ROUNDS):
        their_times.append(_seconds(theirs))
        my_times.append(_seconds(mine))
    their, my = statistics.median(their_times), statistics.median(my_times)
    print(f"| {name} | {their * 1e6:.1f} | {my * 1e6:.1f} | {their / my:.1f}x |")


def _network() -> list[nn.Parameter]:
    torch.manual_seed(0)
    layers = nn.Sequential(nn.Linear(6, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 3))
    return list(layers.parameters())


def _adam(scale: float) -> tuple[Callable[[], object], Callable[[], object]]:
    theirs, mine = _network(), _network()
    for parameters in (theirs, mine):
        for parameter in parameters:
            parameter.grad = torch.randn_like(parameter) * scale
    their_optimizer = torch.optim.Adam(theirs, lr=1e-9, fused=True)
    step = AdamStep(torch.optim.Adam(mine, lr=1e-9, fused=True), mine)
    return their_optimizer.step, step


def main() -> None:
    """Print the table."""
    torch.set_num_threads(1)
    print("| piece | torch's call (us) | qgym.deep's (us) | speedup |")
    print("|---|---:|---:|---:|")
    _compare("Adam step, 68k weights", *_adam(1e-3))
    _compare("Adam step, subnormal second moments (gradients of 1e-20)", *_adam(1e-20))
    below, delta = torch.relu(torch.randn(128, 256)), torch.randn(128, 256)
    _compare(
        "ReLU's mask, 128x256",
        lambda: delta.clone().mul_(below > 0),
        lambda: torch.ops.aten.threshold_backward(delta, below, 0.0),
    )
    print(f"\n{torch.__version__}, 1 thread; medians of {ROUNDS} interleaved rounds of {CALLS} calls")


if __name__ == "__main__":
    main()
