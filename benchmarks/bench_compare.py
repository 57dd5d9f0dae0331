"""``qgym compare`` of two many-seed runs: the rank-based probability of improvement against the pairwise
count it replaced, on the same two run folders, in the same process.

The probability's bootstrap interval resamples both runs 5,000 times; counting every pair of seeds
compares 5,000 x n_a x n_b pairs (10^10 at 1,000 seeds a side, and 500 x 10^6 booleans a batch), the
ranks of both together give the same count in O(n log n) a resample, to the bit.

    python benchmarks/bench_compare.py             # 1,000 seeds a side (the pairwise count takes minutes)
    python benchmarks/bench_compare.py --seeds 300
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from qgym.training import stats
from qgym.training.comparison import compare_runs
from qgym.training.seed_results import SeedResult, write_seed_files


def pairwise_improvement(a: np.ndarray, b: np.ndarray, axis: int = -1) -> Any:
    """The count every pair of seeds (qgym 0.2.0's ``stats._improvement``)."""
    x, y = np.moveaxis(a, axis, -1)[..., :, None], np.moveaxis(b, axis, -1)[..., None, :]
    return ((x > y) + 0.5 * (x == y)).mean(axis=(-2, -1))


def make_run(folder: Path, seeds: int, shift: float, rng: np.random.Generator) -> None:
    folder.mkdir()
    values = np.round(rng.normal(0.7 + shift, 0.1, size=seeds), 3)
    results = [
        SeedResult(seed, float(v), float(v), float(v) * 100, None, None, None)
        for seed, v in enumerate(values)
    ]
    config = {"algo": "qlearning", "env_id": "FrozenLake-v1", "seeds": list(range(seeds))}
    (folder / "config.yml").write_text(yaml.safe_dump(config))
    write_seed_files(folder, results, [])


def timed(first: Path, second: Path) -> tuple[float, float, list[str]]:
    tracemalloc.start()
    start = time.perf_counter()
    lines = compare_runs(first, second)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak / 2**20, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1000, help="seeds in each run (default 1000)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as folder:
        rng = np.random.default_rng(0)
        first, second = Path(folder) / "a", Path(folder) / "b"
        make_run(first, args.seeds, 0.0, rng)
        make_run(second, args.seeds, 0.02, rng)
        new_seconds, new_peak, new_lines = timed(first, second)
        ranked = stats._improvement
        stats._improvement = pairwise_improvement  # type: ignore[assignment]
        try:
            old_seconds, old_peak, old_lines = timed(first, second)
        finally:
            stats._improvement = ranked  # type: ignore[assignment]
    assert new_lines == old_lines, "the two counts must print the same comparison"
    print(f"qgym compare, two runs of {args.seeds:,} seeds (3 figures each, 5,000 bootstrap resamples)\n")
    print("| probability of improvement | wall time | peak traced memory |")
    print("|---|---:|---:|")
    print(f"| every pair of seeds (0.2.0) | {old_seconds:.1f} s | {old_peak:,.0f} MiB |")
    print(f"| ranks of both runs together | {new_seconds:.1f} s | {new_peak:,.0f} MiB |")
    print(f"\n{old_seconds / new_seconds:.1f}x faster, the same lines printed:\n")
    print("\n".join(new_lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
