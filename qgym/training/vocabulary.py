"""The slides' words beside the library's: ``--hyperparams`` in the learner's names, and a run's learning
rule said in words.

The slides write the update ``Q(s, a) <- Q(s, a) + alpha [r + gamma max_a' Q(s', a') - Q(s, a)]`` and
explore with epsilon; Stable-Baselines3 (and so qgym's agents) call these ``learning_rate``, ``gamma``
and ``exploration_*_eps``. :data:`ALIASES` takes the slides' names on the command line and records the
algorithm's own in ``config.yml``; :func:`describe_learning` is the first line ``qgym train`` prints:
the step-size rule and the exploration schedule a run really uses, defaults included.
"""

from __future__ import annotations

import inspect
from collections.abc import Collection
from typing import Any

from qgym.training.registry import DEEP_ALGORITHMS, TABULAR_ALGORITHMS, algorithm_class, nearest

__all__ = [
    "ALIASES",
    "describe_learning",
    "effective_hyperparameters",
    "translate_aliases",
    "unknown_key_message",
]

ALIASES: dict[str, str] = {
    "alpha": "the step size, held constant: learning_rate (and visit_decay None for a table)",
    "epsilon": "a constant exploration rate: exploration_initial_eps and exploration_final_eps",
    "epsilon_start": "exploration_initial_eps, epsilon at the start",
    "epsilon_end": "exploration_final_eps, epsilon once it has fallen",
    "epsilon_fraction": "exploration_fraction, the share of training over which epsilon falls",
}
"""``--hyperparams`` names from the slides, and what each sets."""

_SIMPLE = {
    "epsilon_start": "exploration_initial_eps",
    "epsilon_end": "exploration_final_eps",
    "epsilon_fraction": "exploration_fraction",
}
# Names a learner may try that are not aliases, with what to write instead.
_MISREAD = {
    "lambda": "the slides' formula writes the discount as lambda; the algorithms call it gamma",
    "discount": "the discount is gamma",
    "eps": "write epsilon (a constant rate) or epsilon_start and epsilon_end (a schedule)",
    "epsilon_min": "write epsilon_end",
    "epsilon_max": "write epsilon_start",
    "epsilon_decay": (
        "epsilon falls linearly here, not by a factor a step: epsilon_fraction is the share of training it "
        "takes to fall (0.1: the first 10%)"
    ),
    "lr": "write alpha (a constant step size) or learning_rate",
}


def unknown_key_message(key: str, algo: str, allowed: Collection[str]) -> str:
    """The sentence for a ``--hyperparams`` key that is neither a setting of ``algo`` nor an alias."""
    hint = _MISREAD.get(key)
    names = sorted(allowed)
    if hint is not None:
        return f"--hyperparams {key} is not a setting of {algo}: {hint}"
    return (
        f"--hyperparams {key}{nearest(key, [*names, *ALIASES])} is not a setting of {algo}; it takes "
        f"{', '.join(names)}, or the slides' names {', '.join(ALIASES)}"
    )


def translate_aliases(block: dict[str, Any], allowed: Collection[str]) -> dict[str, Any]:
    """``block`` with the slides' names replaced by the algorithm's own (``allowed`` are its keys); a
    ValueError when a name and its alias, or two aliases of one setting, are both given."""
    result = {key: value for key, value in block.items() if key not in ALIASES}
    given: dict[str, str] = {}  # algorithm key -> the name that set it

    def put(key: str, value: Any, by: str) -> None:
        if key not in allowed:
            return  # e.g. visit_decay for DQN: the network has no per-(state, action) step size
        if key in result or key in given:
            raise ValueError(f"{by} and {given.get(key, key)} both set {key}: give one of them")
        result[key] = value
        given[key] = by

    for alias, value in block.items():
        if alias == "alpha":
            put("learning_rate", value, alias)
            if "visit_decay" in allowed and "visit_decay" not in block:
                result["visit_decay"] = None  # alpha is the slides' constant step size
                given["visit_decay"] = alias
        elif alias == "epsilon":
            put("exploration_initial_eps", value, alias)
            put("exploration_final_eps", value, alias)
        elif alias in _SIMPLE:
            put(_SIMPLE[alias], value, alias)
    return result


def effective_hyperparameters(algo: str, block: dict[str, Any]) -> dict[str, Any]:
    """The preset block over the constructor's defaults: what the model is built with (a table's
    defaults without importing it, so a lockstep run stays free of torch)."""
    if algo in TABULAR_ALGORITHMS:
        from dataclasses import fields

        from qgym.agents.rules import RULES
        from qgym.agents.settings import Hyperparameters

        defaults = {field.name: getattr(Hyperparameters(), field.name) for field in fields(Hyperparameters)}
        defaults |= {parameter.name: parameter.default for parameter in RULES[algo].parameters}
    else:
        parameters = inspect.signature(algorithm_class(algo).__init__).parameters
        defaults = {
            name: parameter.default
            for name, parameter in parameters.items()
            if parameter.default is not inspect.Parameter.empty
        }
    return {**defaults, **block}


def describe_learning(algo: str, block: dict[str, Any]) -> str:
    """The learning rule in words, defaults included: e.g. ``step size (alpha) max(n^-0.6, 0.5) per
    (state, action), n its visits so far; gamma 0.99; epsilon 1 -> 0.05 over the first 10% of the
    steps``. Networks (DQN, QR-DQN) name their optimizer's step size, target and replay buffer."""
    values = effective_hyperparameters(algo, block)
    epsilon = _epsilon(values)
    gamma = f"gamma {_number(values.get('gamma'))}"
    n_steps = values.get("n_steps")
    if algo in DEEP_ALGORITHMS:  # SB3's n_steps: 1 is the one-step target
        ahead = [_looks_ahead(n_steps, "the target network's Q")] if (n_steps or 1) > 1 else []
        return "; ".join([*_network_rule(algo, values), gamma, epsilon, *ahead, *_replay(values)])
    parts = [_step_size(values.get("learning_rate"), values.get("visit_decay")), gamma, epsilon]
    if n_steps is not None:
        parts.append(_looks_ahead(n_steps, "Q"))
    initial = (values.get("policy_kwargs") or {}).get("initial_q_value")
    if initial:
        parts.append(f"Q starts at {_number(initial)}{' (optimistic)' if initial > 0 else ''}")
    return "; ".join(parts)


def _step_size(rate: Any, decay: Any) -> str:
    floor = _rate(rate)
    if decay is None:
        return f"step size (alpha) {floor}" + ("" if isinstance(rate, str) else ", constant")
    return f"step size (alpha) max(n^-{_number(decay)}, {floor}) per (state, action), n its visits so far"


def _rate(rate: Any) -> str:
    """A learning rate as written: a number, or RL Zoo's ``lin_<rate>`` in words."""
    if isinstance(rate, str) and rate.startswith("lin_"):
        return f"{rate.removeprefix('lin_')} falling linearly to 0"
    return _number(rate)


def _epsilon(values: dict[str, Any]) -> str:
    start, end = values.get("exploration_initial_eps"), values.get("exploration_final_eps")
    fraction = values.get("exploration_fraction")
    if start == end or not fraction:
        return f"epsilon {_number(end)} throughout"
    return f"epsilon {_number(start)} -> {_number(end)} over the first {float(fraction):.0%} of the steps"


def _looks_ahead(n_steps: Any, value: str) -> str:
    return f"each target {n_steps} real rewards, then gamma^{n_steps} {value} (n-step)"


def _network_rule(algo: str, values: dict[str, Any]) -> list[str]:
    name = "QR-DQN" if algo == "qrdqn" else "DQN"
    rule = [f"{name}: Adam step size {_rate(values.get('learning_rate'))} on the network's weights"]
    quantiles = (values.get("policy_kwargs") or {}).get("n_quantiles")
    if algo == "qrdqn":
        rule.append(f"{quantiles or 200} quantiles of the return, acting on their mean")
    return rule


def _replay(values: dict[str, Any]) -> list[str]:
    interval = values.get("target_update_interval")
    tau = values.get("tau", 1.0)
    target = (
        f"target network copied every {int(interval):,} steps"
        if tau == 1.0 and interval is not None
        else f"target network moved {_number(tau)} of the way every {interval} steps"
    )
    frequency = values.get("train_freq")
    every = frequency[0] if isinstance(frequency, list | tuple) else frequency
    batch, buffer = values.get("batch_size"), values.get("buffer_size")
    return [
        target,
        f"learns {_cadence(values, every)} from step {int(values.get('learning_starts') or 0):,} on, in "
        f"batches of {batch} from a replay buffer of {int(buffer or 0):,} steps",
    ]


def _cadence(values: dict[str, Any], every: Any) -> str:
    """How often a network learns, in env steps: SB3's ``train_freq`` counts steps of the whole
    vector env (``n_envs`` env steps each), and ``gradient_steps`` -1 means one Adam step per env step."""
    if not isinstance(every, int) or isinstance(every, bool):
        return f"every {every}"  # train_freq in episodes: (n, "episode")
    n_envs = int(values.get("n_envs") or 1)
    steps = every * n_envs
    updates = values.get("gradient_steps", 1)
    updates = steps if updates == -1 else updates
    cadence = "after every step" if steps == 1 else f"every {steps:,} steps"
    if n_envs > 1:
        each = "one step" if every == 1 else f"{every} steps"
        cadence += f" ({each} of each of its {n_envs} envs)"
    return cadence if updates == 1 else f"{cadence}, {updates} Adam steps each time,"


def _number(value: Any) -> str:
    """``0.5``, ``1e-04``, ``100``: a number as short as it reads."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e6:
        return f"{value:.1f}"  # 1.0, as the slides and the presets write a rate
    return f"{value:g}"
