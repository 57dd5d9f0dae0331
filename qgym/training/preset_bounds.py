"""What a preset block may ask for, checked once before a model or an env is built.

A preset (or ``--hyperparams``) is data a user hands qgym; the algorithms behind it accept much that is
silently ignored (RL Zoo's ``normalize`` and ``frame_stack``, which qgym does not apply), crashes deep
inside SB3 or torch (``device: toaster``, ``policy: CnnPolicy`` on a Discrete observation, a class name
where a class belongs) or allocates without bound (``n_envs: 1000000000``, a 65,536-unit network). Each
is refused here in a sentence naming the key and what is allowed.
"""

from __future__ import annotations

import re
from typing import Any

from qgym.training.registry import DEEP_ALGORITHMS
from qgym.validation import MAX_N_ENVS, brief

__all__ = ["check_preset"]

_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d{1,2})?|mps)$")
# Constructor arguments that take a class: a preset is data, and qgym imports nothing a file names.
_CLASS_KEYS = ("replay_buffer_class", "optimizer_class", "activation_fn", "features_extractor_class")


def check_preset(algo: str, block: dict[str, Any]) -> None:
    """A ValueError naming the key unless the preset ``block`` of ``algo`` is one qgym trains as asked."""
    deep = algo in DEEP_ALGORITHMS
    if "seed" in block:
        raise ValueError(
            f"seed {brief(block['seed'])} in a preset or --hyperparams: the seed is the command's --seed "
            "(and --seeds), recorded in config.yml; remove the key"
        )
    if block.get("normalize") not in (None, False):
        raise ValueError(
            f"normalize: {brief(block['normalize'])} is RL Zoo's VecNormalize, which qgym does not apply "
            "(its running statistics would have to be saved beside the model); remove it, or normalize "
            "observations with env_wrapper: gymnasium.wrappers.NormalizeObservation"
        )
    if block.get("frame_stack") not in (None, 1):
        raise ValueError(
            f"frame_stack: {brief(block['frame_stack'])} is RL Zoo's VecFrameStack, which qgym does not "
            "apply; remove it, or stack frames with env_wrapper: "
            "[{gymnasium.wrappers.FrameStackObservation: {stack_size: N}}]"
        )
    policy = block.get("policy")
    wanted = ("MlpPolicy",) if deep else ("TabularPolicy", "MlpPolicy")
    if policy is not None and policy not in wanted:
        why = (
            "qgym saves and loads MLP networks"
            if deep
            else "a table is its own policy; MlpPolicy is RL Zoo's name for it"
        )
        raise ValueError(
            f"policy must be {' or '.join(map(repr, wanted))} for {algo} ({why}), got {brief(policy)}"
        )
    device = block.get("device", "auto")
    if not (isinstance(device, str) and _DEVICE.match(device)):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {brief(device)}")
    kwargs = block.get("policy_kwargs") or {}
    for key in _CLASS_KEYS:
        value = block.get(key, kwargs.get(key) if isinstance(kwargs, dict) else None)
        if value is not None:
            raise ValueError(
                f"{key}: {brief(value)} names a class; a preset is data and qgym imports nothing a file "
                f"names: remove {key} to use {algo}'s default"
            )
    n_envs = block.get("n_envs", 1)
    if isinstance(n_envs, int) and n_envs > MAX_N_ENVS:
        raise ValueError(
            f"n_envs must be a whole number from 1 to {MAX_N_ENVS:,} (a native vector env's sub-env takes "
            f"about 300 bytes, so {MAX_N_ENVS:,} take 20 MB), got {n_envs:,}"
        )
