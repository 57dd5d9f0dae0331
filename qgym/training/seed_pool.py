"""Where the seeds of a multi-seed run train when they cannot train in lockstep: worker processes on
this machine (:class:`ProcessPool`, the default) or Ray tasks on a cluster
(:class:`qgym.training.ray_cluster.RaySeedPool`), behind one small interface (:class:`SeedPool`).

A pool takes tasks (:mod:`qgym.training.seed_tasks`) and calls ``done`` in this process with each
outcome as it arrives (:func:`qgym.training.seed_worker.run_seed_task` makes it in the worker); the
caller writes it. A Ctrl-C stops every worker at once (a second one has nothing left to wait for) and
raises KeyboardInterrupt; a seed that fails for good raises :class:`SeedError` after the other workers
are stopped.
"""

from __future__ import annotations

import signal
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from qgym.training.seed_tasks import SeedOutcome, SeedTask

__all__ = ["ProcessPool", "SeedError", "SeedPool", "describe_failure"]

_STOP_SECONDS = 5.0
"""How long a worker is given to leave after its last task before it is killed."""


class SeedError(ValueError):
    """A seed could not be trained (its error, or its worker died past its retries)."""

    def __init__(self, seed: int, reason: str) -> None:
        super().__init__(f"seed {seed} failed: {reason}")
        self.seed = seed


class SeedPool(Protocol):
    """Trains seeds somewhere and hands their outcomes back to this process."""

    def describe(self) -> str:
        """Where and how the seeds train, for the run's first line."""
        ...

    def run(self, tasks: Sequence[SeedTask], done: Callable[[SeedOutcome], None]) -> None:
        """Train every task, calling ``done`` with each outcome as it arrives (in this process)."""
        ...


def describe_failure(error: BaseException) -> str:
    """A worker's error in a line: the message of a refusal, the last frames of anything else."""
    if isinstance(error, ValueError):
        return str(error)
    lines = traceback.format_exception(error)
    return "".join(lines[-6:]).strip()


class ProcessPool:
    """``jobs`` worker processes on this machine, each training one seed at a time.

    The workers are fresh interpreters (``spawn``: no forked torch threads), ignore Ctrl-C (the pool
    decides), and end when this process ends, however it ends (:func:`seed_worker.die_with_parent`).
    """

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs

    def describe(self) -> str:
        return f"one per process, {self.jobs} at a time"

    def run(self, tasks: Sequence[SeedTask], done: Callable[[SeedOutcome], None]) -> None:
        import multiprocessing
        from multiprocessing.connection import wait

        if not tasks:
            return
        context = multiprocessing.get_context("spawn")
        waiting = deque(tasks)
        workers = [_Worker(context) for _ in range(min(self.jobs, len(waiting)))]
        try:
            for worker in workers:
                worker.give(waiting.popleft())
            while busy := [worker for worker in workers if worker.task is not None]:
                ready = set(wait([handle for worker in busy for handle in worker.handles()]))
                for worker in busy:
                    if not ready.intersection(worker.handles()):
                        continue
                    outcome = worker.receive()
                    if waiting:
                        worker.give(waiting.popleft())
                    done(outcome)
        finally:
            for worker in workers:
                worker.stop()


class _Worker:
    """One worker process and the pipe it takes tasks from and returns outcomes on."""

    def __init__(self, context: Any) -> None:
        ours, theirs = context.Pipe()
        self.process = context.Process(target=_work, args=(theirs,), name="qgym-seed-worker", daemon=True)
        self.process.start()
        theirs.close()
        self.connection: Any = ours
        self.task: SeedTask | None = None

    def handles(self) -> list[Any]:
        return [self.connection, self.process.sentinel]

    def give(self, task: SeedTask) -> None:
        self.task = task
        self.connection.send(task)

    def receive(self) -> SeedOutcome:
        """The outcome of the task at hand; :class:`SeedError` if it failed or the worker died."""
        task = self.task
        assert task is not None
        try:
            kind, payload = self.connection.recv()
        except (EOFError, OSError):
            self.process.join(1.0)
            reason = _exit_reason(self.process.exitcode)
            raise SeedError(task.seed, f"its worker process died ({reason})") from None
        self.task = None
        if kind != "done":
            raise SeedError(task.seed, str(payload))
        outcome: SeedOutcome = payload
        return outcome

    def stop(self) -> None:
        """Ask an idle worker to leave; kill a busy one (its seed is dropped) or one that lingers."""
        try:
            if self.task is None and self.process.is_alive():
                self.connection.send(None)
                self.process.join(_STOP_SECONDS)
        except (OSError, ValueError):
            pass
        if self.process.is_alive():
            self.process.kill()
            self.process.join(_STOP_SECONDS)
        self.connection.close()


def _work(connection: Any) -> None:
    """A worker's life: train each task sent, send back its outcome or its error, until told to stop."""
    from qgym.training.seed_worker import die_with_parent, run_seed_task

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole terminal; the pool decides
    die_with_parent()
    while True:
        try:
            task = connection.recv()
        except EOFError:
            return
        if task is None:
            return
        try:
            message: tuple[str, Any] = ("done", run_seed_task(task))
        except Exception as error:
            message = ("failed", describe_failure(error))
        connection.send(message)


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"
