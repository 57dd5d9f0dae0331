"""The one-step rules: Q-learning, SARSA, Expected SARSA and Double Q-learning, each its bootstrap.

Every rule here moves ``Q(s, a)`` a step towards ``r + gamma * value`` (just ``r`` when the episode
terminated); they differ only in the value of the next state they bootstrap from.
"""

from __future__ import annotations

from typing import Any

from qgym.agents.kernels import EXPECTED, GREATEST
from qgym.agents.next_values import Values
from qgym.agents.rules.base import Form, Rule

__all__ = ["DoubleQLearningRule", "ExpectedSARSARule", "QLearningRule", "SARSARule"]


class QLearningRule(Rule):
    """Q-learning (Watkins 1989): ``Q(s,a) <- Q(s,a) + alpha [r + gamma max_a' Q(s',a') - Q(s,a)]``.

    Off-policy: it learns the greedy policy's values while acting epsilon-greedily.
    """

    name = "qlearning"
    algorithm = "QLearning"
    compiled = GREATEST

    def bootstrap(self, next_values: Any, epsilon: float, form: Form, chosen: Any) -> Values:
        return form.greatest(next_values)


class SARSARule(Rule):
    """SARSA (Rummery & Niranjan 1994): bootstraps from the action the behaviour policy takes next.

    On-policy: it learns the values of the epsilon-greedy policy it follows (the safe path of Cliff
    Walking). The next action is drawn now and is the action taken next; after a truncation it is drawn
    in the last observation only to bootstrap.
    """

    name = "sarsa"
    algorithm = "SARSA"
    own_draws = True
    chooses_next = True

    def choose_next(self, next_values: Any, epsilon: float, form: Form, draw: Any) -> Any:
        return form.choose(next_values, epsilon, draw)

    def bootstrap(self, next_values: Any, epsilon: float, form: Form, chosen: Any) -> Values:
        return form.pick(next_values, chosen)


class ExpectedSARSARule(Rule):
    """Expected SARSA (van Seijen et al. 2009): bootstraps from the epsilon-greedy policy's mean value.

    With epsilon-greedy over greedy ties, that mean is ``eps * mean(Q(s')) + (1 - eps) * max(Q(s'))``.
    """

    name = "expected_sarsa"
    algorithm = "ExpectedSARSA"
    compiled = EXPECTED

    def bootstrap(self, next_values: Any, epsilon: float, form: Form, chosen: Any) -> Values:
        # (eps * sum) / n, in this order: the float operations every table qgym pins was made with.
        explore = epsilon * form.total(next_values) / form.count(next_values)
        return explore + (1.0 - epsilon) * form.greatest(next_values)


class DoubleQLearningRule(Rule):
    """Double Q-learning (van Hasselt 2010): two tables, one picks the best next action, the other values it.

    Each step updates one table, chosen by a fair coin; the agent acts on (and ``q_table`` reports)
    their mean, which removes Q-learning's maximization bias.
    """

    name = "double_qlearning"
    algorithm = "DoubleQLearning"
    n_tables = 2
    own_draws = True

    def bootstrap(self, next_values: Any, epsilon: float, form: Form, chosen: Any) -> Values:
        updated, other = next_values
        return form.pick(other, form.first_greatest(updated))
