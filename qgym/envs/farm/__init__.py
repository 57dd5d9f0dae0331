"""The grid farm: plant, water and harvest a field under random weather.

``rules`` (pure batched rules) serves ``env`` (one farm), ``vector`` (N farms) and ``model`` (the exact
factored model); ``render`` draws a farm, ``heuristic`` plays the rungs too large to solve.
"""

from qgym.envs.farm.env import GridFarmEnv
from qgym.envs.farm.heuristic import FarmHeuristic
from qgym.envs.farm.model import FarmModel
from qgym.envs.farm.rules import ACTION_NAMES, CROP_NAMES, Action, Crop, FarmConfig
from qgym.envs.farm.vector import GridFarmVectorEnv

__all__ = [
    "ACTION_NAMES",
    "CROP_NAMES",
    "Action",
    "Crop",
    "FarmConfig",
    "FarmHeuristic",
    "FarmModel",
    "GridFarmEnv",
    "GridFarmVectorEnv",
]
