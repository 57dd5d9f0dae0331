"""Compiled forms of the batched loop's two inner loops, for when numba is installed (``qgym[fast]``).

The batched loop (:mod:`qgym.agents.batch`) picks actions for a batch of envs and then applies their
TD updates exactly as one env after the other would. In numpy the second part runs one pass per link
of a dependency chain, and on a small rung at N=1024 the chains are hundreds of links long. Compiled,
it is one loop over the batch. Both kernels do the very same float operations, in the same order, as
the rules they compile (:func:`qgym.agents.exploration.choose_rows`, a rule's
:meth:`~qgym.agents.rules.Rule.target`, :class:`qgym.agents.step_sizes.StepSizes`): IEEE doubles, no
fast-math, no fused multiply-add. Numba needs each formula spelled out here, so
``tests/agents/test_kernels.py`` checks every compiled formula against its rule on random inputs, and a
rule changed without its compiled form fails them. Without numba (or with ``QGYM_KERNELS=off`` in the
environment) the loops use numpy; only the speed differs.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "EXPECTED",
    "FORMULAS",
    "GREATEST",
    "Kernels",
    "available",
    "epsilon_greedy",
    "learn_in_order",
    "load",
    "switched_off",
]

GREATEST = 0
"""Q-learning's target: ``r + gamma * max Q(s', .)``."""
EXPECTED = 1
"""Expected SARSA's target: ``r + gamma * (epsilon * sum Q(s', .) / n + (1 - epsilon) * max Q(s', .))``."""
FORMULAS = (GREATEST, EXPECTED)
"""Every compiled target formula (a rule names one with its ``compiled`` attribute)."""


def available() -> bool:
    """Whether numba can be imported (``pip install "qgym[fast]"``)."""
    return importlib.util.find_spec("numba") is not None


def switched_off() -> bool:
    """Whether ``QGYM_KERNELS`` is ``off`` (or ``0``, ``false``) in the environment: numpy everywhere,
    for a user who compares the paths or cannot compile."""
    return os.environ.get("QGYM_KERNELS", "").strip().lower() in {"off", "0", "false", "no"}


class Kernels:
    """The two loops, compiled by :func:`load` (or any functions of their signatures: the tests check
    an altered formula through the same class)."""

    def __init__(self, learn: Callable[..., None], act: Callable[..., NDArray[np.int64]]) -> None:
        self.learn_in_order = learn
        self.epsilon_greedy = act

    def learn(
        self,
        q: NDArray[np.float64],
        visits: NDArray[np.int64],
        transitions: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[Any], NDArray[np.int64]],
        settings: tuple[float, float, float, int],
        powers: Callable[[int], NDArray[np.float64]] | None,
    ) -> None:
        """The updates of (states, actions, rewards, next states) one after the other; ``settings`` is
        (alpha, epsilon, gamma, rule); ``powers(largest)`` gives ``n ** -visit_decay`` up to
        ``largest`` at least, or is None without visit decay."""
        states, actions, rewards, next_states = transitions
        alpha, epsilon, gamma, rule = settings
        table = _NO_POWERS
        if powers is not None and len(states):
            table = powers(int(visits[states, actions].max()) + len(states))
        self.learn_in_order(
            q,
            visits,
            states,
            actions,
            np.asarray(rewards, dtype=np.float64),
            next_states,
            float(alpha),
            table,
            powers is not None,
            float(epsilon),
            float(gamma),
            rule,
        )


_NO_POWERS = np.zeros(1)
"""What the compiled loop gets for the powers without visit decay (it does not read them)."""


def load() -> Kernels | None:
    """The compiled kernels, or None without numba (or when :func:`switched_off`). Compiled on first
    call, cached on disk by numba."""
    if switched_off():
        return None
    return _compiled()


@cache
def _compiled() -> Kernels | None:
    if not available():
        return None
    import numba

    jit = numba.njit(cache=True, nogil=True, fastmath=False, error_model="numpy")
    kernels = Kernels(jit(learn_in_order), jit(epsilon_greedy))
    # Compile (or load from numba's cache) for the argument types the batched loop passes, now
    # rather than inside the first training step.
    table, visits, at = np.zeros((1, 1)), np.zeros((1, 1), dtype=np.int64), np.zeros(1, dtype=np.int64)
    kernels.learn_in_order(table, visits, at, at, np.zeros(1), at, 0.1, np.ones(2), True, 0.1, 0.9, 0)
    kernels.epsilon_greedy(table, at, 0.1, np.zeros(1))
    return kernels


def learn_in_order(
    q: Any,
    visits: Any,
    states: Any,
    actions: Any,
    rewards: Any,
    next_states: Any,
    alpha: float,
    powers: Any,
    decay: bool,
    epsilon: float,
    gamma: float,
    rule: int,
) -> None:
    """One TD update after the other (``next_states[i]`` -1: a termination), counting visits; with
    ``decay`` the step size is ``max(powers[count], alpha)``, else ``alpha``. The target's operations
    are those of the rules :class:`~qgym.agents.rules.one_step.QLearningRule` (``GREATEST``) and
    :class:`~qgym.agents.rules.one_step.ExpectedSARSARule` (``EXPECTED``), in their order."""
    n_actions = q.shape[1]
    for i in range(len(states)):
        state, action, next_state = states[i], actions[i], next_states[i]
        visits[state, action] += 1
        step = alpha
        if decay:
            power = powers[visits[state, action]]
            step = alpha if alpha > power else power  # Python's max(power, alpha)
        goal = rewards[i]
        if next_state >= 0:
            greatest = q[next_state, 0]
            for column in range(1, n_actions):
                if q[next_state, column] > greatest:
                    greatest = q[next_state, column]
            if rule == GREATEST:
                goal = goal + gamma * greatest
            else:
                total = 0.0
                for column in range(n_actions):
                    total += q[next_state, column]
                explore = epsilon * total / n_actions
                goal = goal + gamma * (explore + (1.0 - epsilon) * greatest)
        old = q[state, action]
        q[state, action] = old + step * (goal - old)


def epsilon_greedy(q: Any, states: Any, epsilon: float, draws: Any) -> Any:
    """:func:`qgym.agents.exploration.choose_for_states` one state at a time: explore when ``u < epsilon``
    (action ``floor(u / epsilon * n)``), else the greedy action, ties broken by
    ``(u - epsilon) / (1 - epsilon)``."""
    n_actions = q.shape[1]
    chosen = np.empty(len(states), dtype=np.int64)
    for i in range(len(states)):
        u = draws[i]
        if u < epsilon:
            chosen[i] = min(np.int64(u / epsilon * n_actions), n_actions - 1)
            continue
        row = states[i]
        greatest = q[row, 0]
        best = 0
        for column in range(1, n_actions):
            if q[row, column] > greatest:
                greatest, best = q[row, column], column
        ties = 0
        for column in range(n_actions):
            if q[row, column] == greatest:
                ties += 1
        if ties > 1 and epsilon < 1.0:
            share = (u - epsilon) / (1.0 - epsilon)
            rank: Any = min(np.int64(share * ties), ties - 1)
            for column in range(n_actions):
                if q[row, column] == greatest:
                    if rank == 0:
                        best = column
                        break
                    rank -= 1
        chosen[i] = best
    return chosen
