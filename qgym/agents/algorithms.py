"""The four temporal-difference rules, each a one-method subclass of :class:`TabularAlgorithm`.

>>> import gymnasium as gym
>>> from qgym.agents import QLearning
>>> model = QLearning("TabularPolicy", gym.make("FrozenLake-v1", is_slippery=False), seed=0)
>>> model = model.learn(5_000)
>>> model.predict(0, deterministic=True)[0].shape
()
"""

from __future__ import annotations

from typing import ClassVar

from qgym.agents.base import TabularAlgorithm
from qgym.agents.kernels import EXPECTED, GREATEST
from qgym.agents.next_values import ONE_ROW, NextValues, Reductions, Values

__all__ = ["SARSA", "DoubleQLearning", "ExpectedSARSA", "QLearning"]


class QLearning(TabularAlgorithm):
    """Q-learning (Watkins 1989): ``Q(s,a) <- Q(s,a) + alpha [r + gamma max_a' Q(s',a') - Q(s,a)]``.

    Off-policy: it learns the greedy policy's values while acting epsilon-greedily. The rule is its
    target, ``r + gamma max_a' Q(s', a')`` (just ``r`` when the episode terminated), written once for
    one transition and for a batch of them (:mod:`qgym.agents.next_values`); every loop moves Q(s, a)
    a step towards it. On a VecEnv of several envs it picks actions and applies updates for the whole
    batch at once, with the same result as one env after the other.
    """

    _has_batch_rule: ClassVar[bool] = True
    _compiled_rule: ClassVar[int | None] = GREATEST

    def _target(
        self, reward: Values, next_values: NextValues | None, epsilon: float, reduce: Reductions = ONE_ROW
    ) -> Values:
        return reward if next_values is None else reward + self.gamma * reduce.greatest(next_values)


class SARSA(TabularAlgorithm):
    """SARSA (Rummery & Niranjan 1994): bootstraps from the action the behaviour policy takes next.

    On-policy: it learns the values of the epsilon-greedy policy it follows (the safe path of
    Cliff Walking). After a truncation it bootstraps from an action drawn in the last observation.
    """

    def _update(
        self, state: int, action: int, reward: float, next_state: int | None, alpha: float, epsilon: float
    ) -> int | None:
        q = self._q
        step = self._step_size(0, state, action, alpha)
        next_action: int | None = None
        target = reward
        if next_state is not None:
            next_action = self._epsilon_greedy(next_state, epsilon, self._rng.random)
            target = reward + self.gamma * q.item(next_state, next_action)
        old = q.item(state, action)
        q[state, action] = old + step * (target - old)
        return next_action


class ExpectedSARSA(TabularAlgorithm):
    """Expected SARSA (van Seijen et al. 2009): bootstraps from the epsilon-greedy policy's mean value.

    With epsilon-greedy over greedy ties, that mean is ``eps * mean(Q(s')) + (1 - eps) * max(Q(s'))``.
    Batched on a VecEnv of several envs, as :class:`QLearning` is. (SARSA and Double Q-learning draw
    random numbers inside their updates, so they keep the per-env loop.)
    """

    _has_batch_rule: ClassVar[bool] = True
    _compiled_rule: ClassVar[int | None] = EXPECTED

    def _target(
        self, reward: Values, next_values: NextValues | None, epsilon: float, reduce: Reductions = ONE_ROW
    ) -> Values:
        if next_values is None:
            return reward
        # (eps * sum) / n, in this order: the float operations every table qgym pins was made with.
        explore = epsilon * reduce.total(next_values) / reduce.count(next_values)
        expected = explore + (1.0 - epsilon) * reduce.greatest(next_values)
        return reward + self.gamma * expected


class DoubleQLearning(TabularAlgorithm):
    """Double Q-learning (van Hasselt 2010): two tables, one picks the best next action, the other values it.

    Each step updates one table, chosen by a fair coin; the agent acts on (and ``q_table`` reports)
    their mean, which removes Q-learning's maximization bias.
    """

    n_tables: ClassVar[int] = 2

    def _action_values(self, state: int) -> list[float]:
        first, second = self._q_tables
        return [a + b for a, b in zip(first[state].tolist(), second[state].tolist(), strict=True)]

    def _update(
        self, state: int, action: int, reward: float, next_state: int | None, alpha: float, epsilon: float
    ) -> int | None:
        table = 0 if self._rng.random() < 0.5 else 1
        updated, other = self._q_tables[table], self._q_tables[1 - table]
        step = self._step_size(table, state, action, alpha)
        target = reward
        if next_state is not None:
            values = updated[next_state].tolist()
            best = values.index(max(values))
            target = reward + self.gamma * other.item(next_state, best)
        old = updated.item(state, action)
        updated[state, action] = old + step * (target - old)
        return None
