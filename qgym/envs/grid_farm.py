"""The grid farm: plant, water and harvest a field under random weather."""

from __future__ import annotations

import functools
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from qgym.envs.farm_model import FarmModel
from qgym.envs.farm_rules import (
    ACTION_NAMES,
    N_ACTIONS,
    N_CROPS,
    Action,
    Crop,
    FarmConfig,
    act,
    action_mask,
    nature_step,
)
from qgym.envs.rendering import HumanWindow, import_pygame, surface_to_array

__all__ = ["GridFarmEnv"]

#: The exact model (and so planning) is offered for fields of at most this many plots (2x3).
MAX_MODEL_PLOTS = 6

_CELL = 84
_STRIP = 30
_SOIL_DRY = (181, 141, 96)
_SOIL_WET = (110, 74, 42)
_AGENT = (40, 110, 235)
_CROP_LETTERS = {
    Crop.EMPTY: ".",
    Crop.SEED_DRY: "s",
    Crop.SEED_WET: "S",
    Crop.GROWING_DRY: "g",
    Crop.GROWING_WET: "G",
    Crop.RIPE: "*",
    Crop.DEAD: "x",
}


class GridFarmEnv(gym.Env[Any, np.int64]):
    """
    ## Description
    A farmer walks a field of ``rows x cols`` plots. Seeds cost money to plant and water to grow;
    a ripe crop pays when harvested. Between the farmer's actions the weather acts: rain waters the
    whole field for free, dry crops may wither and ripe crops may rot. The costs come early and the
    payoff late: the short-term sacrifice for a long-term reward that Q-learning has to discover.

    Each plot is in one of seven stages: empty, seeded (dry or wet), growing (dry or wet), ripe, dead.

    ## Action Space
    ``Discrete(8)``: 0 north, 1 south, 2 west, 3 east, 4 plant, 5 water, 6 harvest, 7 wait.
    Work applies to the plot under the farmer. Moving off the field, planting a planted plot,
    watering a wet or empty plot, harvesting an unripe plot change nothing and cost nothing;
    ``info["action_mask"]`` (and :meth:`action_masks`) marks the actions that do something.
    Harvesting a dead plot clears it for free.

    ## Observation Space
    Set by ``obs_mode``:
    - ``"index"``: ``Discrete(7 ** plots * plots)``, the state index (for Q-tables);
    - ``"factored"``: ``MultiDiscrete([7] * plots + [rows, cols])``, every plot's stage and the cell;
    - ``"grid"``: a flat ``Box(0, 1, (8 * rows * cols,))`` of one-hot planes (7 crop planes and the
      farmer's plane), ``obs.reshape(env.unwrapped.grid_shape)`` gives ``(8, rows, cols)``.

    ## Starting State
    An empty field, the farmer on a uniformly random cell.

    ## Rewards
    ``-plant_cost`` to plant, ``-water_cost`` to water a dry crop, ``+harvest_reward`` to harvest a
    ripe one, 0 otherwise.

    ## Episode End
    The farm never terminates; the registered IDs truncate after ``max_episode_steps`` (the season).
    The exact optima in ``qgym.envs.KNOWN_OPTIMA`` are the best expected undiscounted return over
    that season.

    ## Arguments
    ``rows``, ``cols`` (1 to 32), the weather ``p_rain``, crop rates ``p_grow``, ``p_evap``,
    ``p_wither``, ``p_rot`` (probabilities), prices ``plant_cost``, ``water_cost``, ``harvest_reward``,
    ``obs_mode``, ``render_mode`` (``"human"``, ``"rgb_array"``, ``"ansi"``).

    Fields of up to 6 plots (2x3) expose their exact model, :meth:`transition_model`, for
    :mod:`qgym.planning`; fields of up to 2x2 also the toy-text ``P`` and ``initial_state_distrib``.

    ## Version History
    - v0: initial release.
    """

    metadata: dict[str, Any] = {"render_modes": ["human", "rgb_array", "ansi"], "render_fps": 4}

    def __init__(self, render_mode: str | None = None, **config: Any) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {', '.join(self.metadata['render_modes'])}; "
                f"got {render_mode!r}"
            )
        self.config = FarmConfig(**config)
        self.render_mode = render_mode
        n_plots = self.config.n_plots
        self.grid_shape = (N_CROPS + 1, self.config.rows, self.config.cols)
        self._state_shape = (N_CROPS,) * n_plots + (n_plots,)
        self.action_space = spaces.Discrete(N_ACTIONS)
        self.observation_space = self._make_observation_space()
        self._crops = np.zeros(n_plots, dtype=np.int8)
        self._cell = 0
        self.day = 0
        self.episode_return = 0.0
        self.last_reward = 0.0
        self.rained = False
        self._window = HumanWindow(f"qgym GridFarm {self.config.rows}x{self.config.cols}")

    # --- the Gymnasium API ------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        self._crops = np.zeros(self.config.n_plots, dtype=np.int8)
        self._cell = int(self.np_random.integers(self.config.n_plots))
        self.day = 0
        self.episode_return = 0.0
        self.last_reward = 0.0
        self.rained = False
        if self.render_mode == "human":
            self.render()
        return self._observation(), self._info()

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        if not self.action_space.contains(action):
            raise ValueError(
                f"action must be an integer in [0, {N_ACTIONS - 1}] "
                f"({', '.join(f'{i} {name}' for i, name in enumerate(ACTION_NAMES))}); got {action!r}"
            )
        crops, cells, rewards = act(
            self._crops[None], np.array([self._cell]), np.array([int(action)], dtype=np.int64), self.config
        )
        self.rained = bool(self.np_random.random() < self.config.p_rain)
        uniforms = self.np_random.random((1, self.config.n_plots))
        self._crops = nature_step(crops, np.array([self.rained]), uniforms, self.config)[0]
        self._cell = int(cells[0])
        reward = float(rewards[0])
        self.day += 1
        self.episode_return += reward
        self.last_reward = reward
        if self.render_mode == "human":
            self.render()
        return self._observation(), reward, False, False, self._info()

    def render(self) -> Any:
        if self.render_mode == "ansi":
            return self._render_text()
        if self.render_mode == "rgb_array":
            return self._render_frame()
        if self.render_mode == "human":
            self._window.show(self._render_frame(), self.metadata["render_fps"])
        return None

    def close(self) -> None:
        self._window.close()

    def action_masks(self) -> NDArray[np.int8]:
        """1 for actions that change something here, 0 for no-ops (sb3-contrib's MaskablePPO convention)."""
        return action_mask(self._crops, self._cell, self.config)

    def get_keys_to_action(self) -> dict[tuple[int, ...], int]:
        """Keyboard map for human play: arrows move, P plants, W waters, H harvests, space waits."""
        pygame = import_pygame()
        return {
            (pygame.K_UP,): Action.NORTH,
            (pygame.K_DOWN,): Action.SOUTH,
            (pygame.K_LEFT,): Action.WEST,
            (pygame.K_RIGHT,): Action.EAST,
            (pygame.K_p,): Action.PLANT,
            (pygame.K_w,): Action.WATER,
            (pygame.K_h,): Action.HARVEST,
            (pygame.K_SPACE,): Action.WAIT,
        }

    # --- the exact model --------------------------------------------------------------------------

    def transition_model(self) -> FarmModel:
        """The exact factored model of this farm, for :mod:`qgym.planning` (fields up to 6 plots)."""
        if self.config.n_plots > MAX_MODEL_PLOTS:
            raise ValueError(
                f"a {self.config.rows}x{self.config.cols} field has no exact model: the model is offered "
                f"for fields of at most {MAX_MODEL_PLOTS} plots (e.g. 2x3)"
            )
        return _model_for(self.config)

    @property
    def P(self) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:  # noqa: N802 - toy-text name
        """Toy-text transition dict ``P[s][a] = [(prob, next_state, reward, terminated), ...]``."""
        self.transition_model()
        return _toy_text_for(self.config)

    @property
    def initial_state_distrib(self) -> NDArray[np.float64]:
        """Toy-text start distribution over state indices."""
        return self.transition_model().initial_distribution

    @property
    def state_index(self) -> int:
        """Index of the current state: ``ravel_multi_index((*crops, cell), (7,) * plots + (plots,))``."""
        return int(np.ravel_multi_index((*(int(c) for c in self._crops), self._cell), self._state_shape))

    @state_index.setter
    def state_index(self, state: int) -> None:
        n_states = int(np.prod(self._state_shape, dtype=np.float64))
        if not 0 <= state < n_states:
            raise ValueError(f"state_index must be in [0, {n_states - 1}], got {state}")
        *crops, cell = np.unravel_index(int(state), self._state_shape)
        self._crops = np.array(crops, dtype=np.int8)
        self._cell = int(cell)

    @property
    def crops(self) -> NDArray[np.int8]:
        """A copy of every plot's stage, row-major (values of :class:`qgym.envs.farm_rules.Crop`)."""
        return self._crops.copy()

    @property
    def agent_cell(self) -> tuple[int, int]:
        """The farmer's (row, col)."""
        row, col = divmod(self._cell, self.config.cols)
        return row, col

    # --- helpers ----------------------------------------------------------------------------------

    def _make_observation_space(self) -> spaces.Space[Any]:
        n_plots = self.config.n_plots
        if self.config.obs_mode == "index":
            n_states = N_CROPS**n_plots * n_plots
            if n_states > np.iinfo(np.int64).max // 2:
                raise ValueError(
                    f"obs_mode 'index' cannot number the states of a "
                    f"{self.config.rows}x{self.config.cols} field; use obs_mode 'factored' or 'grid'"
                )
            return spaces.Discrete(n_states)
        if self.config.obs_mode == "factored":
            return spaces.MultiDiscrete([N_CROPS] * n_plots + [self.config.rows, self.config.cols])
        return spaces.Box(0.0, 1.0, shape=(int(np.prod(self.grid_shape)),), dtype=np.float32)

    def _observation(self) -> Any:
        if self.config.obs_mode == "index":
            return self.state_index
        row, col = self.agent_cell
        if self.config.obs_mode == "factored":
            return np.array([*self._crops, row, col], dtype=np.int64)
        planes = np.zeros(self.grid_shape, dtype=np.float32)
        planes[
            self._crops,
            np.arange(self.config.n_plots) // self.config.cols,
            np.arange(self.config.n_plots) % self.config.cols,
        ] = 1.0
        planes[N_CROPS, row, col] = 1.0
        return planes.reshape(-1)

    def _info(self) -> dict[str, Any]:
        return {"action_mask": self.action_masks(), "rained": self.rained, "day": self.day}

    def _status(self) -> str:
        weather = "rain" if self.rained else "dry"
        return f"day {self.day}  return {self.episode_return:+.1f}  last {self.last_reward:+.1f}  {weather}"

    def _render_text(self) -> str:
        lines = [self._status()]
        for row in range(self.config.rows):
            cells = []
            for col in range(self.config.cols):
                letter = _CROP_LETTERS[Crop(int(self._crops[row * self.config.cols + col]))]
                cells.append(f"[{letter}]" if (row, col) == self.agent_cell else f" {letter} ")
            lines.append("".join(cells))
        return "\n".join(lines) + "\n"

    def _render_frame(self) -> NDArray[np.uint8]:
        pygame = import_pygame()
        width = max(self.config.cols * _CELL, 240)
        surface = pygame.Surface((width, self.config.rows * _CELL + _STRIP))
        surface.fill((245, 240, 225))
        for plot, stage in enumerate(self._crops):
            row, col = divmod(plot, self.config.cols)
            _draw_plot(pygame, surface, Crop(int(stage)), col * _CELL, row * _CELL)
        row, col = self.agent_cell
        pygame.draw.rect(surface, _AGENT, (col * _CELL, row * _CELL, _CELL, _CELL), width=5)
        pygame.draw.circle(surface, _AGENT, (col * _CELL + _CELL - 14, row * _CELL + 14), 8)
        strip_top = self.config.rows * _CELL
        if self.rained:
            pygame.draw.rect(surface, (160, 195, 240), (0, strip_top, width, _STRIP))
        font = pygame.font.Font(None, 20)
        surface.blit(font.render(self._status(), True, (30, 30, 30)), (6, strip_top + 8))
        return surface_to_array(surface)


def _draw_plot(pygame: Any, surface: Any, stage: Crop, x: int, y: int) -> None:
    wet = stage in (Crop.SEED_WET, Crop.GROWING_WET)
    pygame.draw.rect(surface, _SOIL_WET if wet else _SOIL_DRY, (x + 2, y + 2, _CELL - 4, _CELL - 4))
    cx, cy = x + _CELL // 2, y + _CELL // 2
    if stage in (Crop.SEED_DRY, Crop.SEED_WET):
        for dx in (-12, 0, 12):
            pygame.draw.circle(surface, (250, 235, 180), (cx + dx, cy + 8), 4)
    elif stage in (Crop.GROWING_DRY, Crop.GROWING_WET):
        green = (60, 170, 60) if stage == Crop.GROWING_WET else (150, 185, 70)
        pygame.draw.rect(surface, green, (cx - 3, cy - 10, 6, 28))
        pygame.draw.ellipse(surface, green, (cx - 20, cy - 12, 18, 10))
        pygame.draw.ellipse(surface, green, (cx + 2, cy - 18, 18, 10))
    elif stage == Crop.RIPE:
        pygame.draw.circle(surface, (240, 195, 30), (cx, cy), 20)
        pygame.draw.rect(surface, (60, 140, 50), (cx - 2, cy - 28, 4, 10))
    elif stage == Crop.DEAD:
        pygame.draw.line(surface, (70, 55, 45), (cx - 16, cy - 16), (cx + 16, cy + 16), 5)
        pygame.draw.line(surface, (70, 55, 45), (cx - 16, cy + 16), (cx + 16, cy - 16), 5)


@functools.lru_cache(maxsize=16)
def _model_for(config: FarmConfig) -> FarmModel:
    return FarmModel(config)


@functools.lru_cache(maxsize=4)
def _toy_text_for(config: FarmConfig) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:
    return _model_for(config).transitions()
