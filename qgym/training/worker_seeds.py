"""Seeds trained one a worker (DQN, QR-DQN, tables on envs without a model): the pool that trains them
(:mod:`qgym.training.seed_pool`: local processes, or Ray tasks), and each seed written into the run
folder whole as it arrives (:mod:`qgym.training.seed_store`), so a stopped run resumes."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import gymnasium as gym

from qgym.training.seed_pool import ProcessPool, SeedError, SeedPool
from qgym.training.seed_results import CurvePoint, SeedResult
from qgym.training.seed_store import store_seed, training_into
from qgym.training.seed_tasks import SeedOutcome, SeedTask
from qgym.version import __version__

if TYPE_CHECKING:
    from qgym.training.seeds import SeedsRun

__all__ = ["make_pool", "progress_bar", "seed_line", "seed_words", "train_in_workers"]


def make_pool(
    jobs: int | None,
    n_seeds: int,
    ray_address: str | None,
    ray_cpus: float,
    ray_gpus: float | None,
    block: dict[str, Any],
) -> SeedPool:
    """Local worker processes (``jobs``, default the cores), or Ray tasks when ``ray_address`` names a
    cluster (connected now, so a wrong address is said before any folder is made)."""
    if ray_address is None:
        return ProcessPool(max(1, min(jobs or os.cpu_count() or 1, n_seeds)))
    if jobs is not None:
        raise ValueError(
            "--jobs is for processes on this machine; with --ray-address the cluster's CPUs decide"
        )
    from qgym.training.ray_cluster import RaySeedPool

    return RaySeedPool(ray_address, cpus=ray_cpus, gpus=ray_gpus, device=block.get("device"))


def train_in_workers(
    run: SeedsRun,
    block: dict[str, Any],
    seeds: list[int],
    pool: SeedPool,
    finished: dict[int, tuple[SeedResult, list[CurvePoint]]],
    progress: bool,
    say: Callable[[str], None],
) -> None:
    """Train the seeds not ``finished`` in ``pool``'s workers, writing each into the folder as it comes."""
    for result, points in finished.values():
        run.results.append(result)
        run.curves.extend(points)
    spec = gym.spec(run.config["env_id"])  # a worker starts without the user's registrations
    algo, kwargs = run.config["algo"], run.config.get("env_kwargs")
    tasks = [
        SeedTask(algo, spec, block, run.eval_freq, run.optimum, seed, kwargs)
        for seed in seeds
        if seed not in finished
    ]
    bar = progress_bar(len(seeds), progress, unit="seed")
    if bar is not None:
        bar.update(len(finished))

    def done(outcome: SeedOutcome) -> None:
        if outcome.version != __version__:
            raise ValueError(
                f"seed {outcome.result.seed} was trained by qgym {outcome.version}, this is {__version__}: "
                "install the same qgym on every machine of the cluster"
            )
        store_seed(run.folder, outcome)
        run.results.append(outcome.result)
        run.curves.extend(outcome.curve)
        if bar is not None:
            bar.update(1)
        say(seed_line(outcome.result))

    resume = f"the same command with --resume {run.folder} trains the others"
    try:
        with training_into(run.folder):
            pool.run(tasks, done)
    except KeyboardInterrupt:
        run.interrupted = True
        say("stopping: the workers are stopped; the seeds already trained are kept")
        if len(run.results) < len(seeds):
            run.notes.append(f"({len(seeds) - len(run.results)} seeds not trained: {resume})")
    except SeedError as error:
        raise ValueError(f"{error}; the {len(run.results)} seeds finished are kept: {resume}") from None
    finally:
        if bar is not None:
            bar.close()


def progress_bar(total: int, shown: bool, unit: str = "step") -> Any:
    """A tqdm bar (or None when not shown): ``bar.update(n)``, ``bar.n``, ``bar.close()``."""
    if not shown:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, unit_scale=unit == "step", dynamic_ncols=True)


def seed_line(result: SeedResult) -> str:
    if result.percent is not None:
        share = f"{result.percent:.1f}% of the exact optimum"
        return f"seed {result.seed}: greedy policy {result.exact_return:.2f} = {share}"
    if result.sampled_return is not None:
        line = f"seed {result.seed}: greedy policy, sampled mean return {result.sampled_return:.2f}"
        if result.heuristic_difference is not None:
            line += f" ({result.heuristic_difference:+.2f} against the heuristic on the same episodes)"
        return line
    return f"seed {result.seed}: online return {result.online_return:.2f}"


def seed_words(seeds: Sequence[int]) -> str:
    """``seeds 0, 1``, ``seed 3`` or ``no seed``."""
    if not seeds:
        return "no seed"
    return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(str(s) for s in seeds)
