"""One training interface for tables, DQN and QR-DQN: presets, runs, evaluation against the optimum.

``registry`` (algorithm and env names) -> ``presets`` (RL Zoo's YAML, read safely) -> ``envs`` (the
VecEnv a preset asks for) -> ``train`` (a run folder) -> ``evaluation`` (sampled mean, exact share of
the optimum, or the heuristic on the same episodes, played through ``rollouts``); ``tuning`` searches
presets with Optuna; ``models`` loads a saved model for any of them; ``callbacks`` measure learning
exactly during training.
"""

from qgym.training.evaluation import Evaluation, evaluate, exact_optimum, exact_return, heuristic_for
from qgym.training.presets import Preset, PresetError, load_preset
from qgym.training.registry import ALGORITHMS, DEEP_ALGORITHMS, TOY_TEXT_IDS, check_algorithm, check_env_id
from qgym.training.rollouts import OptimalPolicy, Step, episode_returns, model_policy, run_episode
from qgym.training.train import Run, make_model, train

__all__ = [
    "ALGORITHMS",
    "DEEP_ALGORITHMS",
    "TOY_TEXT_IDS",
    "Evaluation",
    "OptimalPolicy",
    "Preset",
    "PresetError",
    "Run",
    "Step",
    "check_algorithm",
    "check_env_id",
    "episode_returns",
    "evaluate",
    "exact_optimum",
    "exact_return",
    "heuristic_for",
    "load_preset",
    "make_model",
    "model_policy",
    "run_episode",
    "train",
]
