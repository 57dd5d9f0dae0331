"""The batched loop's side of a rule: actions for a batch of states and the updates of a batch, as
one env after the other would give them; compiled (:mod:`qgym.agents.kernels`) when numba is
installed, else through numpy (:mod:`qgym.agents.batch`). :class:`BatchedRule` is a mixin of
:class:`qgym.agents.base.TabularAlgorithm`.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from qgym.agents import batch, kernels

__all__ = ["BatchedRule"]


class BatchedRule:
    """What the batched loop asks of a rule with a batch form (Q-learning, Expected SARSA)."""

    # Whether the rule is a TD target alone (``_target``), which the batched loop can apply.
    _has_batch_rule: ClassVar[bool] = False
    # Which compiled target (:mod:`qgym.agents.kernels`) is the rule's, on the class that defines _target.
    _compiled_rule: ClassVar[int | None] = None
    # The compiled loops are an optimization only (same bits); tests switch them off to compare.
    _use_kernels: bool = True
    # (visit_decay, n ** -visit_decay for n = 0, 1, ...): the batched loop's step sizes.
    _decay_cache: tuple[float, NDArray[np.float64]] | None = None

    if TYPE_CHECKING:  # provided by TabularAlgorithm
        n_tables: ClassVar[int]
        gamma: float
        visit_decay: float | None
        _q: NDArray[np.float64]
        _visit_tables: list[NDArray[np.int64]]
        _rng: random.Random

        def _target(self, reward: Any, next_values: Any, epsilon: float, reduce: Any = ...) -> Any: ...

    def _batch_epsilon_greedy(self, states: NDArray[np.int64], epsilon: float) -> NDArray[np.int64]:
        """Epsilon-greedy action indices of a batch of states, one draw each from the agent's generator."""
        assert self.n_tables == 1, "the batched loop serves single-table rules"
        draws = batch.uniforms(self._rng.getrandbits, len(states))
        compiled = self._kernels()
        if compiled is not None:
            return compiled.epsilon_greedy(self._q, states, float(epsilon), draws)
        return batch.batch_epsilon_greedy(self._q, states, epsilon, draws)

    def _learn_from_batch(
        self,
        states: NDArray[np.int64],
        actions: NDArray[np.int64],
        rewards: NDArray[Any],
        next_states: NDArray[np.int64],
        alpha: float,
        epsilon: float,
    ) -> None:
        """The updates of a batch as the per-env loop would apply them, one after the other
        (``next_states[i]`` is -1 when episode ``i`` terminated): compiled when numba is installed,
        else :func:`batch.learn_from_batch`; the same bits either way."""
        compiled, rule = self._kernels(), self._own_compiled_rule()
        if compiled is not None and rule is not None:
            powers = None if self.visit_decay is None else self._decay_powers
            settings = (alpha, epsilon, self.gamma, rule)
            compiled.learn(
                self._q, self._visit_tables[0], (states, actions, rewards, next_states), settings, powers
            )
            return
        batch.learn_from_batch(
            self._q,
            self._visit_tables[0],
            (states, actions, rewards, next_states),
            alpha,
            epsilon,
            self.visit_decay,
            self._decay_powers,
            self._target,
        )

    def _kernels(self) -> kernels.Kernels | None:
        """The compiled loops, when numba is installed and not switched off."""
        return kernels.load() if self._use_kernels else None

    @classmethod
    def _own_compiled_rule(cls) -> int | None:
        """The compiled target of the class that defines ``_target`` (None for a subclass that changes
        the target without naming a compiled one: it keeps the numpy path)."""
        owner = next(c for c in cls.__mro__ if "_target" in vars(c))
        rule: int | None = vars(owner).get("_compiled_rule")
        return rule

    def _decay_powers(self, largest: int) -> NDArray[np.float64]:
        """``n ** -visit_decay`` for n = 0..largest (at least), cached between batches."""
        assert self.visit_decay is not None
        cached = self._decay_cache
        if cached is None or cached[0] != self.visit_decay or len(cached[1]) <= largest:
            cached = (self.visit_decay, batch.decay_powers(self.visit_decay, largest))
            self._decay_cache = cached
        return cached[1]
