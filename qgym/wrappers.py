"""Wrappers the presets name in ``env_wrapper``: bin a continuous observation, split a state index
into its components, scale the reward.

>>> import gymnasium as gym
>>> from qgym.wrappers import DiscretizeObservation, ScaleReward, UnravelObservation
>>> env = DiscretizeObservation(gym.make("MountainCar-v0"), bins=(18, 14))
>>> env.observation_space
MultiDiscrete([18 14])
>>> UnravelObservation(gym.make("Taxi-v4"), dims=(5, 5, 5, 4)).observation(328)
array([3, 1, 2, 0])
>>> ScaleReward(gym.make("qgym:qgym/GridFarm-1x1-v0"), scale=0.1).scale
0.1
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import ArrayLike, NDArray

__all__ = ["DiscretizeObservation", "ScaleReward", "UnravelObservation"]


class DiscretizeObservation(gym.ObservationWrapper[NDArray[np.int64], Any, NDArray[np.floating[Any]]]):
    """Cut each component of a Box observation into equal-width bins: a MultiDiscrete observation.

    Component ``i`` of the (flattened) observation becomes ``floor((x - low) / (high - low) * bins)``,
    clipped to ``0 .. bins - 1``, so values outside ``[low, high]`` land in the first or last bin.

    :param env: an env with a Box observation space.
    :param bins: number of bins, one for every component or one per component.
    :param low: lower edge of the binned range; defaults to the space's ``low`` (must then be finite).
    :param high: upper edge of the binned range; defaults to the space's ``high`` (must then be finite).
    """

    # The observation is a function of the wrapped env's observation alone (no memory, no clock).
    stateless: ClassVar[bool] = True

    def __init__(
        self,
        env: gym.Env[NDArray[np.floating[Any]], Any],
        bins: int | Sequence[int],
        low: ArrayLike | None = None,
        high: ArrayLike | None = None,
    ) -> None:
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, spaces.Box):
            raise ValueError(f"DiscretizeObservation needs a Box observation space, got {space}")
        size = int(np.prod(space.shape))
        self._shape: tuple[int, ...] = tuple(space.shape)
        self.bins = _per_component(bins, size, "bins").astype(np.int64)
        if np.any(self.bins < 1) or not np.all(self.bins == _per_component(bins, size, "bins")):
            raise ValueError(f"bins must be positive integers, got {bins}")
        self.low = _per_component(space.low.reshape(-1) if low is None else low, size, "low")
        self.high = _per_component(space.high.reshape(-1) if high is None else high, size, "high")
        infinite = np.flatnonzero(~np.isfinite(self.low) | ~np.isfinite(self.high)).tolist()
        if infinite:
            raise ValueError(
                f"the observation space is unbounded in components {infinite}: pass finite low= and high= "
                "(the range to cut into bins)"
            )
        if np.any(self.high <= self.low):
            raise ValueError(f"high must exceed low in every component, got low={self.low}, high={self.high}")
        self.observation_space = spaces.MultiDiscrete(self.bins)

    def observation(self, observation: NDArray[np.floating[Any]]) -> NDArray[np.int64]:
        """Bin indices of one observation."""
        return self.bin(observation)

    def bin(self, observations: ArrayLike) -> NDArray[np.int64]:
        """Bin indices of one observation, or of a batch whose last axes are the observation's (a
        vector env's ``(num_envs, *shape)``): shape ``(..., components)``, as :meth:`observation`.

        >>> env = DiscretizeObservation(gym.make("MountainCar-v0"), bins=(18, 14))
        >>> env.bin([[-1.2, 0.0], [0.6, 0.07]]).tolist()
        [[0, 7], [17, 13]]
        """
        values = np.asarray(observations, dtype=np.float64)
        leading = values.shape[: values.ndim - len(self._shape)]
        if values.shape[len(leading) :] != self._shape:
            raise ValueError(
                f"observations must end with the observation shape {self._shape}, got shape {values.shape}"
            )
        fraction = (values.reshape(*leading, self.bins.size) - self.low) / (self.high - self.low)
        return np.clip(np.floor(fraction * self.bins), 0, self.bins - 1).astype(np.int64)


class UnravelObservation(gym.ObservationWrapper[NDArray[np.int64], Any, int]):
    """Split a Discrete state index into its components: ``numpy.unravel_index(obs, dims)``.

    A network sees a one-hot of 9,604 inputs for the 2x2 farm's index and must learn each state
    apart; unravelled by ``dims=(7, 7, 7, 7, 4)`` (four plots' stages and the farmer's cell) SB3
    one-hots each component, 32 inputs from which what is learned on one plot carries to others.

    :param env: an env with a ``Discrete(n)`` observation space (``start`` 0).
    :param dims: component sizes, row-major, whose product is ``n``.
    """

    stateless: ClassVar[bool] = True

    def __init__(self, env: gym.Env[int, Any], dims: Sequence[int]) -> None:
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, spaces.Discrete) or int(space.start) != 0:
            raise ValueError(f"UnravelObservation needs a Discrete observation space from 0, got {space}")
        if (
            not isinstance(dims, list | tuple)
            or not dims
            or not all(isinstance(d, int | np.integer) and not isinstance(d, bool) and d >= 1 for d in dims)
        ):
            raise ValueError(f"dims must be a list of positive integers, got {dims!r}")
        sizes = [int(d) for d in dims]
        if math.prod(sizes) != int(space.n):
            raise ValueError(f"dims must multiply to the {int(space.n)} states of {space}, got {sizes}")
        self.dims = tuple(sizes)
        self.observation_space = spaces.MultiDiscrete(sizes)

    def observation(self, observation: int) -> NDArray[np.int64]:
        """The components of one state index."""
        return np.array(np.unravel_index(int(observation), self.dims), dtype=np.int64)


class ScaleReward(gym.RewardWrapper[Any, Any]):
    """Multiply every reward by a fixed ``scale``; observations, actions and episodes are unchanged.

    For DQN on envs whose rewards are large and rare (a harvest of 10 every 20-odd steps): SB3's DQN
    fits Q with the Huber loss, which treats TD errors above 1 like an absolute error and so pulls
    Q towards the median of its targets, below their mean. Rewards scaled down keep the errors in
    the loss's quadratic part, where the fixed point is the Bellman one. The greedy policy is the
    same for any positive scale, so qgym judges it on the env's own rewards.

    :param env: any env with scalar rewards.
    :param scale: a finite number > 0.
    """

    def __init__(self, env: gym.Env[Any, Any], scale: float) -> None:
        super().__init__(env)
        if (
            isinstance(scale, bool)
            or not isinstance(scale, int | float | np.integer | np.floating)
            or not 0.0 < float(scale) < np.inf
        ):
            raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
        self.scale = float(scale)

    def reward(self, reward: SupportsFloat) -> float:
        """The scaled reward."""
        return self.scale * float(reward)


def _per_component(value: ArrayLike, size: int, name: str) -> NDArray[np.float64]:
    array = np.asarray(value, dtype=np.float64).reshape(-1)
    if array.size == 1:
        return np.full(size, float(array[0]))
    if array.size != size:
        raise ValueError(
            f"{name} must be one number or one per observation component ({size}), got {array.size}"
        )
    return array
