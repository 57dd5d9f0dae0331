"""How long the ``qgym`` command takes to start, against the floor of its light imports, same run.

Commands that need no model (``--help``, ``list``, an argument error) must import neither torch nor
Stable-Baselines3. Each command runs as a fresh process (the installed ``qgym`` entry point, as a
person types it); the runs alternate between the commands and two baselines timed in the same loop:
``python -c "import qgym"`` (numpy and gymnasium: the floor a command cannot go under) and
``python -c "import stable_baselines3"`` (what every command paid before). Medians of ``--repeats``
(default 5); on an idle machine ``qgym --help`` and ``qgym list`` should take at most 0.5 s.

    python benchmarks/bench_startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

BAR = 0.5
"""Seconds ``qgym --help`` and ``qgym list`` may take on an idle machine (median)."""


def commands() -> dict[str, list[str]]:
    """What is timed, by the name the table shows."""
    qgym = shutil.which("qgym") or "qgym"
    return {
        "qgym --help": [qgym, "--help"],
        "qgym list": [qgym, "list"],
        "qgym train --algo nope (a typo)": [qgym, "train", "--algo", "nope", "--env", "FrozenLake-v1"],
        "python -c 'import qgym' (floor)": [sys.executable, "-c", "import qgym"],
        "python -c 'import stable_baselines3' (before)": [sys.executable, "-c", "import stable_baselines3"],
    }


def wall_time(command: list[str]) -> float:
    """Seconds from start to exit of ``command``, its output discarded."""
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each command (default 5)")
    args = parser.parse_args()
    timed = commands()
    for command in timed.values():  # warm the file cache once: the first start reads every .pyc
        wall_time(command)
    times: dict[str, list[float]] = {name: [] for name in timed}
    for _ in range(args.repeats):
        for name, command in timed.items():
            times[name].append(wall_time(command))
    floor = statistics.median(times["python -c 'import qgym' (floor)"])
    print(f"| command | median of {args.repeats} (s) | range (s) | ratio to `import qgym` |")
    print("|---|---:|---:|---:|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| `{name}` | {median:.3f} | {min(values):.3f}-{max(values):.3f} | {median / floor:.2f} |")
    slow = [name for name in ("qgym --help", "qgym list") if statistics.median(times[name]) > BAR]
    if slow:
        print(f"\nover the {BAR} s bar: {', '.join(slow)} (on a busy machine, trust the ratio)")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
