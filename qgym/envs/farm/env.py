"""The grid farm env: a thin Gymnasium shell around the pure rules of :mod:`qgym.envs.farm.rules`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from qgym.envs.farm import rules
from qgym.envs.farm.accounting import Ledger, farm_report
from qgym.envs.farm.expected import optimal_farm_report
from qgym.envs.farm.heuristic import FarmHeuristic
from qgym.envs.farm.model import FarmModel, model_for, toy_text_for
from qgym.envs.farm.render import CROP_LETTERS, draw_frame, draw_text, legend_icons, status_line
from qgym.envs.farm.rules import ACTION_NAMES, CROP_NAMES, N_ACTIONS, N_CROPS, Action, Crop, FarmConfig
from qgym.envs.farm.scalar import scalar_rules
from qgym.envs.interface import CellMark, EpisodeChart, FieldReport, Overlay, Policy
from qgym.envs.pygame_frames import HumanWindow, import_pygame

__all__ = ["GridFarmEnv"]


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
        self.grid_shape = (N_CROPS + 1, self.config.rows, self.config.cols)
        self.action_space = spaces.Discrete(N_ACTIONS)
        self.observation_space = rules.observation_space(self.config)
        # One farm on Python numbers, stepped by the rule tables read as tuples (farm/scalar.py).
        self._one_farm = scalar_rules(self.config)
        self._plots: list[int] = [int(Crop.EMPTY)] * self.config.n_plots
        self._cell = 0
        self.day = 0
        self.episode_return = 0.0
        self.last_reward = 0.0
        self.rained = False
        self.ledger = Ledger(self.config)
        """The season's accounts as they happen (:mod:`qgym.envs.farm.accounting`)."""
        self._season: int | None = None
        self._window = HumanWindow(f"qgym GridFarm {self.config.rows}x{self.config.cols}")

    # --- the Gymnasium API ------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        self._plots = [int(Crop.EMPTY)] * self.config.n_plots
        self._cell = int(self.np_random.integers(self.config.n_plots))
        self.day = 0
        self.episode_return = 0.0
        self.last_reward = 0.0
        self.rained = False
        self.ledger.clear()
        self._season = _registered_season(self.spec)
        if self.render_mode == "human":
            self.render()
        return self._observation(), self._info()

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        # A plain int in range is the common case, and Discrete.contains costs a fifth of a step.
        if not (type(action) is int and 0 <= action < N_ACTIONS) and not self.action_space.contains(action):
            raise ValueError(
                f"action must be an integer in [0, {N_ACTIONS - 1}] "
                f"({', '.join(f'{i} {name}' for i, name in enumerate(ACTION_NAMES))}); got {action!r}"
            )
        # rules.step for a batch of one draws random(1) (rain), then random((1, plots)): the same
        # doubles in the same order as this one call (tests/envs/test_farm_scalar.py).
        draws = self.np_random.random(self._one_farm.draws).tolist()
        before, cell, action = self._plots, self._cell, int(action)
        self._plots, self._cell, reward, self.rained = self._one_farm.step(before, cell, action, draws)
        self.day += 1
        self.ledger.note(self.day, before, cell, action, self._plots, self.rained)
        self.episode_return += reward
        self.last_reward = reward
        if self.render_mode == "human":
            self.render()
        info = self._info()
        if self.day == self._season:
            info["episode_metrics"] = self.episode_metrics()
        return self._observation(), reward, False, False, info

    def render(self) -> Any:
        if self.render_mode == "ansi":
            return draw_text(self._crops[0], self.cell, self.config, self._status())
        if self.render_mode == "rgb_array":
            return self.draw()
        if self.render_mode == "human":
            self._window.show(self.draw(), self.metadata["render_fps"])
        return None

    def close(self) -> None:
        self._window.close()

    def action_masks(self) -> NDArray[np.int8]:
        """1 for actions that change something here, 0 for no-ops (sb3-contrib's MaskablePPO convention)."""
        return self._one_farm.action_mask(self._plots, self._cell)

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
        return model_for(self.config)

    @property
    def P(self) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:  # noqa: N802 - toy-text name
        """Toy-text transition dict ``P[s][a] = [(prob, next_state, reward, terminated), ...]``."""
        return toy_text_for(self.config)

    @property
    def initial_state_distrib(self) -> NDArray[np.float64]:
        """Toy-text start distribution over state indices."""
        return self.transition_model().initial_distribution

    @property
    def state_index(self) -> int:
        """Index of the current state: ``ravel_multi_index((*crops, cell), (7,) * plots + (plots,))``."""
        return int(rules.state_indices(self._crops, self._cells, self.config)[0])

    @state_index.setter
    def state_index(self, state: int) -> None:
        try:
            crops, cells = rules.decode_states(int(state), self.config)
        except ValueError:
            raise ValueError(f"state_index must be in [0, {self.config.n_states - 1}], got {state}") from None
        self._plots, self._cell = crops[0].tolist(), int(cells[0])
        self.ledger.field_set(self._plots)

    @property
    def crops(self) -> NDArray[np.int8]:
        """A copy of every plot's stage, row-major (values of :class:`qgym.envs.farm.rules.Crop`)."""
        return np.array(self._plots, dtype=np.int8)

    @property
    def cell(self) -> int:
        """The farmer's cell, row-major."""
        return self._cell

    @property
    def agent_cell(self) -> tuple[int, int]:
        """The farmer's (row, col)."""
        row, col = divmod(self.cell, self.config.cols)
        return row, col

    # --- what viewers and evaluation ask (qgym.envs.interface) ------------------------------------

    @property
    def action_names(self) -> tuple[str, ...]:
        return ACTION_NAMES

    def status_lines(self) -> list[str]:
        return [f"weather  {'rain' if self.rained else 'dry'}"]

    def draw(self, overlay: Overlay | None = None) -> NDArray[np.uint8]:
        return draw_frame(self._crops[0], self.cell, self.config, self._status(), self.rained, overlay)

    def state_label(self, state: int) -> str:
        crops, cells = rules.decode_states(state, self.config)
        return "".join(CROP_LETTERS[Crop(int(c))] for c in crops[0]) + f" @{int(cells[0])}"

    def state_legend(self) -> str:
        letters = ", ".join(f"{CROP_LETTERS[crop]} {CROP_NAMES[crop]}" for crop in Crop)
        return f"one letter a plot ({letters}), then @ the farmer's cell"

    @property
    def grid_size(self) -> tuple[int, int]:
        return self.config.rows, self.config.cols

    def grid_observations(self, context: Sequence[int] | None = None) -> list[Any]:
        plots = self.config.n_plots
        field = np.zeros(plots, dtype=np.int64) if context is None else np.asarray(context)
        if field.shape != (plots,) or field.min() < 0 or field.max() >= N_CROPS:
            raise ValueError(f"crops must be {plots} stages from 0 to {N_CROPS - 1}, got {list(field)}")
        crops = np.tile(field.astype(np.int8), (plots, 1))
        batch = rules.observations(crops, np.arange(plots, dtype=np.int64), self.config)
        return [batch[i] if batch.ndim > 1 else int(batch[i]) for i in range(plots)]

    def cell_marks(self, context: Sequence[int] | None = None) -> list[CellMark]:
        """Each plot's crop stage, and the actions that change nothing with the farmer on it."""
        plots = self.config.n_plots
        field = np.zeros(plots, dtype=np.int64) if context is None else np.asarray(context)
        crops = np.tile(field.astype(np.int8), (plots, 1))
        masks = rules.action_masks(crops, np.arange(plots, dtype=np.int64), self.config)
        return [
            CellMark(
                CROP_NAMES[int(field[cell])],
                idle_actions=tuple(int(a) for a in np.flatnonzero(masks[cell] == 0)),
            )
            for cell in range(plots)
        ]

    def observations_on_cells(self) -> list[Any]:
        return self.grid_observations(self._crops[0])

    def states_on_cells(self) -> list[int]:
        plots = self.config.n_plots
        crops = np.tile(self._crops[0], (plots, 1))
        return [int(s) for s in rules.state_indices(crops, np.arange(plots, dtype=np.int64), self.config)]

    def legend(self, size: int) -> list[tuple[str, NDArray[np.uint8]]]:
        return legend_icons(size)

    def heuristic(self) -> Policy:
        return FarmHeuristic(self.config)

    @property
    def action_kinds(self) -> tuple[str, ...]:
        return ("move",) * 4 + ACTION_NAMES[4:]

    # --- the season in its accounts (qgym.envs.interface.HasFieldMetrics) -------------------------

    def episode_metrics(self) -> dict[str, float | None]:
        """This season's accounts so far (:mod:`qgym.envs.farm.accounting`): on the last day of the
        registered season, ``info["episode_metrics"]``."""
        return self.ledger.figures(self._plots)

    def field_report(self, records: Sequence[Mapping[str, float | None]]) -> FieldReport:
        return farm_report(records, f"{len(records)} season{'s' if len(records) != 1 else ''}")

    def optimal_report(self, horizon: int) -> FieldReport | None:
        """The exact optimal policy's expected accounts (fields up to 2x2), else None."""
        return optimal_farm_report(self.config, horizon)

    def episode_chart(self) -> EpisodeChart:
        name = self.spec.id if self.spec is not None else f"GridFarm {self.config.rows}x{self.config.cols}"
        return self.ledger.chart(self.day, f"{name}: one season")

    # --- helpers ----------------------------------------------------------------------------------

    @property
    def _crops(self) -> NDArray[np.int8]:
        """The farm as the batched rules take it: crops of a batch of one, shape (1, plots)."""
        return np.array([self._plots], dtype=np.int8)

    @property
    def _cells(self) -> NDArray[np.int64]:
        """The farmer's cell as the batched rules take it, shape (1,)."""
        return np.array([self._cell], dtype=np.int64)

    def _observation(self) -> Any:
        return self._one_farm.observation(self._plots, self._cell)

    def _info(self) -> dict[str, Any]:
        return {"action_mask": self.action_masks(), "rained": self.rained, "day": self.day}

    def _status(self) -> str:
        return status_line(self.day, self.episode_return, self.last_reward, self.rained)


def _registered_season(spec: Any) -> int | None:
    """The registered time limit of the env's ID (``gym.make`` hides it from the env itself), or None."""
    env_id = getattr(spec, "id", None)
    if env_id is None or env_id not in gym.registry:
        return None
    steps = gym.registry[env_id].max_episode_steps
    return None if steps is None else int(steps)
