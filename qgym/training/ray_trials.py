"""Tuning trials as Ray tasks: ``qgym tune ... --ray-address ADDRESS``.

What runs where. This process keeps the study: it asks Optuna for each trial and samples its
hyperparameters (so the storage may be a file only it can reach), sends them to a Ray task, and tells
Optuna the score that comes back. A task trains and scores its trial wherever Ray runs it
(:func:`qgym.training.trials.run_trial`) and sends each intermediate value back through a Ray queue;
this process reports it to Optuna and, when the pruner says so, cancels the task (the trial is
pruned). As many trials run at once as the cluster has CPUs; a task whose worker dies is run again
(the same trial, the same hyperparameters), and a trial that fails for good is marked failed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qgym.training.ray_cluster import RETRIES, connect
from qgym.training.seed_pool import describe_failure
from qgym.training.trials import TrialScore, TrialSettings, run_trial

__all__ = ["run_trials_on_ray", "train_trial"]


def run_trials_on_ray(
    address: str,
    study: Any,
    settings: TrialSettings,
    n_trials: int,
    sample: Callable[[Any], dict[str, Any]],
    tell: Callable[[Any, Any], None],
    say: Callable[[str], None] = print,
) -> bool:
    """Run ``n_trials`` trials of ``study`` on the cluster; True if Ctrl-C stopped them. ``tell`` is
    called as Optuna calls its callbacks, with each trial as it ends; ``say`` gets where they run."""
    import optuna
    from ray.util.queue import Queue

    ray = connect(address)
    states = optuna.trial.TrialState
    capacity = max(1, int(ray.cluster_resources().get("CPU", 1)))
    say(
        f"trials run as Ray tasks on the cluster at {address}, {capacity} at a time (1 CPU each); "
        "this process keeps the study"
    )
    reports = Queue()
    train = ray.remote(train_trial)
    running: dict[Any, Any] = {}  # task -> its Optuna trial
    reported: dict[int, set[int]] = {}  # trial number -> steps reported (a retried task reports again)
    pruned: set[int] = set()
    started = 0
    try:
        while started < n_trials or running:
            while started < n_trials and len(running) < capacity:
                trial = study.ask()
                task = train.options(
                    name=f"qgym trial {trial.number}", num_cpus=1, max_retries=RETRIES, retry_exceptions=False
                ).remote(settings, sample(trial), trial.number, reports)
                running[task], reported[trial.number] = trial, set()
                started += 1
            done, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
            tasks = {trial.number: task for task, trial in running.items()}
            for number, step, value in reports.get_nowait_batch(reports.qsize()):
                trial = running.get(tasks.get(number))
                if trial is None or number in pruned or step in reported[number]:
                    continue
                reported[number].add(step)
                trial.report(value, step)
                if trial.should_prune():
                    pruned.add(number)
                    ray.cancel(tasks[number])
            for task in done:
                trial = running.pop(task)
                state, score = _finish(ray, task, trial.number in pruned)
                if trial.number in pruned:  # pruned, even if it ended before the cancel reached it
                    state, score = "PRUNED", None
                if score is not None:
                    for key, value in score.attributes.items():
                        trial.set_user_attr(key, value)
                    study.tell(trial, score.value)
                else:
                    study.tell(trial, state=getattr(states, state))
                tell(study, study.trials[trial.number])
    except KeyboardInterrupt:
        for task, trial in running.items():
            ray.cancel(task, force=True)
            study.tell(trial, state=states.FAIL)
        return True
    finally:
        ray.shutdown()
    return False


def _finish(ray: Any, task: Any, pruned: bool) -> tuple[str, TrialScore | None]:
    """A finished task's score, or the state its trial ends in (``PRUNED``, ``FAIL``) without one."""
    try:
        return "COMPLETE", ray.get(task)
    except ray.exceptions.TaskCancelledError:
        return ("PRUNED" if pruned else "FAIL"), None
    except ray.exceptions.RayTaskError as error:
        if pruned:  # cancelled while it was finishing
            return "PRUNED", None
        cause = error.cause if isinstance(error.cause, BaseException) else error
        print(f"a trial failed: {describe_failure(cause)}")
        return "FAIL", None
    except ray.exceptions.RayError as error:
        print(f"a trial's Ray worker was lost {RETRIES + 1} times: {type(error).__name__}")
        return "FAIL", None


def train_trial(
    settings: TrialSettings, hyperparameters: dict[str, Any], number: int, reports: Any
) -> TrialScore:
    """A Ray task: one trial trained and scored, its intermediate values sent to ``reports`` (a queue)."""

    def report(step: int, value: float) -> bool:
        reports.put((number, step, value))
        return False  # the driver prunes by cancelling this task

    return run_trial(settings, hyperparameters, number, report)
