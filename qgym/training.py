"""Train and evaluate agents from presets: the plain API under ``qgym train`` and ``qgym eval``.

>>> from qgym import training  # doctest: +SKIP
>>> run = training.train("qlearning", "qgym/GridFarm-1x1-v0", seed=0)  # doctest: +SKIP
>>> print(run.evaluation.summary())  # doctest: +SKIP

Tabular agents, DQN and QR-DQN share one preset format (RL Zoo's YAML) and one evaluation: the mean
sampled return and, where the env has an exact model, the exact expected return of the greedy policy
over the registered horizon as a share of the exact optimum (:mod:`qgym.planning`).
"""

from __future__ import annotations

import datetime
import difflib
import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from qgym.presets import (
    ALGORITHMS,
    DEEP_ALGORITHMS,
    check_algorithm,
    learning_rate_schedule,
    load_preset,
    normalize_preset,
)

__all__ = [
    "ALGORITHMS",
    "TOY_TEXT_IDS",
    "Evaluation",
    "Run",
    "check_algorithm",
    "check_env_id",
    "encode_observations",
    "evaluate",
    "exact_optimum",
    "keeps_states",
    "load_preset",
    "make_env",
    "make_model",
    "run_env_wrapper",
    "train",
    "wrap_env",
]

TOY_TEXT_IDS = ("FrozenLake-v1", "FrozenLake8x8-v1", "Taxi-v4", "CliffWalking-v1")
# Largest Q-table (rows) a tabular preset may ask for: 50M rows x 8 actions is 3.2 GB of float64.
MAX_TABLE_ROWS = 50_000_000
# Envs without a registered time limit (CliffWalking) are judged over this many steps.
DEFAULT_HORIZON = 1000
_TABULAR = {
    "qlearning": "QLearning",
    "sarsa": "SARSA",
    "expected_sarsa": "ExpectedSARSA",
    "double_qlearning": "DoubleQLearning",
}
# Preset keys that configure the run rather than the algorithm's constructor.
_RUN_KEYS = frozenset({"n_timesteps", "n_envs", "env_wrapper", "policy", "normalize", "frame_stack"})
_WRAPPER_PREFIXES = ("qgym.", "gymnasium.")


@dataclass(frozen=True)
class Evaluation:
    """How well a model plays ``env_id``: sampled mean and, where exact, share of the optimum."""

    env_id: str
    n_episodes: int
    mean_return: float
    std_return: float
    exact_return: float | None = None
    optimum: float | None = None
    heuristic_return: float | None = None
    difference_stderr: float | None = None

    @property
    def percent_of_optimum(self) -> float | None:
        """The greedy policy's exact return (else the sampled mean) as % of the exact optimum."""
        if self.optimum is None or self.optimum == 0:
            return None
        value = self.exact_return if self.exact_return is not None else self.mean_return
        return 100.0 * value / self.optimum

    def summary(self) -> str:
        """Lines a person reads, e.g. ``greedy policy: 112.4 = 99.0% of the exact optimum 113.52``."""
        lines = [
            f"sampled mean return over {self.n_episodes} episodes: {self.mean_return:.2f} "
            f"+- {self.std_return / max(1, self.n_episodes) ** 0.5:.2f}"
        ]
        percent = self.percent_of_optimum
        if self.exact_return is not None and percent is not None:
            lines.append(
                f"greedy policy: {self.exact_return:.2f} = {percent:.1f}% "
                f"of the exact optimum {self.optimum:.2f}"
            )
        elif percent is not None:
            lines.append(f"sampled mean = {percent:.1f}% of the exact optimum {self.optimum:.2f}")
        else:
            lines.append("no exact optimum is known for this env")
        if self.heuristic_return is not None:
            spread = "" if self.difference_stderr is None else f" +- {self.difference_stderr:.2f}"
            lines.append(
                f"heuristic of qgym.baselines on the same episodes: {self.heuristic_return:.2f}; "
                f"agent minus heuristic: {self.mean_return - self.heuristic_return:+.2f}{spread}"
            )
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """Plain values for YAML."""
        return {
            "env_id": self.env_id,
            "n_episodes": self.n_episodes,
            "mean_return": self.mean_return,
            "std_return": self.std_return,
            "exact_return": self.exact_return,
            "optimum": self.optimum,
            "percent_of_optimum": self.percent_of_optimum,
            "heuristic_return": self.heuristic_return,
            "difference_stderr": self.difference_stderr,
        }


@dataclass
class Run:
    """What :func:`train` produced: the model, its folder and files, and its evaluation."""

    model: Any
    folder: Path
    model_path: Path
    evaluation: Evaluation
    interrupted: bool = False
    config: dict[str, Any] = field(default_factory=dict)


def check_env_id(env_id: str) -> str:
    """``env_id`` when registered, else a ValueError naming the nearest registered IDs."""
    import qgym  # noqa: F401  (registers the qgym IDs)

    if env_id in gym.registry:
        return env_id
    matches = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.5)
    hint = f" (did you mean {' or '.join(repr(m) for m in matches)}?)" if matches else ""
    raise ValueError(f"unknown env ID {env_id!r}{hint}; 'qgym list' shows the qgym IDs")


def make_env(
    env_id: str,
    preset: dict[str, Any],
    seed: int | None = 0,
    n_envs: int | None = None,
    *,
    own_rewards: bool = False,
) -> Any:
    """The SB3 VecEnv a preset asks for: qgym's native vector env when it can, else a DummyVecEnv.

    ``own_rewards=True`` leaves out the preset's reward wrappers (``qgym.wrappers.ScaleReward``), so
    returns are in the env's own units, and keeps the VecEnv type the preset trains on.
    """
    from stable_baselines3.common.env_util import make_vec_env

    check_env_id(env_id)
    n = int(preset.get("n_envs", 1) if n_envs is None else n_envs)
    spec = preset.get("env_wrapper")
    wrapper = _wrapper(spec, own_rewards=own_rewards)
    horizon = gym.spec(env_id).max_episode_steps
    if spec is None and horizon is not None and env_id.startswith("qgym/"):
        from qgym.vec_adapter import make_sb3_vec_env

        return make_sb3_vec_env(env_id, n, seed=seed)

    return make_vec_env(lambda **kwargs: _single_env(env_id, wrapper, **kwargs), n_envs=n, seed=seed)


def _single_env(
    env_id: str, wrapper: Callable[[gym.Env[Any, Any]], gym.Env[Any, Any]] | None, **kwargs: Any
) -> gym.Env[Any, Any]:
    """``gym.make(env_id)``, time-limited to ``DEFAULT_HORIZON`` when unregistered, inside ``wrapper``."""
    env = gym.make(env_id, **kwargs)
    if gym.spec(env_id).max_episode_steps is None:
        env = gym.wrappers.TimeLimit(env, DEFAULT_HORIZON)
    return env if wrapper is None else wrapper(env)


def make_model(algo: str, env_id: str, preset: dict[str, Any], seed: int | None = 0, **kwargs: Any) -> Any:
    """A fresh model of ``algo`` on ``env_id`` with the preset's hyperparameters (``kwargs`` override)."""
    cls = _algorithm_class(algo)
    preset = normalize_preset(preset)
    env = make_env(env_id, preset, seed)
    hyperparameters = {key: value for key, value in preset.items() if key not in _RUN_KEYS}
    hyperparameters.update(kwargs)
    if "learning_rate" in hyperparameters:
        hyperparameters["learning_rate"] = learning_rate_schedule(hyperparameters["learning_rate"])
    deep = algo in DEEP_ALGORITHMS
    if deep:
        import torch

        torch.set_num_threads(1)
        hyperparameters.setdefault("device", "cpu")
    else:
        _check_table_fits(algo, env_id, env.observation_space)
    policy = preset.get("policy", "MlpPolicy" if deep else "TabularPolicy")
    try:
        return cls(policy, env, seed=seed, **hyperparameters)
    except TypeError as error:
        if "unexpected keyword" not in str(error):
            raise
        raise ValueError(
            f"the preset for {algo} on {env_id} has a key {cls.__name__} does not take: {error}"
        ) from error


def train(
    algo: str,
    env_id: str,
    *,
    preset: dict[str, Any] | None = None,
    preset_path: str | Path | None = None,
    n_timesteps: int | None = None,
    seed: int = 0,
    log_folder: str | Path = "logs",
    eval_freq: int = 0,
    eval_episodes: int = 100,
    progress: bool = False,
    verbose: int = 0,
    callback: Any = None,
) -> Run:
    """Train ``algo`` on ``env_id`` and write a run folder; Ctrl-C stops early and keeps the model.

    The folder ``log_folder/algo/<env name>_<N>`` gets ``model.zip``, ``config.yml`` (the resolved
    hyperparameters, plain YAML), ``progress.csv`` (SB3 logger), ``evaluations.npz`` (when
    ``eval_freq`` > 0, SB3's EvalCallback) and ``evaluation.yml`` (the final :func:`evaluate`).
    """
    import yaml
    from stable_baselines3.common.callbacks import CallbackList, EvalCallback
    from stable_baselines3.common.logger import configure

    check_algorithm(algo)
    check_env_id(env_id)
    if preset is None:
        preset = load_preset(algo, env_id, preset_path)
    preset = normalize_preset(preset)
    if n_timesteps is not None:
        if n_timesteps < 1:
            raise ValueError(f"n_timesteps must be a positive number of steps, got {n_timesteps}")
        preset["n_timesteps"] = int(n_timesteps)
    steps = int(preset.get("n_timesteps", 0))
    if steps < 1:
        raise ValueError(f"the preset for {env_id} needs n_timesteps (a positive number), got {steps}")
    folder = _new_run_folder(Path(log_folder) / algo, env_id)
    config = {
        "algo": algo,
        "env_id": env_id,
        "seed": seed,
        "hyperparameters": preset,
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
    }
    (folder / "config.yml").write_text(yaml.safe_dump(_plain(config), sort_keys=False), encoding="utf-8")

    model = make_model(algo, env_id, preset, seed)
    model.set_logger(configure(str(folder), ["csv"] + (["stdout"] if verbose else [])))
    callbacks = [] if callback is None else [callback]
    if eval_freq > 0:
        eval_env = make_env(env_id, preset, seed=seed + 10_000, n_envs=1, own_rewards=True)
        callbacks.append(
            EvalCallback(
                eval_env,
                n_eval_episodes=10,
                eval_freq=max(1, eval_freq // max(1, model.n_envs)),
                log_path=str(folder),
                best_model_save_path=None,
                deterministic=True,
                verbose=verbose,
            )
        )
    interrupted = False
    try:
        model.learn(steps, callback=CallbackList(callbacks) if callbacks else None, progress_bar=progress)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        model.logger.close()
        for item in callbacks:
            if isinstance(item, EvalCallback):
                item.eval_env.close()
    model_path = folder / "model.zip"
    model.save(model_path)
    evaluation = evaluate(
        model, env_id, eval_episodes, seed=seed + 20_000, env_wrapper=preset.get("env_wrapper")
    )
    result = {**evaluation.as_dict(), "timesteps": int(model.num_timesteps), "interrupted": interrupted}
    (folder / "evaluation.yml").write_text(yaml.safe_dump(_plain(result), sort_keys=False), encoding="utf-8")
    return Run(model, folder, model_path, evaluation, interrupted, config)


def evaluate(
    model: Any,
    env_id: str,
    n_episodes: int = 100,
    seed: int = 0,
    env_wrapper: Any = None,
) -> Evaluation:
    """Mean return of ``model``'s greedy policy over ``n_episodes`` (episode ``i`` seeded ``seed + i``)
    and, where the env has an exact model whose states are the observations, the exact expected
    return of that policy; where no optimum is known, the heuristic of :mod:`qgym.baselines` plays
    the same seeded episodes, so the two means differ by policy, not by luck of the draw.

    Returns are the env's own: the reward wrappers of ``env_wrapper`` (``qgym.wrappers.ScaleReward``)
    are left out, since the policy sees the same observations with or without them."""
    from qgym import baselines

    check_env_id(env_id)
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be a positive number, got {n_episodes}")
    env = _single_env(env_id, _wrapper(env_wrapper, own_rewards=True))
    try:
        returns = baselines.episode_returns(
            env, lambda obs: int(model.predict(obs, deterministic=True)[0]), n_episodes, seed
        )
    finally:
        env.close()
    exact, optimum = None, None
    if _has_exact_model(env_id):
        optimum = exact_optimum(env_id)  # the env's, whatever the wrappers: the sampled mean is its share
        if keeps_states(env_wrapper):
            exact = _exact_return(model, env_id, env_wrapper)
    heuristic, stderr = _heuristic_on(env_id, returns, seed) if optimum is None else (None, None)
    return Evaluation(
        env_id, n_episodes, float(returns.mean()), float(returns.std()), exact, optimum, heuristic, stderr
    )


def _heuristic_on(env_id: str, returns: np.ndarray, seed: int) -> tuple[float | None, float | None]:
    """The mean return of the heuristic of ``env_id``'s family over the episodes that gave ``returns``
    (the same seeds), and the standard error of the paired difference; Nones without a heuristic."""
    from qgym import baselines

    env = _single_env(env_id, None)
    try:
        try:
            heuristic = baselines.heuristic_for(env)
        except ValueError:
            return None, None
        theirs = baselines.episode_returns(env, heuristic, len(returns), seed)
    finally:
        env.close()
    difference = returns - theirs
    stderr = float(difference.std(ddof=1) / np.sqrt(len(difference))) if len(difference) > 1 else None
    return float(theirs.mean()), stderr


@functools.cache
def exact_optimum(env_id: str) -> float | None:
    """The exact optimal expected return over the registered horizon, or None when it is not known."""
    from qgym import planning
    from qgym.envs import known_optimum

    known = known_optimum(env_id)
    if known is not None or env_id.startswith("qgym/"):
        return known
    env = gym.make(check_env_id(env_id))
    model = planning.model_of(env)
    solution = planning.backward_induction(model, _horizon(env_id))
    return planning.expected_return(model, solution.values)


def wrap_env(env: gym.Env[Any, Any], env_wrapper: Any, own_rewards: bool = False) -> gym.Env[Any, Any]:
    """``env`` inside the preset's ``env_wrapper`` (without its reward wrappers if ``own_rewards``)."""
    wrapper = _wrapper(env_wrapper, own_rewards=own_rewards)
    return env if wrapper is None else wrapper(env)


def run_env_wrapper(model_path: str | Path) -> Any:
    """The ``env_wrapper`` a model was trained behind, from the ``config.yml`` that :func:`train`
    wrote beside it (None when there is no such file or no wrapper)."""
    import yaml

    config = Path(model_path).parent / "config.yml"
    if not config.is_file():
        return None
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    hyperparameters = document.get("hyperparameters") if isinstance(document, dict) else None
    return hyperparameters.get("env_wrapper") if isinstance(hyperparameters, dict) else None


# --- helpers -------------------------------------------------------------------------------------


def _algorithm_class(algo: str) -> Any:
    check_algorithm(algo)
    if algo == "dqn":
        from stable_baselines3 import DQN

        return DQN
    if algo == "qrdqn":
        from sb3_contrib import QRDQN

        return QRDQN
    from qgym import agents

    return getattr(agents, _TABULAR[algo])


def _check_table_fits(algo: str, env_id: str, space: gym.Space[Any]) -> None:
    """Refuse, in a sentence, a Q-table too large for memory (before it is built)."""
    if isinstance(space, gym.spaces.MultiDiscrete):
        rows = 1
        for size in space.nvec.reshape(-1).tolist():
            rows *= int(size)
        if rows > MAX_TABLE_ROWS:
            raise ValueError(
                f"{algo} on {env_id} would need a Q-table of {rows:,} rows (at most {MAX_TABLE_ROWS:,} fit); "
                "train --algo dqn on this env instead"
            )
    elif isinstance(space, gym.spaces.Box):
        raise ValueError(
            f"{algo} on {env_id} needs a tabular observation, got {space}: a table cannot hold this env; "
            "train --algo dqn, or add env_wrapper: qgym.wrappers.DiscretizeObservation to its preset"
        )


def _horizon(env_id: str) -> int:
    horizon = gym.spec(env_id).max_episode_steps
    return DEFAULT_HORIZON if horizon is None else int(horizon)


def _has_exact_model(env_id: str) -> bool:
    return env_id in TOY_TEXT_IDS or exact_optimum_known(env_id)


def exact_optimum_known(env_id: str) -> bool:
    """True for the qgym rungs that :mod:`qgym.planning` solves (their optimum is registered)."""
    from qgym.envs import known_optimum

    return known_optimum(env_id) is not None


def _exact_return(model: Any, env_id: str, env_wrapper: Any = None) -> float | None:
    """Exact expected return of the model's greedy policy, when env states are its observations
    (as the observation wrappers of ``env_wrapper`` encode them)."""
    from qgym import planning

    env = gym.make(env_id)
    transitions = planning.model_of(env)
    observations = _all_observations(env.observation_space, transitions.n_states)
    if observations is not None and env_wrapper is not None:
        observations = encode_observations(wrap_env(env, env_wrapper, own_rewards=True), observations)
    env.close()
    if observations is None:
        return None
    table = getattr(model, "q_table", None)
    if table is not None and env_wrapper is None and np.shape(table)[0] == transitions.n_states:
        policy = planning.greedy_policy(np.asarray(table))
    else:
        chunks = [
            model.predict(observations[i : i + 65_536], deterministic=True)[0]
            for i in range(0, len(observations), 65_536)
        ]
        policy = np.concatenate(chunks).astype(np.int64).reshape(-1)
    return planning.policy_return(transitions, policy, horizon=_horizon(env_id))


def encode_observations(wrapped: gym.Env[Any, Any], observations: np.ndarray) -> np.ndarray:
    """``observations`` of the bare env as the ObservationWrappers of ``wrapped`` pass them on."""
    layers = []
    while isinstance(wrapped, gym.Wrapper):
        layers.append(wrapped)
        wrapped = wrapped.env
    for layer in reversed(layers):
        if isinstance(layer, gym.ObservationWrapper):
            observations = np.stack([np.asarray(layer.observation(obs)) for obs in observations])
    return observations


def _all_observations(space: gym.Space[Any], n_states: int) -> np.ndarray | None:
    """The observation of every model state, in state order (None when states are not observations)."""
    if isinstance(space, gym.spaces.Discrete) and int(space.n) == n_states:
        return np.arange(n_states, dtype=np.int64) + int(space.start)
    if (
        isinstance(space, gym.spaces.MultiDiscrete)
        and space.nvec.ndim == 1
        and int(np.prod(space.nvec)) == n_states
    ):
        return np.stack(np.unravel_index(np.arange(n_states), tuple(space.nvec)), axis=1).astype(np.int64)
    return None


def _wrapper(spec: Any, own_rewards: bool = False) -> Any:
    """RL Zoo's ``env_wrapper`` as one function env -> wrapped env (None when there is none);
    ``own_rewards`` leaves its reward wrappers out."""
    if spec is None:
        return None
    wrappers = [
        functools.partial(cls, **kwargs)
        for cls, kwargs in _wrapper_classes(spec)
        if not (own_rewards and issubclass(cls, gym.RewardWrapper))
    ]

    def wrap(env: gym.Env[Any, Any]) -> gym.Env[Any, Any]:
        for wrapper in wrappers:
            env = wrapper(env)
        return env

    return wrap


def _wrapper_classes(spec: Any) -> list[tuple[type, dict[str, Any]]]:
    """``env_wrapper`` resolved: a dotted name or ``[{dotted.Name: {kwargs}}, ...]`` (qgym/gymnasium)."""
    items = spec if isinstance(spec, list) else [spec]
    resolved = []
    for item in items:
        name: Any
        kwargs: Any
        if isinstance(item, str):
            name, kwargs = item, {}
        elif isinstance(item, dict) and len(item) == 1:
            name, kwargs = next(iter(item.items()))
        else:
            name, kwargs = None, None
        if not isinstance(name, str) or not isinstance(kwargs, dict | type(None)):
            raise ValueError(
                f"env_wrapper must be a dotted class name or [{{name: {{kwargs}}}}], got {item!r}"
            )
        if not name.startswith(_WRAPPER_PREFIXES):
            raise ValueError(f"env_wrapper {name!r} must be a class in {' or '.join(_WRAPPER_PREFIXES)}")
        module, _, attribute = name.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as error:
            raise ValueError(f"env_wrapper {name!r} does not exist: {error}") from error
        resolved.append((cls, dict(kwargs or {})))
    return resolved


def keeps_states(spec: Any) -> bool:
    """True when ``env_wrapper`` only re-encodes observations (wrappers marked ``stateless``, a
    function of the observation alone) or rewards: each observation still stands for one state of
    the env's exact model, so the greedy policy can be valued exactly."""
    return spec is None or all(
        issubclass(cls, gym.RewardWrapper)
        or (issubclass(cls, gym.ObservationWrapper) and getattr(cls, "stateless", False) is True)
        for cls, _ in _wrapper_classes(spec)
    )


def _new_run_folder(parent: Path, env_id: str) -> Path:
    """``parent/<env name>_<N>`` with the next free N, as RL Zoo numbers its runs."""
    name = env_id.split("/")[-1]
    parent.mkdir(parents=True, exist_ok=True)
    for number in range(1, 1_000_000):
        folder = parent / f"{name}_{number}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise RuntimeError(f"no free run folder under {parent}")


def _plain(value: Any) -> Any:
    """Values YAML's safe dumper accepts (numpy scalars and tuples become Python ones)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
