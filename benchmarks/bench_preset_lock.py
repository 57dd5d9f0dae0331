"""Two tuners writing preset blocks into one ``--out`` file: does each wait its turn?

``python benchmarks/bench_preset_lock.py [--blocks 150]`` starts two writer processes, each writing
``--blocks`` blocks with ``qgym.training.tuning.write_preset_block`` (the read, merge and rename under
``qgym.files.locked``), first with the lock qgym uses (a gate held until the lock is: writers take
turns), then, in the same run, with a plain ``filelock.FileLock`` around the same work (the baseline:
the lock qgym used before, which the writer that just released it can take again at once). Printed
per lock: blocks landed, the median and longest wait of one write, and how many blocks the slower
writer had landed when the faster one finished (a fair lock: nearly all of them).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=150, help="blocks each writer writes (default 150)")
    args = parser.parse_args()
    for fair in (True, False):
        with tempfile.TemporaryDirectory(prefix="qgym-bench-lock-") as folder:
            print(_measure(Path(folder), args.blocks, fair))


def _measure(folder: Path, blocks: int, fair: bool) -> str:
    out = folder / "tuned.yml"
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    waits = context.Queue()
    writers = [
        context.Process(target=_write, args=(str(out), name, blocks, fair, start, waits)) for name in "ab"
    ]
    for writer in writers:
        writer.start()
    times = [waits.get(timeout=3600) for _ in writers]
    for writer in writers:
        writer.join()
    order = list(yaml.safe_load(out.read_text()))
    first_done = min(order.index(f"{name}/{blocks - 1}") for name in "ab")
    slower = min(sum(key.startswith(name) for key in order[: first_done + 1]) for name in "ab")
    every = [wait for writer in times for wait in writer]
    name = "qgym.files.locked (turns)" if fair else "plain filelock (baseline)"
    return (
        f"{name}: {len(order)} of {2 * blocks} blocks landed; wait for one write median "
        f"{statistics.median(every):.3f} s, longest {max(every):.2f} s; when the first writer finished, "
        f"the other had landed {slower} of {blocks}"
    )


def _write(path: str, name: str, blocks: int, fair: bool, start: Any, waits: Any) -> None:
    from qgym.training import tuning

    if not fair:
        tuning.locked = _plain_lock  # type: ignore[assignment]  # the baseline, in this process only
    start.wait()
    times = []
    for block in range(blocks):
        began = time.perf_counter()
        tuning.write_preset_block(path, f"{name}/{block}", {"n_timesteps": block + 1, "learning_rate": 0.1})
        times.append(time.perf_counter() - began)
    waits.put(times)


@contextlib.contextmanager
def _plain_lock(target: Path, timeout: float = 600.0) -> Iterator[None]:
    import filelock

    with filelock.FileLock(str(target.with_name(f".{target.name}.plain.lock")), timeout=timeout):
        yield


if __name__ == "__main__":
    main()
