"""Seeds as Ray tasks on an existing Ray cluster: ``qgym train ... --seeds N --ray-address ADDRESS``.

What runs where. This process (Ray's *driver*) connects to the cluster, submits one task a seed with
its CPU and GPU request, and writes each seed into the run folder as it comes back. A task trains its
seed on whichever machine Ray gives it, in a scratch folder there
(:func:`qgym.training.seed_worker.run_seed_task`), and returns the seed's figures, curve and files
as bytes through Ray: the machines share no file system. A task whose worker dies (the process is
killed, its machine leaves) is run again by Ray, up to :data:`RETRIES` times; a seed trained twice
this way is the same seed bit for bit. Every machine needs the same qgym (and the user's env
modules) installed. Ray is imported only here, when asked for: ``pip install 'qgym[ray]'``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from qgym.training.seed_pool import SeedError, describe_failure
from qgym.training.seed_tasks import SeedOutcome, SeedTask

__all__ = ["RETRIES", "RaySeedPool", "check_address", "connect"]

RETRIES = 3
"""Times Ray runs a task again after its worker died (Ray's own default for tasks)."""
_ADDRESS = re.compile(r"^(auto|ray://[^\s/:]+:\d{1,5}|[^\s/:]+:\d{1,5})$")


def check_address(address: str) -> str:
    """``address`` if it is ``auto``, ``ray://host:port`` or ``host:port``; a ValueError otherwise."""
    if not isinstance(address, str) or not _ADDRESS.match(address):
        raise ValueError(
            f"--ray-address takes auto (the cluster this machine belongs to), ray://HOST:PORT (Ray Client) "
            f"or HOST:PORT (the head's GCS port, 6379 by default), got {address!r}"
        )
    return address


def connect(address: str) -> Any:
    """The ``ray`` module, connected to the cluster at ``address`` (Ray's own log lines silenced)."""
    check_address(address)
    try:
        import ray
    except ImportError:
        raise ValueError("--ray-address needs Ray: pip install 'qgym[ray]'") from None
    if ray.is_initialized():
        ray.shutdown()
    try:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        first = " ".join(str(error).split())[:300]
        raise ValueError(f"cannot connect to the Ray cluster at --ray-address {address}: {first}") from None
    return ray


class RaySeedPool:
    """One Ray task a seed on the cluster at ``address``, each asking for ``cpus`` CPUs and ``gpus``
    GPUs (default: one where the cluster has GPUs and ``device``, the preset's, may use one)."""

    def __init__(
        self,
        address: str,
        *,
        cpus: float = 1.0,
        gpus: float | None = None,
        device: Any = None,
        retries: int = RETRIES,
    ) -> None:
        if not isinstance(cpus, int | float) or not cpus > 0:
            raise ValueError(f"--ray-cpus must be a positive number of CPUs a seed, got {cpus!r}")
        if gpus is not None and (not isinstance(gpus, int | float) or not gpus >= 0):
            raise ValueError(f"--ray-gpus must be a number of GPUs a seed of 0 or more, got {gpus!r}")
        self.address, self.retries = address, retries
        self.ray = connect(address)
        nodes = [node for node in self.ray.nodes() if node.get("Alive")]
        largest = max((float(node["Resources"].get("CPU", 0)) for node in nodes), default=0.0)
        cluster = self.ray.cluster_resources()
        self.cluster_cpus, self.cluster_gpus = float(cluster.get("CPU", 0)), float(cluster.get("GPU", 0))
        self.n_nodes = len(nodes)
        if cpus > largest:
            self.ray.shutdown()
            raise ValueError(
                f"--ray-cpus {cpus:g}: a seed would wait forever, the largest machine of the cluster at "
                f"{address} has {largest:g} CPUs"
            )
        if gpus is None:
            wants_gpu = str(device or "cpu").startswith(("cuda", "auto"))
            gpus = 1.0 if wants_gpu and self.cluster_gpus >= 1 else 0.0
        self.cpus, self.gpus = float(cpus), float(gpus)

    def describe(self) -> str:
        gpus = f" and {self.cluster_gpus:g} GPUs" if self.cluster_gpus else ""
        return (
            f"as Ray tasks on the cluster at {self.address} ({self.n_nodes} machines, {self.cluster_cpus:g} "
            f"CPUs{gpus}), each seed asking for {_count(self.cpus, 'CPU')} and {_count(self.gpus, 'GPU')}, "
            f"retried up to {self.retries} times if its worker dies"
        )

    def run(self, tasks: Sequence[SeedTask], done: Callable[[SeedOutcome], None]) -> None:
        ray = self.ray
        train = ray.remote(train_seed)
        seeds = {}
        for task in tasks:
            reference = train.options(
                name=f"qgym seed {task.seed}",  # the worker's process title: ray::qgym seed N
                num_cpus=self.cpus,
                num_gpus=self.gpus,
                max_retries=self.retries,
                retry_exceptions=False,  # a seed's own error would only repeat
            ).remote(task)
            seeds[reference] = task.seed
        pending = list(seeds)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1, timeout=1.0)
                for reference in ready:
                    done(self._outcome(reference, seeds[reference]))
        finally:
            for reference in pending:
                ray.cancel(reference, force=True)
            ray.shutdown()

    def _outcome(self, reference: Any, seed: int) -> SeedOutcome:
        exceptions = self.ray.exceptions
        try:
            outcome: SeedOutcome = self.ray.get(reference)
        except exceptions.RayTaskError as error:  # the seed's own error, raised where it trained
            cause = error.cause if isinstance(error.cause, BaseException) else error
            raise SeedError(seed, describe_failure(cause)) from None
        except exceptions.RayError as error:
            reason = " ".join(str(error).split())[:200]
            raise SeedError(
                seed, f"its Ray worker was lost {self.retries + 1} times ({type(error).__name__}: {reason})"
            ) from None
        return outcome


def _count(amount: float, unit: str) -> str:
    if amount == 0:
        return f"no {unit}"
    return f"{amount:g} {unit}{'' if amount == 1 else 's'}"


def train_seed(task: SeedTask) -> SeedOutcome:
    """A Ray task: one seed trained on a machine of the cluster, handed back whole."""
    from qgym.training.seed_worker import run_seed_task

    return run_seed_task(task)
