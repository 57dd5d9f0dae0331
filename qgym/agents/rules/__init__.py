"""The tabular learning rules, one module each kind; every rule with a name is an algorithm.

A rule (:class:`qgym.agents.rules.base.Rule`) says what a TD update bootstraps from; the loops, the
batched and compiled paths and the lockstep learners apply it (see the base module). To add an
algorithm, add a module here with a :class:`Rule` subclass that has a ``name``: importing this package
imports every module in it, which registers the rule in :data:`RULES`; :mod:`qgym.agents.algorithms`
makes its Stable-Baselines3 class, and ``qgym train --algo NAME`` trains it. Nothing here imports
torch or Stable-Baselines3.
"""

from __future__ import annotations

import importlib
import pkgutil

from qgym.agents.rules import one_step  # noqa: F401  (the four classic rules first in RULES' order)
from qgym.agents.rules.base import BATCH, ONE, RULES, Form, Rule, RuleParameter

__all__ = ["BATCH", "ONE", "RULES", "Form", "Rule", "RuleParameter", "rule_class"]

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")


def rule_class(name: str) -> type[Rule]:
    """The rule ``--algo name`` trains; a ValueError listing the rules when unknown."""
    if name not in RULES:
        raise ValueError(f"no tabular rule is named {name!r}; the rules are {', '.join(RULES)}")
    return RULES[name]
