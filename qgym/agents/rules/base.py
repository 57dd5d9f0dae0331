"""What a tabular learning rule is, and the generic code that applies any rule to a table.

A rule says what it bootstraps from: :meth:`Rule.bootstrap` takes the next state's action values and
returns the value the TD target adds (times gamma); a rule that chooses the next action now (SARSA)
also says how, in :meth:`Rule.choose_next`. Each is written once, with the reductions and the
exploration choice of a :class:`Form` argument, and serves every loop:

* :meth:`Rule.learn_one`, one transition on Python floats: the per-transition loops (a lone env, or any
  VecEnv one env after the other);
* :meth:`Rule.learn_rows`, one transition a row on rows that no two updates share: the lockstep
  learners (one update per learner and pass);
* :meth:`Rule.target` in both forms, for a rule with a batch form (one table, no draws of its own):
  the batched loop of :mod:`qgym.agents.batch` and, where the rule names one, the compiled loop of
  :mod:`qgym.agents.kernels` (checked against this rule bit for bit by the tests).

A rule with a ``name`` is registered in :data:`RULES` and becomes an SB3 algorithm of
:mod:`qgym.agents.algorithms` and an ``--algo`` of the command line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from qgym.agents.exploration import Uniform, choose_one, choose_rows
from qgym.agents.next_values import ONE_ROW, ROWS, Reductions, Values
from qgym.agents.step_sizes import StepSizes
from qgym.validation import is_int, is_number

__all__ = ["BATCH", "ONE", "RULES", "Form", "Rule", "RuleParameter"]

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Form(Reductions):
    """The form of the values a rule reads, one transition (a list of floats, draws from a generator)
    or a batch (2-D rows, one uniform a row): its reductions (:class:`Reductions`) and its
    epsilon-greedy choice."""

    choose: Callable[[Any, float, Any], Any]
    """Epsilon-greedy (:mod:`qgym.agents.exploration`): ``choose(values, epsilon, draw)``."""


def _form(reductions: Reductions, choose: Callable[[Any, float, Any], Any]) -> Form:
    return Form(
        **{field.name: getattr(reductions, field.name) for field in fields(Reductions)}, choose=choose
    )


ONE = _form(ONE_ROW, choose_one)
"""One transition: ``draw`` is a generator's ``random``."""
BATCH = _form(ROWS, choose_rows)
"""A batch: ``draw`` is an array of uniforms, one a row."""


@dataclass(frozen=True)
class RuleParameter:
    """A hyperparameter of one rule beyond the shared ones (alpha, gamma, epsilon, ...)."""

    name: str
    default: int | float
    meaning: str
    integer: bool = False
    low: float = 0.0
    high: float = float("inf")

    def check(self, value: Any) -> int | float:
        """``value`` when allowed, else a ValueError naming the parameter and the range."""
        kind = "a whole number" if self.integer else "a number"
        allowed = is_int(value) if self.integer else is_number(value)
        if not allowed or not self.low <= value <= self.high:
            raise ValueError(f"{self.name} must be {kind} from {self.low:g} to {self.high:g}, got {value!r}")
        return int(value) if self.integer else float(value)


RULES: dict[str, type[Rule]] = {}
"""Every registered rule by the name ``--algo`` takes (filled as the rule modules are imported)."""


class Rule:
    """A temporal-difference rule over ``n_tables`` Q-tables; subclasses supply :meth:`bootstrap`.

    :param gamma: the discount factor.
    :param step_sizes: the step sizes (and visit counts) of the updates.
    :param parameters: the values of the rule's own :attr:`parameters`.
    """

    name: ClassVar[str | None] = None
    """The name ``--algo`` takes; a rule with a name is registered in :data:`RULES`."""
    algorithm: ClassVar[str] = ""
    """The name of the SB3 algorithm class made of this rule (e.g. ``"QLearning"``)."""
    n_tables: ClassVar[int] = 1
    """Q-tables the rule keeps, 1 or 2; with two, a uniform of its own picks the table each update
    changes (a fair coin), the other is read at the next state, and the agent acts on their sum."""
    own_draws: ClassVar[bool] = False
    """Whether the rule uses a uniform of its own per update (to choose a next action or a table)."""
    chooses_next: ClassVar[bool] = False
    """Whether the rule chooses the next action when it updates (:meth:`choose_next`)."""
    compiled: ClassVar[int | None] = None
    """The compiled form of :meth:`target` (a formula of :mod:`qgym.agents.kernels`), if any: read
    only on the class that defines :meth:`bootstrap` (see :meth:`compiled_target`)."""
    parameters: ClassVar[tuple[RuleParameter, ...]] = ()
    """The rule's own hyperparameters (constructor keywords of its algorithm, saved with the model)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in vars(cls) and cls.name is not None:
            if cls.name in RULES:
                raise ValueError(f"two rules are named {cls.name!r}: {RULES[cls.name]} and {cls}")
            RULES[cls.name] = cls

    def __init__(self, gamma: float, step_sizes: StepSizes, **parameters: Any) -> None:
        self.gamma = gamma
        self.step_sizes = step_sizes
        self.settings = self.check_parameters(parameters)
        self._count = step_sizes.one
        self._single_table = self.n_tables == 1

    @classmethod
    def check_parameters(cls, values: dict[str, Any]) -> dict[str, int | float]:
        """The rule's own parameters with defaults filled in; a ValueError for an unknown or bad one."""
        known = {parameter.name: parameter for parameter in cls.parameters}
        unknown = sorted(set(values) - set(known))
        if unknown:
            allowed = f"only {sorted(known)}" if known else "none"
            raise ValueError(f"{cls.algorithm or cls.__name__} takes {allowed} of its own, got {unknown}")
        return {
            name: parameter.check(values.get(name, parameter.default)) for name, parameter in known.items()
        }

    @classmethod
    def has_batch_form(cls) -> bool:
        """Whether a batch of this rule's updates can be applied from its :meth:`target` alone."""
        return cls.n_tables == 1 and not cls.own_draws and cls.learn_one is Rule.learn_one

    @classmethod
    def compiled_target(cls) -> int | None:
        """The compiled formula of the class that defines :meth:`bootstrap` (None for a subclass that
        changes the bootstrap without naming its own: it keeps the numpy path)."""
        owner = next(klass for klass in cls.__mro__ if "bootstrap" in vars(klass))
        formula: int | None = vars(owner).get("compiled")
        return formula if cls.has_batch_form() else None

    # --- what a rule supplies ------------------------------------------------------------------

    def bootstrap(self, next_values: Any, epsilon: float, form: Form, chosen: Any) -> Values:
        """The value the target bootstraps from: ``r + gamma * value``. ``next_values`` is Q(s', .) in
        ``form`` (one row, or rows); with two tables, the pair (the updated table's, the other's);
        ``chosen`` the action(s) :meth:`choose_next` chose, or None."""
        raise NotImplementedError

    def choose_next(self, next_values: Any, epsilon: float, form: Form, draw: Any) -> Any:
        """The next action(s), chosen now, for a rule that :attr:`chooses_next`: ``draw`` is the rule's
        own uniform(s) in ``form``."""
        raise NotImplementedError

    # --- the generic forms that apply it -------------------------------------------------------

    def target(self, reward: Values, next_values: Any, epsilon: float, form: Form = ONE) -> Values:
        """``reward`` where the episode terminated (``next_values`` None), else ``reward + gamma *
        bootstrap``: the target of a rule with a batch form (it draws nothing)."""
        if next_values is None:
            return reward
        return reward + self.gamma * self.bootstrap(next_values, epsilon, form, None)

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
        """Move Q(state, action) a step towards the target of ``transition`` = (state, action, reward,
        next state or None where the episode terminated); return the next action chosen now, if any.
        ``env`` and ``done`` (the episode ended: terminated or truncated) serve rules with a memory."""
        # The per-transition loops' hot path: every lookup here runs once a step.
        state, action, reward, next_state = transition
        single = self._single_table
        table = 0 if single else int(uniform() * 2)
        step = self._count(visits[table], state, action, alpha)
        q = tables[table]
        chosen = None
        if next_state is None:
            goal = reward
        else:
            if single:
                next_values: Any = q[next_state].tolist()
            else:  # the updated table's row, then the other's
                next_values = (q[next_state].tolist(), tables[1 - table][next_state].tolist())
            if self.chooses_next:
                chosen = self.choose_next(next_values, epsilon, ONE, uniform)
            goal = reward + self.gamma * self.bootstrap(next_values, epsilon, ONE, chosen)
        old = q.item(state, action)
        q[state, action] = old + step * (goal - old)
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
        """One update per row of ``transitions`` = (rows, actions, rewards, next rows; -1 where the
        episode terminated), no row written twice nor read after another update writes it; ``tables``
        and ``visits`` are (n_tables, n_rows, n_actions). ``draws``: the rule's own uniforms, one per
        update. Returns the next actions chosen now (-1 where terminated), or None. ``envs`` (the
        sub-env of each update) and ``ends`` (its episode ended) serve rules with a memory."""
        rows, actions, rewards, next_rows = transitions
        n_rows, n_actions = tables.shape[1], tables.shape[2]
        cells = rows * n_actions + actions
        ended = next_rows < 0  # row -1 is read as any other below and its target dropped: one pass
        if self.n_tables == 1:
            next_values: Any = tables[0][next_rows]
        else:
            table = (draws * 2).astype(np.int64)
            cells = cells + table * (n_rows * n_actions)
            next_values = (tables[table, next_rows], tables[1 - table, next_rows])
        steps = self.step_sizes.counted(visits, cells, alpha, distinct=True)
        chosen = self.choose_next(next_values, epsilon, BATCH, draws) if self.chooses_next else None
        goals = rewards + self.gamma * self.bootstrap(next_values, epsilon, BATCH, chosen)
        if ended.any():
            goals = np.where(ended, rewards, goals)
            if chosen is not None:
                chosen = np.where(ended, -1, chosen)
        flat = tables.reshape(-1)
        old = flat[cells]
        flat[cells] = old + steps * (goals - old)
        return None if chosen is None else np.asarray(chosen, dtype=np.int64)

    def action_values(self, tables: list[Floats], state: int) -> list[float]:
        """The values the behaviour policy compares in ``state`` (the sum of the tables)."""
        if self.n_tables == 1:
            return tables[0][state].tolist()  # type: ignore[no-any-return]
        first, second = tables
        return [a + b for a, b in zip(first[state].tolist(), second[state].tolist(), strict=True)]

    def rows_action_values(self, tables: Floats, rows: Ints) -> Floats:
        """:meth:`action_values` of many rows, (len(rows), n_actions)."""
        if self.n_tables == 1:
            return np.asarray(tables[0][rows])
        return np.asarray(tables[0][rows] + tables[1][rows])
