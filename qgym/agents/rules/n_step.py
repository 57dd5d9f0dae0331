"""n-step SARSA (Sutton & Barto, section 7.2): bootstraps n steps ahead, from the action taken there.

Q(s_t, a_t) moves towards ``r_{t+1} + gamma r_{t+2} + ... + gamma^(n-1) r_{t+n} + gamma^n Q(s_{t+n},
a_{t+n})``: the rewards of n real steps, then the value of where they led. A reward reaches the state
that earned it n steps back at once, instead of one state per visit; n = 1 is SARSA (the same updates,
bit for bit). At the end of an episode the pairs still waiting are updated with the rewards they saw
(and, after a time limit, the value of the last state with an action drawn there).

The rule keeps a memory per env: the last pairs and rewards not yet updated. Within one ``learn`` that
memory follows the episodes; a new ``learn`` that does not reset the envs keeps it, a loaded model
starts with none (as it starts new episodes).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from qgym.agents.exploration import Uniform
from qgym.agents.next_values import Values
from qgym.agents.rules.base import BATCH, ONE, Form, Rule, RuleParameter

__all__ = ["NStepSARSARule", "n_step_return"]

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]


def n_step_return(rewards: list[Any], gamma: float, tail: Any) -> Any:
    """``rewards[0] + gamma * rewards[1] + ... + gamma^k * tail`` (``tail`` None: no bootstrap), summed
    from the last reward back: floats, or arrays element by element."""
    goal = tail
    for reward in reversed(rewards):
        goal = reward if goal is None else reward + gamma * goal
    return goal


class NStepSARSARule(Rule):
    """n-step SARSA (Sutton & Barto 2018, section 7.2): SARSA's target, n real rewards later.

    On-policy, as SARSA: the next action is chosen (epsilon-greedily) when the rule updates and is the
    action taken next. Larger n carries rewards back faster and bootstraps less (more variance).
    """

    name = "nstep_sarsa"
    algorithm = "NStepSARSA"
    own_draws = True
    chooses_next = True
    parameters = (
        RuleParameter("n_steps", 3, "steps of real rewards before the bootstrap (1 is SARSA)", True, 1, 100),
    )

    def __init__(self, gamma: float, step_sizes: Any, **parameters: Any) -> None:
        super().__init__(gamma, step_sizes, **parameters)
        self.n = int(self.settings["n_steps"])
        self._waiting: dict[int, list[tuple[int, int, float]]] = {}
        self._rows: _RowsMemory | None = None

    def choose_next(self, next_values: Any, epsilon: float, form: Form, draw: Any) -> Any:
        return form.choose(next_values, epsilon, draw)

    def bootstrap(self, next_values: Any, epsilon: float, form: Form, chosen: Any) -> Values:
        return form.pick(next_values, chosen)

    def learn_one(
        self,
        tables: list[Floats],
        visits: list[Ints],
        transition: tuple[int, int, float, int | None],
        alpha: float,
        epsilon: float,
        uniform: Uniform,
        env: int = 0,
        done: bool = False,
    ) -> int | None:
        """Remember (state, action, reward) of ``env``; update the pair n steps back, and at the end of
        the episode every pair still waiting, oldest first."""
        state, action, reward, next_state = transition
        waiting = self._waiting.setdefault(env, [])
        waiting.append((state, action, reward))
        q, counts = tables[0], visits[0]
        chosen = None
        if next_state is not None:
            chosen = self.choose_next(q[next_state].tolist(), epsilon, ONE, uniform)
        while waiting and (len(waiting) == self.n or done or next_state is None):
            tail = None
            if next_state is not None:
                tail = self.bootstrap(q[next_state].tolist(), epsilon, ONE, chosen)
            first_state, first_action, _ = waiting[0]
            step = self.step_sizes.one(counts, first_state, first_action, alpha)
            goal = n_step_return([r for _, _, r in waiting], self.gamma, tail)
            old = q.item(first_state, first_action)
            q[first_state, first_action] = old + step * (goal - old)
            waiting.pop(0)
        return chosen

    def learn_rows(
        self,
        tables: Floats,
        visits: Ints,
        transitions: tuple[Ints, Ints, Floats, Ints],
        alpha: float,
        epsilon: float,
        draws: Floats,
        envs: Ints | None = None,
        ends: NDArray[np.bool_] | None = None,
    ) -> Ints | None:
        """:meth:`learn_one` for one update per row (the rows of distinct learners), each env's memory
        in arrays: the pairs n steps back, then at episode ends the waiting pairs oldest first."""
        rows, actions, rewards, next_rows = transitions
        assert envs is not None, "n-step SARSA needs each update's env"
        assert ends is not None, "n-step SARSA needs each update's episode end"
        memory = self._rows_memory(int(envs.max()) + 1 if len(envs) else 0)
        memory.remember(envs, rows, actions, rewards)
        q, n_actions = tables[0], tables.shape[2]
        terminated = next_rows < 0
        chosen = np.where(terminated, -1, self.choose_next(q[next_rows], epsilon, BATCH, draws))
        ended = ends | terminated
        # Every env whose memory is full, or whose episode ended, updates its oldest pair; an ended
        # episode repeats until its memory is empty (one pass a pair, oldest first).
        while True:
            due = (memory.length[envs] == self.n) | (ended & (memory.length[envs] > 0))
            if not due.any():
                break
            at = np.flatnonzero(due)
            env = envs[at]
            tail = self.bootstrap(q[next_rows[at]], epsilon, BATCH, chosen[at])
            goals = memory.returns(env, self.gamma, tail, terminated[at])
            cells = memory.states[env, 0] * n_actions + memory.actions[env, 0]
            steps = self.step_sizes.counted(visits, cells, alpha, distinct=True)
            flat = tables.reshape(-1)
            old = flat[cells]
            flat[cells] = old + steps * (goals - old)
            memory.forget_oldest(env)
        return np.asarray(chosen, dtype=np.int64)

    def _rows_memory(self, n_envs: int) -> _RowsMemory:
        if self._rows is None or self._rows.length.size < n_envs:
            self._rows = _RowsMemory(n_envs, self.n)
        return self._rows


class _RowsMemory:
    """Each env's waiting (row, action, reward), oldest first, as arrays (envs, n)."""

    def __init__(self, n_envs: int, n: int) -> None:
        self.states = np.zeros((n_envs, n), dtype=np.int64)
        self.actions = np.zeros((n_envs, n), dtype=np.int64)
        self.rewards = np.zeros((n_envs, n))
        self.length = np.zeros(n_envs, dtype=np.int64)

    def remember(self, envs: Ints, rows: Ints, actions: Ints, rewards: Floats) -> None:
        at = self.length[envs]
        self.states[envs, at], self.actions[envs, at], self.rewards[envs, at] = rows, actions, rewards
        self.length[envs] = at + 1

    def returns(self, envs: Ints, gamma: float, tail: Floats, terminated: NDArray[np.bool_]) -> Floats:
        """:func:`n_step_return` of each env's waiting rewards (its own number of them) and ``tail``, or
        of its rewards alone where ``terminated``: the same operations, element by element."""
        length = self.length[envs]
        goal = tail
        for k in reversed(range(int(length.max()))):
            reward = self.rewards[envs, k]
            last_alone = terminated & (k == length - 1)
            folded = np.where(last_alone, reward, reward + gamma * goal)
            goal = np.where(k < length, folded, goal)
        return np.asarray(goal)

    def forget_oldest(self, envs: Ints) -> None:
        for array in (self.states, self.actions, self.rewards):
            array[envs, :-1] = array[envs, 1:]
        self.length[envs] -= 1
